"""AID training on tiny components: a checkpointed, interrupted and resumed run ends where an
uninterrupted one does; checkpoints of another config are refused."""

from __future__ import annotations

import pytest
from safetensors.torch import load_file

from aidbench import runs
from aidbench.config import resolve
from aidbench.errors import UserError
from aidbench.model.components import build
from aidbench.model.system import train
from aidbench.stages.train import checkpoint_weights, load_trainable
from tests.training import train_in_run

SETTINGS = [
    "train.max_steps=4",
    "train.batch_size_per_device=2",
    "train.checkpoint_every=2",
    "data.max_clips=8",
    "data.train_clips=null",  # the smoke preset's own training-split cap would beat max_clips
    "data.resolution=16",
    "data.num_frames=4",
    "train.checkpoints_total_limit=1",
]


def _train(run_id, stop_at=None, resume=False, extra=()):
    cfg = resolve(preset="smoke", overrides=[*SETTINGS, *extra])
    return train_in_run(
        cfg, run_id, lambda c, run, on_step: train(c, run, on_step=on_step, parts=build(c)), stop_at, resume
    )


# Warm-up and the weights' moving average are part of the state a resume restores.
@pytest.mark.parametrize(
    "extra",
    [("train.lr_warmup_steps=0", "train.ema_decay=0"), ("train.lr_warmup_steps=3", "train.ema_decay=0.9")],
    ids=["plain", "ema"],
)
def test_an_interrupted_run_resumes_to_the_same_weights(tmp_path, extra):
    whole, result = _train("whole", extra=extra)
    assert len(whole.state["losses"]) == 4 and result["trainable_parameters"] > 0
    assert [p.name for p in (whole.path / "checkpoints").iterdir()] == ["checkpoint-4"]  # the cap keeps one
    with pytest.raises(KeyboardInterrupt):
        _train("split", stop_at=3, extra=extra)  # dies after step 3: the last checkpoint is step 2
    stopped = runs.load_run(tmp_path / "results", "train", "split")
    assert stopped.status == "failed" and stopped.state["step"] == 2
    resumed, _ = _train("split", resume=True, extra=extra)
    last = load_file(whole.path / "checkpoints/checkpoint-4/trainable.safetensors")
    output = load_file(whole.path / "output/trainable.safetensors")
    averaged = any(not (last[k] == output[k]).all() for k in last)
    assert averaged == (extra[1] != "train.ema_decay=0")  # the output holds the moving average, if any
    assert resumed.state["losses"][:2] == whole.state["losses"][:2]
    final_whole = load_file(whole.path / "output" / "trainable.safetensors")
    final_split = load_file(resumed.path / "output" / "trainable.safetensors")
    assert final_whole.keys() == final_split.keys()
    for key in final_whole:
        assert (final_whole[key] == final_split[key]).all(), key
    assert resumed.state["losses"] == whole.state["losses"]


def test_a_crash_between_checkpoint_and_manifest_resumes_from_the_newest_checkpoint(tmp_path, monkeypatch):
    """Killed after checkpoint-4 was written but before the manifest named it (the cap is one checkpoint):
    the resume finds checkpoint-4 on disk, and ends where an uninterrupted run ends."""
    whole, _ = _train("whole")
    original = runs.Run.update_state

    def dies_at_step_4(self, **values):
        if values.get("step") == 4:
            raise KeyboardInterrupt
        original(self, **values)

    monkeypatch.setattr(runs.Run, "update_state", dies_at_step_4)
    with pytest.raises(KeyboardInterrupt):
        _train("torn")
    monkeypatch.setattr(runs.Run, "update_state", original)
    stopped = runs.load_run(tmp_path / "results", "train", "torn")
    assert stopped.state["checkpoint"].endswith("checkpoint-2")  # the manifest lags one behind the disk
    assert sorted(p.name for p in (stopped.path / "checkpoints").iterdir()) == [
        "checkpoint-2",
        "checkpoint-4",
    ]
    resumed, _ = _train("torn", resume=True)
    assert resumed.state["losses"] == whole.state["losses"]
    final_whole = load_file(whole.path / "output" / "trainable.safetensors")
    final_torn = load_file(resumed.path / "output" / "trainable.safetensors")
    for key in final_whole:
        assert (final_whole[key] == final_torn[key]).all(), key


