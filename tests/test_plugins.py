"""Your own system: a predictor named as module:callable, the example plugin installed as a package and
found by its entry point, a diffusers pipeline folder; each sampled through the shared loop and scored."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from aidbench.data.open import open_dataset
from aidbench.data.video import read_video
from aidbench.stages.sample import sample_seed
from tests import settings
from tests.conftest import REPO

TINY = settings.args(*settings.TINY, *settings.FEW_STEPS)
SCORE = ["--metric", "instruction-accuracy@synthtvp", "--metric", "psnr@synthtvp", *TINY]


def _module(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text(textwrap.dedent(body))


def _run_state(tmp_path: Path, run_id: str) -> dict:
    return json.loads((tmp_path / f"results/runs/sample/{run_id}/manifest.json").read_text())["state"]


def test_a_predictor_named_by_module_path_samples_through_the_shared_loop(cli, tmp_path, monkeypatch):
    _module(
        tmp_path,
        "my_tvp",
        """
        import numpy as np

        seen = []

        def predict(context):
            # an outside system sees neither the truth nor the dataset's annotations
            assert context.truth is None and not context.meta
            seen.append((context.clip_id, context.seed, context.num_frames, context.instruction))
            grey = np.full((context.num_frames - context.num_ref_frames, *context.size, 3), 128, np.uint8)
            return grey
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    sampled = cli("sample", "--system", "my_tvp:predict", "--run-id", "mine", *TINY)
    assert sampled.code == 0, sampled.err
    import my_tvp

    clips = {c.clip_id: c for c in open_dataset(_config(), "test")}
    assert sorted(c for c, *_ in my_tvp.seen) == sorted(clips)
    for clip_id, seed, frames, instruction in my_tvp.seen:
        assert seed == sample_seed(0, clip_id) and frames == 4 and instruction == clips[clip_id].instruction
    folder = tmp_path / "results/runs/sample/mine/samples" / sorted(clips)[0]
    video = read_video(folder)
    assert np.array_equal(video[0], clips[folder.name].frames[0]) and (video[1:] == 128).all()
    assert json.loads((folder / "meta.json").read_text())["system"] == "my_tvp:predict"
    assert _run_state(tmp_path, "mine")["result"]["provenance"]["source"]["target"] == "my_tvp:predict"

    scored = cli("eval", "--run", "mine", *SCORE)
    assert scored.code == 0, scored.err


def _config():
    from aidbench.config import resolve

    return resolve(preset="smoke", overrides=[*settings.TINY])


def test_a_predictor_that_returns_the_wrong_frames_is_told_so_in_one_sentence(cli, tmp_path, monkeypatch):
    _module(
        tmp_path,
        "bad_tvp",
        """
        import numpy as np

        def floats(context):
            return np.zeros((context.num_frames, *context.size, 3), np.float32)

        def short(context):
            return np.zeros((2, *context.size, 3), np.uint8)
        """,
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    floats = cli("sample", "--system", "bad_tvp:floats", *TINY)
    assert floats.code == 1 and "returned float32 (4, 16, 16, 3)" in floats.err
    assert "uint8 frames shaped (T, H, W, 3) = (4, 16, 16, 3) or (3, 16, 16, 3)" in floats.err
    short = cli("sample", "--system", "bad_tvp:short", *TINY)
    assert short.code == 1 and "shaped (2, 16, 16, 3) for clip synthtvp-move1-test-00000-0" in short.err
    missing = cli("sample", "--system", "bad_tvp:nothing", *TINY)
    assert missing.code == 1 and "bad_tvp has no attribute nothing" in missing.err
    unknown = cli("sample", "--system", "no-such-system", *TINY)
    assert (
        unknown.code == 2 and "package.module:callable" in unknown.err and "diffusers:FOLDER" in unknown.err
    )


@pytest.mark.slow
def test_the_example_plugin_installs_samples_is_scored_and_leads_the_board(cli, tmp_path, monkeypatch):
    site = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target",
         str(site), str(REPO / "examples" / "tvp-plugin")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-2000:]
    monkeypatch.syspath_prepend(str(site))
    listed = cli("ls", "systems")
    assert listed.code == 0 and "shift-by-words" in listed.out
    for system, run_id in (("shift-by-words", "shift"), ("copy-last-reference", "copy")):
        extra = ["--set", "sample.system_options.distance=0.25"] if run_id == "shift" else []
        sampled = cli("sample", "--system", system, "--run-id", run_id, *TINY, *extra)
        assert sampled.code == 0, sampled.err
        scored = cli("eval", "--run", run_id, *SCORE)
        assert scored.code == 0, scored.err
    provenance = _run_state(tmp_path, "shift")["result"]["provenance"]
    assert provenance["source"]["package"] == "tvp-shift" and provenance["source"]["version"] == "0.1.0"
    assert provenance["distance"] == 0.25  # the option reached the plugin's class
    compared = cli("compare", "shift", "copy", *SCORE)
    assert compared.code == 0, compared.err
    board = cli("leaderboard", "--dataset", "synthtvp", "--reference", "copy-last-reference")
    assert board.code == 0, board.err
    csv = (tmp_path / "results/reports/leaderboard/synthtvp/leaderboard.csv").read_text()
    assert "shift-by-words" in csv and "copy-last-reference" in csv


