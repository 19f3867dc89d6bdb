"""Run folders: `<results>/runs/<stage>/<run-id>/manifest.json`, written atomically, resumable.

A run is created `running`, ends `done` or `failed` (with the error), and a `done` run is never written
again. `--resume RUN_ID` (or `latest`) reopens a run that did not finish, with the config stored in its
manifest, and the stage continues from the `state` it saved. MANIFEST_FIELDS documents every key.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aidbench import atomic, distributed, environment, layout
from aidbench.config import Config, from_dict
from aidbench.errors import UsageError, UserError

SCHEMA_VERSION = 1

MANIFEST_FIELDS: dict[str, str] = {
    "schema_version": "Version of this schema (an integer); bumped on any incompatible change.",
    "run_id": "Name of the run folder: <UTC time>-<label>-<random>, or the id the user chose.",
    "stage": "The stage that owns the run: data, train, sample, eval, compare, human, report, bench or reproduce.",
    "status": "running, done or failed. A done run is never written again.",
    "error": "null, or {type, message} of the last failure ('interrupted' for Ctrl-C or SIGTERM).",
    "config": "The fully resolved config (defaults, preset, file and overrides merged).",
    "config_sha256": "sha256 of the canonical JSON of `config` without `paths`: equal hashes, equal settings.",
    "seeds": "{run: the config's seed}; stages add the seeds they derive (e.g. per sample).",
    "git": "{commit, dirty} of the aidbench source that ran, or null when it is not a git checkout.",
    "packages": "Versions of the packages that can change a result (null when not installed).",
    "python": "{python, platform, machine}.",
    "device": "{kind, torch, cuda_build, cpu_threads, cpu: {model, vector_extensions, cores}[, gpus]} the stage ran on.",
    "command": "argv of the invocation that created the run.",
    "created_at": "UTC ISO-8601 time the run was created.",
    "started_at": "UTC time the latest attempt started.",
    "ended_at": "UTC time the latest attempt ended; null while running.",
    "attempts": "One entry per start or resume: {started_at, ended_at, status, pid, host, command}.",
    "state": "The stage's own progress record (finished sub-steps, last step, outputs), used to resume.",
}

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def stage_dir(results_dir: str | Path, stage: str) -> Path:
    return layout.runs_dir(results_dir, stage)


@dataclass
class Run:
    path: Path
    manifest: dict[str, Any]
    # False in the other processes of a multi-process run: only the main process writes the manifest.
    writer: bool = True

    @property
    def run_id(self) -> str:
        return self.manifest["run_id"]

    @property
    def status(self) -> str:
        return self.manifest["status"]

    @property
    def state(self) -> dict[str, Any]:
        return self.manifest["state"]

    @property
    def config(self) -> Config:
        return from_dict(self.manifest["config"], source=f"run {self.run_id}'s manifest")

    def save(self) -> None:
        if not self.writer:
            return
        if self.status == "done" and (self.path / "manifest.json").exists():
            stored = json.loads((self.path / "manifest.json").read_text())
            if stored.get("status") == "done":
                raise UserError(f"run {self.run_id} is finished and is never written again.")
        atomic.write_json(self.path / "manifest.json", self.manifest)

    def update_state(self, **values: Any) -> None:
        """Record progress (atomically), so an interrupted stage can resume from here."""
        if self.status != "running":
            raise UserError(f"run {self.run_id} is {self.status}; only a running run records progress.")
        self.state.update(values)
        self.save()

    def _end(self, status: str, error: dict[str, str] | None) -> None:
        ended = _now()
        self.manifest.update(status=status, error=error, ended_at=ended)
        self.manifest["attempts"][-1].update(status=status, ended_at=ended)
        if self.writer:
            atomic.write_json(self.path / "manifest.json", self.manifest)
            _unlock(self.path)


# Run folders this process holds, by path: an attempt holds its folder's lock until it ends (or the process
# dies: the kernel drops the lock with the process, so a SIGKILL never leaves a folder locked).
_LOCKS: dict[Path, int] = {}


def _lock(path: Path) -> None:
    import fcntl

    key = path.resolve()
    if key in _LOCKS:
        return
    fd = os.open(path / ".lock", os.O_RDWR | os.O_CREAT, 0o664)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise UserError(
            f"run {path.name} is in use by another aidbench process; wait for it or stop it first."
        ) from None
    _LOCKS[key] = fd


def _unlock(path: Path) -> None:
    fd = _LOCKS.pop(path.resolve(), None)
    if fd is not None:
        os.close(fd)  # closing the descriptor releases the lock


def _claim(path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir()
    except FileExistsError:
        raise UserError(
            f"run folder {path} already exists; a run is never overwritten: choose another --run-id, "
            f"or continue it with --resume {path.name}."
        ) from None
    except OSError as err:
        raise UserError(
            f"cannot create the run folder {path}: {err.strerror or err}; "
            "set a writable results folder with --set paths.results=DIR or AIDBENCH_RESULTS."
        ) from None


def _attempt(argv: list[str]) -> dict[str, Any]:
    return {
        "started_at": _now(),
        "ended_at": None,
        "status": "running",
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": argv,
    }


def start_run(
    stage: str,
    config: Config,
    *,
    label: str | None = None,
    run_id: str | None = None,
    argv: list[str] | None = None,
    device: dict[str, Any] | None = None,
) -> Run:
    """Create a new run folder and its manifest (status running)."""
    argv = list(sys.argv if argv is None else argv)
    if run_id is None:
        label = re.sub(r"[^A-Za-z0-9._-]+", "-", label or config.preset or stage).strip("-") or stage
        run_id = f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{label}-{secrets.token_hex(2)}"
    elif not _RUN_ID.match(run_id):
        raise UsageError(
            f"run id '{run_id}' is not allowed: use letters, digits, '.', '_' and '-' (no '/', no '..')."
        )
    path = stage_dir(config.paths.results, stage) / run_id
    _claim(path)
    _lock(path)
    now = _now()
    manifest: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "stage": stage,
        "status": "running",
        "error": None,
        "config": config.to_dict(),
        "config_sha256": config.sha256(),
        "seeds": {"run": config.seed},
        "git": environment.git_state(),
        "packages": environment.package_versions(),
        "python": environment.python_platform(),
        "device": device if device is not None else environment.device(config.device),
        "command": argv,
        "created_at": now,
        "started_at": now,
        "ended_at": None,
        "attempts": [_attempt(argv)],
        "state": {},
    }
    run = Run(path, manifest)
    try:
        run.save()
    except BaseException:
        _unlock(path)
        if not (path / "manifest.json").exists():
            (path / ".lock").unlink(missing_ok=True)
            path.rmdir()
        raise
    return run


def load_run(results_dir: str | Path, stage: str, run_id: str) -> Run:
    root = stage_dir(results_dir, stage)
    if run_id == "latest":
        # A run that is part of another (one seed of a several-seed reproduce) resumes through that one.
        unfinished = [
            r for r in list_runs(results_dir, stage) if r.status != "done" and not r.state.get("part_of")
        ]
        if not unfinished:
            raise UserError(
                f"no unfinished {stage} run under {root} to resume; start a new one without --resume."
            )
        return unfinished[-1]
    if not _RUN_ID.match(run_id):
        raise UsageError(f"run id '{run_id}' is not a valid run id (letters, digits, '.', '_', '-').")
    path = root / run_id
    manifest_path = path / "manifest.json"
    if not manifest_path.is_file():
        known = ", ".join(r.run_id for r in list_runs(results_dir, stage)[-5:]) or "none"
        raise UserError(f"no {stage} run '{run_id}' under {root} (recent runs: {known}).")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise UserError(
            f"the manifest {manifest_path} cannot be read ({err}); the run cannot be resumed."
        ) from None
    if not _well_formed(manifest):
        raise UserError(f"the manifest {manifest_path} is not a run manifest; the run cannot be resumed.")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise UserError(
            f"{manifest_path} has manifest schema {manifest.get('schema_version')!r}; "
            f"this aidbench reads schema {SCHEMA_VERSION}."
        )
    return Run(path, manifest)


def _well_formed(manifest: Any) -> bool:
    """A manifest with what every reader relies on; anything else (`{}`, a list, an edit) is skipped."""
    return (
        isinstance(manifest, dict)
        and isinstance(manifest.get("run_id"), str)
        and manifest.get("status") in ("running", "done", "failed")
        and isinstance(manifest.get("config"), dict)
        and isinstance(manifest.get("attempts"), list)
        and bool(manifest["attempts"])
        and isinstance(manifest.get("state"), dict)
    )


def list_runs(results_dir: str | Path, stage: str) -> list[Run]:
    """Readable runs of a stage, oldest first (unreadable folders are skipped)."""
    runs = []
    root = stage_dir(results_dir, stage)
    for manifest_path in sorted(root.glob("*/manifest.json")) if root.is_dir() else []:
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if _well_formed(manifest):
            runs.append(Run(manifest_path.parent, manifest))
    return sorted(runs, key=lambda r: (r.manifest.get("created_at") or "", r.run_id))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def resume_run(results_dir: str | Path, stage: str, run_id: str, argv: list[str] | None = None) -> Run:
    """Reopen a run that did not finish; a finished run comes back unchanged (callers then do nothing)."""
    run = load_run(results_dir, stage, run_id)
    if run.status == "done":
        return run
    _lock(run.path)  # one attempt at a time: a second resume of the same run stops here
    run = load_run(results_dir, stage, run.run_id)  # as it is now that no other attempt can write it
    if run.status == "done":
        _unlock(run.path)
        return run
    last = run.manifest["attempts"][-1]
    if (
        run.status == "running"
        and last.get("host") == socket.gethostname()
        and last.get("pid") != os.getpid()
        and _alive(int(last.get("pid", -1)))
    ):
        raise UserError(
            f"run {run.run_id} is still running (pid {last['pid']}); wait for it or stop it first."
        )
    run.config  # noqa: B018 -- re-validate the stored config before any work starts
    if run.status == "running":  # the previous attempt died without a word (e.g. SIGKILL)
        last.update(status="failed", ended_at=last.get("ended_at") or _now())
    argv = list(sys.argv if argv is None else argv)
    run.manifest["attempts"].append(_attempt(argv))
    run.manifest.update(status="running", error=None, started_at=_now(), ended_at=None)
    run.save()
    return run


@contextmanager
def running(run: Run) -> Iterator[Run]:
    """Mark the run done when the block finishes, failed (with the error) when it raises."""
    try:
        yield run
    except (KeyboardInterrupt, SystemExit) as err:
        code = getattr(err, "code", None)
        if isinstance(err, SystemExit) and code in (0, None):
            run._end("done", None)
        else:
            run._end("failed", {"type": "interrupted", "message": "stopped by Ctrl-C or a signal"})
        raise
    except BaseException as err:
        run._end("failed", {"type": type(err).__name__, "message": str(err)})
        raise
    else:
        distributed.barrier()  # done only when every process has finished its share
        run._end("done", None)


def execute(run: Run, work: Callable[[], Any], key: str = "result") -> Any:
    """Do `work()` inside the run (done when it returns, failed when it raises) and keep what it returned
    in the run's state under `key`."""
    with running(run):
        result = work()
        run.update_state(**{key: result})
    return result


