"""`aidbench sample` on a tiny trained AID: per-clip folders, seeds from clip ids, resume, then eval --run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from aidbench.data.video import read_video
from aidbench.stages.sample import sample_seed
from tests import settings

TINY = settings.args(*settings.TINY)


@pytest.mark.slow
def test_train_sample_eval_end_to_end(cli, tmp_path):
    trained = cli(
        "train",
        "aid",
        *TINY,
        "--set",
        "train.max_steps=1",
        "--set",
        "train.batch_size_per_device=1",
        "--run-id",
        "t",
    )
    assert trained.code == 0, trained.err
    checkpoint = tmp_path / "results/runs/train/t/output"
    args = ["sample", "--checkpoint", str(checkpoint), *TINY, "--set", "sample.num_inference_steps=2"]
    first = cli(*args, "--run-id", "s")
    assert first.code == 0, first.err
    samples = tmp_path / "results/runs/sample/s/samples"
    clips = sorted(p.name for p in samples.iterdir())
    assert clips == [f"synthtvp-move1-test-00000-{v}" for v in range(4)]
    meta = json.loads((samples / clips[0] / "meta.json").read_text())
    assert (
        meta["seed"] == sample_seed(0, clips[0]) and meta["num_ref_frames"] == 1 and len(meta["states"]) == 4
    )
    video = read_video(samples / clips[0])
    assert video.shape == (4, 16, 16, 3)
    assert (tmp_path / f"results/runs/sample/s/previews/{clips[0]}.mp4").is_file()

    again = cli(*args, "--run-id", "s2")  # another run, same seeds: the same samples
    for clip in clips:
        np.testing.assert_array_equal(
            read_video(samples / clip), read_video(samples.parent.parent / "s2/samples" / clip)
        )

    # an interrupted sampling run resumes and only generates what is missing
    manifest_path = tmp_path / "results/runs/sample/s2/manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["status"] = "failed"
    manifest_path.write_text(json.dumps(manifest))
    (samples.parent.parent / "s2/samples" / clips[1] / "meta.json").unlink()
    partial = cli("eval", "--run", "s2", "--metric", "psnr@synthtvp")  # an unfinished run is not scored
    assert partial.code == 1 and "sample run s2 is failed" in partial.err and "--allow-partial" in partial.err
    resumed = cli("sample", "--resume", "s2")
    assert resumed.code == 0 and '"generated": 1' in resumed.out
    assert again.code == 0

    scored = cli(
        "eval",
        "--run",
        "s",
        "--metric",
        "counterfactual-accuracy@synthtvp",
        "--json",
        "--set",
        "eval.bootstrap_samples=10",
    )
    assert scored.code == 0, scored.err
    record = json.loads(scored.out)
    assert record["n_fake"] == 4
    assert record["bootstrap_samples"] == 10  # --set counts on top of the sample run's own config


def test_sampling_mistakes_are_one_sentence(cli, tmp_path):
    assert "give --checkpoint" in cli("sample", *TINY).err
    assert "does not exist" in cli("sample", "--checkpoint", str(tmp_path / "nope"), *TINY).err
    (tmp_path / "empty").mkdir()
    result = cli("sample", "--checkpoint", str(tmp_path / "empty"), *TINY)
    assert result.code == 1 and "no config.json" in result.err