def test_checkpoints_come_with_seeded_validation_previews(tmp_path):
    from aidbench.data.video import read_video

    cfg = resolve(
        preset="smoke",
        overrides=[
            *SETTINGS[:-1],
            "train.max_steps=2",
            "train.validation_clips=2",
            "sample.num_inference_steps=2",
        ],
    )
    run = runs.start_run("train", cfg, run_id="previews", argv=[], device={"kind": "cpu"})
    with runs.running(run):
        train(cfg, run, parts=build(cfg))
    previews = sorted((run.path / "validation" / "step-2").glob("*.mp4"))
    assert [p.stem for p in previews] == ["synthtvp-move1-test-00000-0", "synthtvp-move1-test-00000-1"]
    assert read_video(previews[0]).shape[0] == 8  # 4 true frames, then 4 generated


def test_a_checkpoint_of_another_config_is_refused(tmp_path):
    run, _ = _train("source")
    other = resolve(preset="smoke", overrides=[*SETTINGS, "model.adapters.spatial=false"])
    parts = build(other)
    with pytest.raises(UserError, match="does not fit this model and config"):
        load_trainable(parts.denoiser, run.path / "output" / "trainable.safetensors")


def test_missing_weights_and_data_fail_before_a_run_starts(cli, tmp_path):
    result = cli("train", "aid", "--preset", "paper-ssv2")
    assert result.code == 1 and "weights 'svd' (stable-video-diffusion-img2vid) not found" in result.err
    tiny = cli(
        "train", "aid", "--preset", "smoke", "--set", "data.dataset=ssv2", "--set", f"data.root={tmp_path}/x"
    )
    assert tiny.code == 1 and "ssv2 root" in tiny.err
    (tmp_path / "svd").mkdir()
    explicit = cli("train", "aid", "--preset", "paper-ssv2", "--weights", f"svd={tmp_path / 'svd'}")
    assert explicit.code == 1 and "expected a folder holding model_index.json" in explicit.err
    assert not (tmp_path / "results/runs/train").exists()


@pytest.mark.slow
def test_a_tiny_aid_overfits_four_synthtvp_clips():
    """Fixed batch, fixed noise levels and noise: the trainable parts (adapters, DQFormer, cross-attention)
    must be able to fit it. Full-width adapters (bottleneck_ratio 1) so the tiny widths leave them room."""
    import torch

    from aidbench.data.open import open_dataset
    from aidbench.model.objective import AIDObjective, ConditionDropout, StateSource
    from aidbench.stages.train import step_generator

    cfg = resolve(
        preset="smoke",
        overrides=[
            "data.max_clips=4",
            "data.train_clips=null",
            "data.resolution=16",
            "model.adapters.bottleneck_ratio=1.0",
            "model.mcondition.width=64",
            "model.size=tiny",  # the tiny layout in SVD's latent space, not the smoke preset's
            "model.latent_space=vae",
        ],
    )
    parts = build(cfg)
    clips = list(open_dataset(cfg, "train"))
    objective = AIDObjective(parts, StateSource(cfg, None), ConditionDropout(0, 0, 0))
    trainable = [p for p in parts.denoiser.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-2, weight_decay=0.0)
    with torch.no_grad():
        before = objective(clips, step_generator(7, 0)).item()
    for _ in range(150):
        loss = objective(clips, step_generator(7, 0))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    with torch.no_grad():
        after = objective(clips, step_generator(7, 0)).item()
    assert after * 10 <= before, (before, after)
    assert all(
        p.grad is None for p in parts.denoiser.unet.parameters() if not p.requires_grad
    )  # SVD stays frozen


