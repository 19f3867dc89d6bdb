from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from aidbench import atomic, reproduce, runs
from aidbench.config import resolve
from aidbench.errors import UsageError, UserError

CPU = {"kind": "cpu", "torch": "test", "cuda_build": None, "cpu_threads": 1}


def _start(**kwargs):
    cfg = resolve(preset="smoke", overrides=kwargs.pop("overrides", []))
    return runs.start_run("train", cfg, argv=["aidbench", "test"], device=CPU, **kwargs)


def _manifest(run):
    return json.loads((run.path / "manifest.json").read_text())


def test_manifest_holds_exactly_the_documented_fields(tmp_path):
    run = _start()
    manifest = _manifest(run)
    assert set(manifest) == set(runs.MANIFEST_FIELDS)
    assert manifest["schema_version"] == runs.SCHEMA_VERSION
    assert manifest["status"] == "running" and manifest["error"] is None and manifest["ended_at"] is None
    assert manifest["config"]["preset"] == "smoke"
    assert manifest["config_sha256"] == resolve(preset="smoke").sha256()
    assert manifest["seeds"] == {"run": 0}
    assert manifest["command"] == ["aidbench", "test"]
    assert manifest["packages"]["torch"]  # installed here, so a version string
    assert run.path == tmp_path / "results" / "runs" / "train" / run.run_id
    assert "-smoke-" in run.run_id


def test_device_is_recorded_when_not_given():
    cfg = resolve(preset="smoke")
    run = runs.start_run("eval", cfg, argv=[])
    assert _manifest(run)["device"]["kind"] == "cpu"


def test_done_and_failed_runs(tmp_path):
    run = _start()
    with runs.running(run):
        run.update_state(step=3)
    manifest = _manifest(run)
    assert manifest["status"] == "done" and manifest["ended_at"] and manifest["state"] == {"step": 3}
    assert manifest["attempts"][0]["status"] == "done"

    failing = _start()
    with pytest.raises(ZeroDivisionError), runs.running(failing):
        1 / 0  # noqa: B018
    manifest = _manifest(failing)
    assert manifest["status"] == "failed"
    assert manifest["error"] == {"type": "ZeroDivisionError", "message": "division by zero"}


def test_interrupt_marks_the_run_failed_as_interrupted():
    run = _start()
    with pytest.raises(KeyboardInterrupt), runs.running(run):
        raise KeyboardInterrupt
    assert _manifest(run)["error"]["type"] == "interrupted"


def test_a_finished_run_is_never_overwritten():
    run = _start(run_id="mine")
    with runs.running(run):
        pass
    before = (run.path / "manifest.json").read_bytes()
    with pytest.raises(UserError, match="already exists; a run is never overwritten"):
        _start(run_id="mine")
    with pytest.raises(UserError, match="is finished and is never written again"):
        run.save()
    with pytest.raises(UserError, match="only a running run records progress"):
        run.update_state(step=9)
    assert (run.path / "manifest.json").read_bytes() == before
    again = runs.resume_run(run.path.parents[2], "train", "mine")
    assert again.status == "done" and (run.path / "manifest.json").read_bytes() == before


@pytest.mark.parametrize("bad", ["../escape", "a/b", "..", ""])
def test_run_ids_cannot_escape_the_stage_folder(bad):
    with pytest.raises(UsageError, match="not allowed"):
        _start(run_id=bad)


def test_resume_continues_a_failed_run_with_its_stored_config(tmp_path):
    run = _start(overrides=["train.max_steps=5"])
    with pytest.raises(RuntimeError), runs.running(run):
        run.update_state(step=2)
        raise RuntimeError("disk full")
    resumed = runs.resume_run(tmp_path / "results", "train", run.run_id, argv=["again"])
    assert resumed.status == "running"
    assert resumed.state == {"step": 2}
    assert resumed.config.train.max_steps == 5
    assert [a["status"] for a in resumed.manifest["attempts"]] == ["failed", "running"]
    assert resumed.manifest["attempts"][1]["command"] == ["again"]
    with runs.running(resumed):
        resumed.update_state(step=5)
    assert _manifest(resumed)["status"] == "done"
    assert runs.load_run(tmp_path / "results", "train", run.run_id).state == {"step": 5}


def test_resume_latest_picks_the_newest_unfinished_run(tmp_path):
    first = _start(run_id="a-first")
    with runs.running(first):
        pass
    second = _start(run_id="b-second")
    second.manifest["attempts"][-1]["pid"] = 2**22 + 12345  # a process that no longer exists
    second.save()
    assert runs.resume_run(tmp_path / "results", "train", "latest").run_id == "b-second"


@pytest.mark.parametrize("broken", ["{}", "[]", '{"run_id": "x", "status": "failed"}', "null"])
def test_a_broken_manifest_breaks_no_other_run(tmp_path, broken):
    second = _start(run_id="b-second")
    second.manifest["attempts"][-1]["pid"] = 2**22 + 12345
    second.save()
    other = tmp_path / "results/runs/train/c-broken"
    other.mkdir()
    (other / "manifest.json").write_text(broken)
    assert [r.run_id for r in runs.list_runs(tmp_path / "results", "train")] == ["b-second"]
    assert runs.resume_run(tmp_path / "results", "train", "latest").run_id == "b-second"
    with pytest.raises(UserError, match="is not a run manifest"):
        runs.resume_run(tmp_path / "results", "train", "c-broken")


