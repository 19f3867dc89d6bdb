"""`accelerate launch` with 2 CPU processes (gloo): one shared run folder, and the same samples and scores
as one process."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys

import numpy as np
import pytest

from aidbench.data.video import read_video
from tests import settings

TINY = settings.args("data.max_clips=4", "data.resolution=16", "data.num_frames=10", *settings.FEW_STEPS)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(*args: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable, "-m", "accelerate.commands.accelerate_cli", "launch",
        "--multi_gpu", "--num_processes", "2", "--num_machines", "1",  # no GPU here: gloo on the CPU
        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(_free_port()),
        "-m", "aidbench", *args,
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)


def _records(path):
    return {r["metric"]: r for r in map(json.loads, path.read_text().splitlines())}


@pytest.mark.slow
def test_two_processes_sample_and_score_as_one(cli, tmp_path, i3d_weights):
    runs = tmp_path / "results/runs"
    one = cli("sample", "--model", "svd-zeroshot", *TINY, "--run-id", "one")
    assert one.code == 0, one.err
    two = launch("sample", "--model", "svd-zeroshot", *TINY, "--run-id", "two")
    assert two.returncode == 0, two.stderr[-3000:]
    assert two.stdout.count("run two →") == 2  # two processes, each told the same run
    assert sorted(p.name for p in (runs / "sample").iterdir()) == ["one", "two"]  # one shared run folder
    assert json.loads((runs / "sample/two/manifest.json").read_text())["status"] == "done"
    clips = sorted(p.name for p in (runs / "sample/one/samples").iterdir())
    assert len(clips) == 4
    for clip in clips:  # each clip's seed comes from its id: sharding changes no sample
        np.testing.assert_array_equal(
            read_video(runs / "sample/one/samples" / clip), read_video(runs / "sample/two/samples" / clip)
        )

    scoring = ["--metric", "fvd@seer", "--metric", "psnr@synthtvp", "--weights", f"i3d={i3d_weights}"]
    scoring += ["--set", "eval.bootstrap_samples=20"]
    single = cli("eval", "--run", "one", *scoring, "--json")
    assert single.code == 0, single.err
    shutil.rmtree(tmp_path / "results/cache")  # the 2 processes extract every feature again, in shards
    double = launch("eval", "--run", "two", *scoring)
    assert double.returncode == 0, double.stderr[-3000:]
    evals = sorted((runs / "eval").iterdir())
    assert len(evals) == 2  # one run folder per evaluation, however many processes
    first, second = (_records(e / "records.jsonl") for e in evals)
    for metric in ("fvd@seer", "psnr@synthtvp"):
        for key in ("value", "ci_low", "ci_high"):
            assert first[metric][key] == second[metric][key], (metric, key)


@pytest.mark.slow
def test_two_processes_train_into_one_run(tmp_path):
    trained = launch(
        "train", "aid", *TINY, "--set", "train.max_steps=2", "--set", "train.batch_size_per_device=1"
    )
    assert trained.returncode == 0, trained.stderr[-3000:]
    runs = list((tmp_path / "results/runs/train").iterdir())
    assert len(runs) == 1 and trained.stdout.count(f"run {runs[0].name} →") == 2
    manifest = json.loads((runs[0] / "manifest.json").read_text())
    assert manifest["status"] == "done" and manifest["state"]["step"] == 2
    assert (runs[0] / "output/trainable.safetensors").is_file()
    assert [p.name for p in (runs[0] / "checkpoints").iterdir()] == ["checkpoint-2"]