def created_by_main(create: Callable[[], Run], results: str | Path, stage: str, cpu: bool = False) -> Run:
    """One run for every process of `accelerate launch`: the main process runs create() → a Run of `stage`
    under `results`; the others load that run, read-only. A single process just calls create().

    An error in create() reaches every process, so none waits forever for a run that never came.
    """
    if distributed.world_size() == 1:
        return create()
    from accelerate.utils import broadcast_object_list

    shared_state = distributed.state(cpu)
    message: list[Any] = [None]
    run = error = None
    if shared_state.is_main_process:
        try:
            run = create()
            message = [("ok", run.run_id)]
        except BaseException as err:
            error = err
            message = [("error", f"{type(err).__name__}: {err}")]
    broadcast_object_list(message)
    if error is not None:
        raise error
    kind, value = message[0]
    if kind == "error":
        raise UserError(f"the main process could not start the run: {value}")
    if run is None:
        run = load_run(results, stage, value)
        run.writer = False
    return run


def open_run(
    stage: str,
    config: Config,
    *,
    resume: str | None = None,
    label: str | None = None,
    run_id: str | None = None,
    state: dict[str, Any] | None = None,
    cpu: bool | None = None,
) -> Run:
    """A new run of `stage` (with `state` recorded at once), or with `resume` the unfinished run RUN_ID
    (or 'latest') under config.paths.results; one run for all processes (`created_by_main`, which joins
    the process group on the CPU when `cpu`, by default when config.device is cpu)."""

    def create() -> Run:
        if resume:
            return resume_run(config.paths.results, stage, resume)
        run = start_run(stage, config, label=label, run_id=run_id)
        if state:
            run.update_state(**state)
        return run

    cpu = config.device == "cpu" if cpu is None else cpu
    return created_by_main(create, config.paths.results, stage, cpu=cpu)