def test_resume_refuses_a_run_that_is_still_running(tmp_path):
    run = _start(run_id="busy")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        run.manifest["attempts"][-1]["pid"] = other.pid
        run.save()
        with pytest.raises(UserError, match=f"still running \\(pid {other.pid}\\)"):
            runs.resume_run(tmp_path / "results", "train", "busy")
    finally:
        other.kill()
        other.wait()
    resumed = runs.resume_run(tmp_path / "results", "train", "busy")  # its process is gone now
    assert [a["status"] for a in resumed.manifest["attempts"]] == ["failed", "running"]


def test_a_run_folder_is_locked_for_the_whole_attempt(tmp_path):
    """Two resumes of one run at once: the second is refused while the first attempt holds the folder,
    whatever the manifest says; the lock goes with the attempt (and with its process, even on SIGKILL)."""
    run = _start(run_id="twice")
    with pytest.raises(RuntimeError), runs.running(run):
        raise RuntimeError("first attempt fails")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR); "
            "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(30)",
            str(run.path / ".lock"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UserError, match="run twice is in use by another aidbench process"):
            runs.resume_run(tmp_path / "results", "train", "twice")
        assert _manifest(run)["status"] == "failed" and len(_manifest(run)["attempts"]) == 1
    finally:
        holder.kill()
        holder.wait()
    resumed = runs.resume_run(tmp_path / "results", "train", "twice")
    assert [a["status"] for a in resumed.manifest["attempts"]] == ["failed", "running"]


def test_resume_errors_are_clear(tmp_path):
    with pytest.raises(UserError, match="no train run 'ghost'"):
        runs.resume_run(tmp_path / "results", "train", "ghost")
    with pytest.raises(UserError, match="no unfinished train run"):
        runs.resume_run(tmp_path / "results", "train", "latest")
    run = _start(run_id="torn")
    (run.path / "manifest.json").write_text("{ half")
    with pytest.raises(UserError, match="cannot be read"):
        runs.resume_run(tmp_path / "results", "train", "torn")


def test_an_unwritable_results_folder_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(UserError, match="cannot create the run folder .* --set paths.results=DIR"):
        _start(overrides=[f"paths.results={blocker}/results"])


def test_atomic_write_keeps_the_old_file_when_the_write_fails(tmp_path, monkeypatch):
    target = tmp_path / "m.json"
    atomic.write_json(target, {"version": 1})

    def broken_replace(src, dst):
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="power cut"):
        atomic.write_json(target, {"version": 2})
    assert json.loads(target.read_text()) == {"version": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]  # no temporary file left


@pytest.mark.slow
def test_reproduce_resumes_after_the_last_finished_stage(tmp_path):
    calls: list[str] = []

    def ok(name):
        def stage(config, run):
            calls.append(name)
            return {"out": name}

        return stage

    def flaky(config, run):
        calls.append("flaky")
        if calls.count("flaky") == 1:
            raise KeyboardInterrupt
        return {}

    stages = (
        reproduce.Stage("one", ok("one")),
        reproduce.Stage("later", None, issue=99),
        reproduce.Stage("flaky", flaky),
        reproduce.Stage("three", ok("three")),
    )
    cfg = resolve(preset="smoke")
    run = runs.start_run("reproduce", cfg, argv=[], device=CPU)
    with pytest.raises(KeyboardInterrupt), runs.running(run):
        reproduce.reproduce(cfg, run, stages)
    assert _manifest(run)["state"]["stages"] == {"one": {"out": "one"}}
    assert set(_manifest(run)["state"]["seconds"]) == {"one"}
    resumed = runs.resume_run(tmp_path / "results", "reproduce", run.run_id)
    with runs.running(resumed):
        outcomes = reproduce.reproduce(resumed.config, resumed, stages)
    assert calls == ["one", "flaky", "flaky", "three"]
    assert [o.status for o in outcomes] == [
        "done (earlier attempt)",
        "not built yet (issue #99)",
        "done",
        "done",
    ]
    assert set(_manifest(run)["state"]["stages"]) == {"one", "flaky", "three"}


def test_results_are_readable_by_the_group(tmp_path):
    """Atomic writes go through mkstemp and mkdtemp (0600, 0700): the files and sample folders they rename
    into place carry the modes open() and mkdir() would give under the umask, so a results folder shared on
    a cluster stays readable by the group."""
    import numpy as np

    from aidbench.data.video import write_png_frames

    umask = os.umask(0o022)
    os.umask(umask)
    path = atomic.write_text(tmp_path / "a.json", "{}")
    folder = write_png_frames(tmp_path / "clip", np.zeros((2, 4, 4, 3), np.uint8))
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert folder.stat().st_mode & 0o777 == 0o777 & ~umask