def test_gradient_checkpointing_changes_memory_not_results():
    import torch

    from aidbench.data.open import open_dataset
    from aidbench.model.objective import AIDObjective, ConditionDropout, StateSource
    from aidbench.stages.train import step_generator

    cfg = resolve(
        preset="smoke",
        overrides=["data.max_clips=2", "data.train_clips=null", "data.resolution=16", "data.num_frames=4"],
    )
    grads = []
    for checkpointing in (False, True):
        parts = build(cfg)
        if checkpointing:
            parts.denoiser.unet.enable_gradient_checkpointing()
        parts.denoiser.train()
        objective = AIDObjective(parts, StateSource(cfg, None), ConditionDropout(0, 0, 0))
        objective(list(open_dataset(cfg, "train")), step_generator(1, 0)).backward()
        grads.append(torch.cat([p.grad.flatten() for p in parts.denoiser.parameters() if p.grad is not None]))
    torch.testing.assert_close(grads[0], grads[1])


def test_train_resume_latest_from_the_command_line(cli, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        _train("cut", stop_at=3)
    resumed = cli("train", "aid", "--resume", "latest")
    assert resumed.code == 0, resumed.err
    manifest = runs.load_run(tmp_path / "results", "train", "cut")
    assert manifest.status == "done" and manifest.state["step"] == 4
    assert [a["status"] for a in manifest.manifest["attempts"]] == ["failed", "done"]
    again = cli("train", "aid", "--resume", "cut")
    assert again.code == 0 and "already finished" in again.out


def test_a_checkpoint_folder_without_weights_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="holds no trainable.safetensors; pass a train run's output"):
        checkpoint_weights(tmp_path)
    (tmp_path / "trainable.safetensors").write_bytes(b"")
    assert checkpoint_weights(tmp_path) == tmp_path / "trainable.safetensors"


@pytest.mark.parametrize("size", [(16, 16), (40, 56)])
def test_the_first_frame_embedding_is_the_svd_pipelines(size):
    """Training's batched first-frame embedding equals diffusers' SVD pipeline's `_encode_image` on the
    same frames given as images (resize to 224², CLIP normalisation), up and down in size."""
    import numpy as np
    import torch
    from PIL import Image

    from aidbench.data.clips import to_model
    from aidbench.model.components import tiny_svd
    from aidbench.model.objective import first_frame_embedding

    svd = tiny_svd(0)
    frames = np.random.default_rng(0).integers(0, 256, (3, *size, 3), dtype=np.uint8)
    ours = first_frame_embedding(svd, to_model(frames))
    pipeline = torch.cat([svd._encode_image(Image.fromarray(f), "cpu", 1, False) for f in frames])
    assert ours.shape == pipeline.shape == (3, 1, svd.image_encoder.config.projection_dim)
    torch.testing.assert_close(ours, pipeline, atol=1e-5, rtol=1e-4)


def test_a_full_disk_is_one_sentence_and_a_failed_run(cli, tmp_path, monkeypatch):
    import errno

    from aidbench.stages import train as training

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "results/runs/train/full"))

    monkeypatch.setattr(training, "_save_checkpoint", full)
    args = ["--preset", "smoke", *(x for s in SETTINGS for x in ("--set", s))]
    result = cli("train", "aid", *args, "--run-id", "full")
    assert result.code == 1 and "Traceback" not in result.err
    assert "error: No space left on device" in result.err and "free some space" in result.err
    run = runs.load_run(tmp_path / "results", "train", "full")
    assert run.status == "failed" and "No space left on device" in run.manifest["error"]["message"]


def test_a_missing_state_cache_is_refused_before_a_run_starts(cli, tmp_path):
    args = ["--preset", "smoke", *(x for s in SETTINGS for x in ("--set", s))]
    result = cli("train", "aid", *args, "--set", "model.mcondition.states_source=cache")
    assert result.code == 1 and "no state cache at" in result.err and "aidbench data states" in result.err
    assert not (tmp_path / "results/runs/train").exists()  # nothing started, nothing left behind