@pytest.fixture(scope="module")
def pipeline_folder(tmp_path_factory) -> Path:
    """A tiny random Stable Video Diffusion pipeline saved as the hub publishes SVD: full and fp16 files."""
    from aidbench.model.components import tiny_svd

    folder = tmp_path_factory.mktemp("pipelines") / "tiny-svd"
    pipe = tiny_svd(0, "tiny", "vae")
    pipe.save_pretrained(folder)
    pipe.to(dtype=__import__("torch").float16).save_pretrained(folder, variant="fp16")
    return folder


def test_a_diffusers_pipeline_folder_is_a_system(cli, tmp_path, pipeline_folder):
    from aidbench.baselines.diffusers_pipeline import folder_sha256

    assert (pipeline_folder / "unet/diffusion_pytorch_model.fp16.safetensors").is_file()
    assert (pipeline_folder / "model_index.json").is_file()
    options = [
        "--set",
        "sample.system_options.variant=fp16",
        "--set",
        "sample.system_options.decode_chunk_size=4",
    ]
    sampled = cli("sample", "--system", f"diffusers:{pipeline_folder}", "--run-id", "svd", *TINY, *options)
    assert sampled.code == 0, sampled.err
    samples = tmp_path / "results/runs/sample/svd/samples"
    clips = {c.clip_id: c for c in open_dataset(_config(), "test")}
    assert sorted(p.name for p in samples.iterdir()) == sorted(clips)
    for folder in samples.iterdir():
        video = read_video(folder)
        assert video.shape == (4, 16, 16, 3) and np.array_equal(video[0], clips[folder.name].frames[0])
        assert json.loads((folder / "meta.json").read_text())["system"] == "diffusers:tiny-svd"
    provenance = _run_state(tmp_path, "svd")["result"]["provenance"]
    assert provenance["pipeline"] == "StableVideoDiffusionPipeline"
    assert provenance["weights_sha256"] == folder_sha256(pipeline_folder)

    nothing = cli("sample", "--system", f"diffusers:{tmp_path / 'nothing'}", *TINY)
    assert nothing.code == 1 and "no model_index.json" in nothing.err
    wrong = cli(
        "sample", "--system", f"diffusers:{pipeline_folder}", *TINY, "--set", "sample.system_options.colour=1"
    )
    assert wrong.code == 1 and "StableVideoDiffusionPipeline takes no colour" in wrong.err


def test_the_instruction_is_the_prompt_where_the_pipeline_takes_one():
    """The call the adapter makes, on a pipeline that records it: image, prompt, size and T − K + 1 frames."""
    import inspect

    from aidbench.baselines.diffusers_pipeline import DiffusersPipeline
    from aidbench.predictor import Context

    calls = []

    class Recording:
        def __call__(
            self, image, prompt, num_frames, height, width, generator, output_type, num_inference_steps
        ):
            calls.append(locals())
            frames = np.linspace(0, 1, num_frames)[:, None, None, None] * np.ones(
                (num_frames, height, width, 3)
            )
            return type("Output", (), {"frames": [frames]})()

    adapter = object.__new__(DiffusersPipeline)
    adapter.pipeline, adapter.device, adapter.steps, adapter.call_options = Recording(), "cpu", 3, {}
    adapter.takes = set(inspect.signature(adapter.pipeline.__call__).parameters)
    reference = np.zeros((2, 8, 12, 3), np.uint8)
    reference[1] = 200
    context = Context("c", reference, "Moving the red square left", num_frames=6, seed=5)
    frames = adapter(context)
    call = calls[0]
    assert call["prompt"] == "Moving the red square left" and call["num_frames"] == 5
    assert (call["height"], call["width"], call["num_inference_steps"]) == (8, 12, 3)
    assert np.asarray(call["image"]).max() == 200  # the last reference frame
    assert frames.shape == (4, 8, 12, 3) and frames.dtype == np.uint8 and frames[-1].min() == 255
