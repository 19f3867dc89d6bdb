"""`aidbench eval` end to end on tiny inputs: folders, a sampling run, records, caching, weights, errors."""

from __future__ import annotations

import http.server
import json
import shutil
import threading

import numpy as np
import pytest
import torch

from aidbench import runs, weights
from aidbench.config import resolve
from aidbench.data.export import export_synthtvp
from aidbench.data.video import write_png_frames
from aidbench.errors import UserError
from aidbench.metrics import fvd
from aidbench.metrics.cache import FeatureCache
from aidbench.metrics.protocols import CARD_FIELDS, FID_CLEAN, Context, protocols_markdown
from aidbench.metrics.videoset import load_folder
from tests import settings

RECORD_KEYS = {"metric", "value", "ci_low", "ci_high", "n_real", "n_fake", "protocol"}


def _clips(folder, n, seed, t=10, size=32, shift=0):
    rng = np.random.default_rng(seed)
    for i in range(n):
        coarse = rng.integers(0, 256, size=(t, size // 8, size // 8, 3))
        frames = np.clip(coarse.repeat(8, 1).repeat(8, 2) + shift, 0, 255).astype(np.uint8)
        write_png_frames(folder / f"clip{i:03d}", frames)
    return folder


def test_synthtvp_metrics_from_folders(cli, tmp_path):
    real = tmp_path / "real"
    export_synthtvp(real, n=8, seed=4, resolution=32, num_frames=8, splits=("test",))
    fake = tmp_path / "fake"
    shutil.copytree(real / "rawframes", fake)
    (fake / "broken.mp4").write_bytes(b"not a video")  # skipped, and said so in every record
    result = cli(
        "eval",
        "--real",
        str(real),
        "--fake",
        str(fake),
        "--json",
        "--set",
        "eval.bootstrap_samples=50",
        "--metric",
        "instruction-accuracy@synthtvp",
        "--metric",
        "counterfactual-accuracy@synthtvp",
        "--metric",
        "psnr@synthtvp",
    )
    assert result.code == 0, result.err
    records = [json.loads(line) for line in result.out.splitlines()]
    assert [r["metric"] for r in records] == [
        "instruction-accuracy@synthtvp",
        "counterfactual-accuracy@synthtvp",
        "psnr@synthtvp",
    ]
    assert all(set(r) >= RECORD_KEYS for r in records)
    assert records[0]["value"] == 1.0 and records[1]["value"] == 1.0 and records[2]["value"] == 100.0
    assert records[0]["n_fake"] == 8 and records[0]["protocol"]["seed"] == 4
    assert all("1 generated videos skipped as unreadable: broken" in r["warnings"] for r in records)
    (stored,) = (tmp_path / "results/runs/eval").glob("*/records.jsonl")
    assert [json.loads(x)["metric"] for x in stored.read_text().splitlines()] == [
        r["metric"] for r in records
    ]


def test_fvd_from_folders_with_local_weights_and_the_cache(cli, tmp_path, i3d_weights):
    real, fake, other = (
        _clips(tmp_path / "real", 6, 1),
        _clips(tmp_path / "fake", 6, 2),
        _clips(tmp_path / "other", 6, 3, shift=100),
    )
    args = [
        "--metric",
        "fvd@seer",
        "--metric",
        "kvd@seer",
        "--weights",
        f"i3d={i3d_weights}",
        "--json",
        "--set",
        "eval.bootstrap_samples=10",
    ]
    near = cli("eval", "--real", str(real), "--fake", str(fake), *args)
    assert near.code == 0, near.err
    fvd_near, kvd_near = (json.loads(line) for line in near.out.splitlines())
    assert fvd_near["protocol"]["resize"] == "short-side-crop" and fvd_near["protocol"]["ddof"] == 1
    assert fvd_near["weights_sha256"]["i3d"] == weights.sha256_file(i3d_weights)
    assert fvd_near["ci_low"] <= fvd_near["value"] <= fvd_near["ci_high"] or fvd_near["ci_low"] > 0
    assert any("rank-deficient" in w for w in fvd_near["warnings"])
    far = cli("eval", "--real", str(real), "--fake", str(other), *args)
    fvd_far = json.loads(far.out.splitlines()[0])
    assert fvd_far["value"] > 1.5 * fvd_near["value"] > 0
    listed = cli("stats", "ls", "--json")
    (entry,) = json.loads(listed.out)
    assert entry["clips"] == 18 and entry["family"] == "i3d-logits"  # real features computed once
    bare = ["--metric", "fvd", "--metric", "kvd", *args[4:]]  # the words users type: the paper's protocols
    again = cli("eval", "--real", str(real), "--fake", str(fake), *bare)
    first = json.loads(again.out.splitlines()[0])
    assert first["metric"] == "fvd@seer" and first["value"] == fvd_near["value"]
    assert "fvd is fvd@seer, the paper's protocol" in again.err and "kvd is kvd@seer" in again.err
    removed = cli("stats", "rm", entry["key"][:6])
    assert removed.code == 0 and cli("stats", "ls").out.strip() == "the feature cache is empty."


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no-weights", "weights 'i3d' (i3d_pretrained_400.pt) not found; looked in"),
        ("one-video", "fvd@seer needs at least 2 real and 2 generated clips; got 1 real and 1 generated"),
        ("lengths", "clip lengths differ"),
        ("empty", "holds no videos"),
    ],
)
def test_eval_errors_are_one_sentence(cli, tmp_path, i3d_weights, setup, message):
    real = _clips(tmp_path / "real", 3, 1)
    fake = tmp_path / "fake"
    if setup == "one-video":
        _clips(fake, 1, 2)
        real = _clips(tmp_path / "real1", 1, 1)
    elif setup == "lengths":
        _clips(fake, 3, 2, t=12)
    elif setup == "empty":
        fake.mkdir()
    else:
        _clips(fake, 3, 2)
    extra = [] if setup == "no-weights" else ["--weights", f"i3d={i3d_weights}"]
    result = cli(
        "eval",
        "--real",
        str(real),
        "--fake",
        str(fake),
        "--metric",
        "fvd@seer",
        *extra,
        "--set",
        "eval.bootstrap_samples=0",
    )
    assert result.code == 1, result
    assert message in result.err and "Traceback" not in result.err
    if setup == "no-weights":
        assert "aidbench weights fetch i3d" in result.err


@pytest.mark.parametrize(
    ("metric", "clips", "frames", "message"),
    [
        ("kvd@seer", 1, 10, "kvd@seer needs at least 2 real and 2 generated clips"),
        ("fvd@styleganv", 3, 12, "scores 16 frames; the clips have 12"),
        ("fvd@seer", 3, 8, "I3D needs clips of at least 9 frames"),
        ("fvd@styleganv", 1, 16, "needs at least 2 real"),  # population covariance would let N = 1 through
    ],
)
def test_clips_a_metric_cannot_score_are_one_sentence(
    cli, tmp_path, i3d_weights, metric, clips, frames, message
):
    real = _clips(tmp_path / "real", clips, 1, t=frames)
    fake = _clips(tmp_path / "fake", clips, 2, t=frames)
    args = ["--metric", metric, "--weights", f"i3d={i3d_weights}", *settings.args(*settings.NO_INTERVALS)[2:]]
    result = cli("eval", "--real", str(real), "--fake", str(fake), *args)
    assert result.code == 1 and message in result.err and "Traceback" not in result.err, result


def test_fvd_scores_clips_of_several_sizes_each_resized_on_its_own(cli, tmp_path, i3d_weights):
    real = _clips(tmp_path / "real", 3, 1)
    fake = _clips(tmp_path / "fake", 2, 2)
    _clips(tmp_path / "other", 1, 3, size=48)
    shutil.move(tmp_path / "other" / "clip000", fake / "clip002")
    args = [
        "--metric",
        "fvd@seer",
        "--weights",
        f"i3d={i3d_weights}",
        *settings.args(*settings.NO_INTERVALS)[2:],
    ]
    result = cli("eval", "--real", str(real), "--fake", str(fake), "--json", *args)
    assert result.code == 0, result.err
    assert json.loads(result.out)["n_fake"] == 3


def test_eval_of_a_sampling_run_reads_the_real_clips_from_its_dataset(cli, tmp_path):
    from aidbench.data import synthtvp

    cfg = resolve(preset="smoke", overrides=["data.max_clips=8"])
    run = runs.start_run("sample", cfg, run_id="s1", argv=[], device={"kind": "cpu"})
    for index in range(8):
        ep = synthtvp.episode(cfg.seed, "test", index, cfg.data.synthtvp_task)
        folder = write_png_frames(run.path / "samples" / ep.clip_id, synthtvp.render(ep, 8, 32))
        (folder / "meta.json").write_text(json.dumps({"instruction": ep.instruction, "seed": index}))
    with runs.running(run):
        pass
    result = cli("eval", "--run", "s1", "--metric", "instruction-accuracy@synthtvp", "--json")
    assert result.code == 0, result.err
    record = json.loads(result.out)
    assert record["value"] == 1.0 and record["n_real"] == 8
    card = record["card"]
    assert card["reading"] == (
        "real: aidbench's chain: frames in natural name order, short videos skipped, resized once "
        "(data.chain=seer reads as Seer's loader); generated: the sampling run's frame_*.png"
    )
    assert card["quantisation"] == "rounded to uint8 (data.chain: aidbench)"


def test_per_frame_fid_matches_clean_fid_on_the_same_folders(tmp_path):
    from cleanfid import fid as cleanfid

    torch.manual_seed(0)
    extractor = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 5, stride=4), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten()
    ).eval()

    def model(x):
        return extractor(x / 255.0)

    real, fake = _clips(tmp_path / "real", 5, 1, t=6), _clips(tmp_path / "fake", 5, 2, t=6, shift=40)
    # clean-fid scores folders of images: lay every frame out flat
    for source in (real, fake):
        flat = tmp_path / f"flat_{source.name}"
        flat.mkdir()
        for clip in sorted(source.iterdir()):
            for frame in sorted(clip.iterdir()):
                shutil.copy(frame, flat / f"{clip.name}_{frame.name}")
    expected = cleanfid.compute_fid(
        str(tmp_path / "flat_real"),
        str(tmp_path / "flat_fake"),
        mode="clean",
        custom_feat_extractor=model,
        device=torch.device("cpu"),
        num_workers=0,
        verbose=False,
    )
    ctx = Context(models={"inception": model}, bootstrap_samples=0, jackknife_groups=0, noise_floor_splits=0)
    record = FID_CLEAN.compute(load_folder(real, "real"), load_folder(fake, "fake"), ctx)
    assert record.value == pytest.approx(expected, rel=1e-6)
    assert record.protocol["frames"] == "all" and record.n_real == 5


def test_clipsim_is_100_times_the_mean_frame_text_cosine():
    import open_clip

    from aidbench.metrics.clipsim import ARCHITECTURE, CLIPSimilarity

    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms(ARCHITECTURE, pretrained=None)
    scorer = CLIPSimilarity(None, model=model, preprocess=preprocess)
    frames = np.random.default_rng(0).integers(0, 256, size=(3, 40, 40, 3), dtype=np.uint8)
    score = scorer.video_score(frames, "Putting jar on a surface")
    from PIL import Image

    with torch.inference_mode():
        image = model.encode_image(torch.stack([preprocess(Image.fromarray(f)) for f in frames]))
        text = model.encode_text(open_clip.get_tokenizer(ARCHITECTURE)(["Putting jar on a surface"]))
        cosine = torch.nn.functional.cosine_similarity(image, text)
    assert score == pytest.approx(100 * float(cosine.mean()), rel=1e-5)
    # torchmetrics' CLIPScore is max(100 · cos, 0) per pair: the same wherever the cosine is positive.
    assert (
        float(torch.clamp(100 * cosine, min=0).mean()) == pytest.approx(score, rel=1e-5) or (cosine < 0).any()
    )


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_weights_fetch_downloads_from_a_local_server(cli, tmp_path, monkeypatch):
    served = tmp_path / "served"
    served.mkdir()
    (served / "i3d_pretrained_400.pt").write_bytes(b"weights!")
    handler = lambda *a, **k: _Quiet(*a, directory=str(served), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/i3d_pretrained_400.pt"
    try:
        fetched = cli("weights", "fetch", "i3d", "--url", url)
        assert fetched.code == 0, fetched.err
        assert (tmp_path / "weights/i3d_pretrained_400.pt").read_bytes() == b"weights!"
        monkeypatch.setitem(
            weights.KNOWN, "i3d", weights.Weight("i3d", "i3d_pretrained_400.pt", url, "fvd", sha256="0" * 64)
        )
        assert weights.pin_path(
            tmp_path / "weights/i3d_pretrained_400.pt"
        ).is_file()  # what fetch got, pinned
        for name in ("i3d_pretrained_400.pt", "i3d_pretrained_400.pt.sha256"):
            (tmp_path / "weights" / name).unlink()
        bad = cli("weights", "fetch", "i3d")
        assert bad.code == 1 and "not the recorded" in bad.err
        assert not list((tmp_path / "weights").iterdir())  # nothing half-written kept
    finally:
        server.shutdown()
        server.server_close()
    refused = cli("weights", "fetch", "i3d", "--url", url)
    assert refused.code == 1 and "cannot download weights 'i3d'" in refused.err
    with pytest.raises(UserError, match="folder of files"):
        weights.fetch("svd", tmp_path / "weights")
    for not_https in ("http://example.org/i3d.pt", "file:///etc/passwd", "notaurl"):
        result = cli("weights", "fetch", "i3d", "--url", not_https)
        assert result.code == 1 and "not an https address" in result.err and "Traceback" not in result.err


def test_weights_fetch_keeps_nothing_when_the_download_is_cut_short(cli, tmp_path):
    """The server promises more bytes than it sends (a dropped connection): nothing is kept, even where no
    sha256 is recorded to catch it."""

    class Short(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Length", "3000")
            self.end_headers()
            self.wfile.write(b"x" * 1500)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Short)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/i3d_pretrained_400.pt"
        result = cli("weights", "fetch", "inception", "--url", url)
    finally:
        server.shutdown()
        server.server_close()
    assert result.code == 1 and "kept nothing" in result.err
    assert not (tmp_path / "weights").exists() or not list((tmp_path / "weights").iterdir())


def test_feature_cache_resumes_clip_by_clip(tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    videos = [np.full((2, 4, 4, 3), i, np.uint8) for i in range(5)]
    calls = []

    def compute(batch):
        calls.append(len(batch))
        return np.stack([[float(v[0, 0, 0, 0])] for v in batch])

    first = cache.features({"k": 1}, videos[:3], compute, batch_size=2)
    again = cache.features({"k": 1}, videos, compute, batch_size=2)
    assert calls == [2, 1, 2]  # the three cached clips were not recomputed
    assert again[:, 0].tolist() == [0, 1, 2, 3, 4] and first.shape == (3, 1)
    other = cache.features({"k": 2}, videos[:1], compute)
    assert calls[-1] == 1 and other.shape == (1, 1)


def test_a_cut_off_or_foreign_cache_file_is_computed_again(tmp_path):
    """A file cut off mid-write, and a whole file of clip 1's features copied over clip 2's, are both
    recomputed: neither crashes the evaluation nor changes its numbers."""
    from aidbench.metrics.cache import clip_key, extractor_key

    cache = FeatureCache(tmp_path / "cache")
    videos = [np.full((2, 4, 4, 3), i, np.uint8) for i in range(3)]

    def compute(batch):
        return np.stack([[float(v[0, 0, 0, 0]), 1.0] for v in batch])

    expected = cache.features({"k": 1}, videos, compute)
    folder = tmp_path / "cache" / extractor_key({"k": 1})
    first, second, third = (folder / f"{clip_key(v)}.npz" for v in videos)
    third.write_bytes(third.read_bytes()[:40])
    second.write_bytes(first.read_bytes())
    again = cache.features({"k": 1}, videos, compute)
    np.testing.assert_array_equal(again, expected)


def test_fvd_protocol_records_say_everything():
    protocol = fvd.STYLEGANV.to_dict()
    assert protocol == {
        "name": "styleganv",
        "resize": "squash",
        "ddof": 0,
        "include_reference": True,
        "num_frames": 16,
        "expected_clips": 2048,
        "detector": "i3d",
        "features": "I3D Kinetics-400 logits (400-d), averaged over time",
    }


def test_per_frame_metrics_can_leave_out_the_reference_frames(tmp_path):
    real, fake = _clips(tmp_path / "real", 4, 1, t=6), _clips(tmp_path / "fake", 4, 2, t=6)
    seen = []

    def model(x):
        seen.append(x.shape[0])
        return x.mean(dim=(2, 3))

    for frames, expected in (("all", 6 * 4), ("predicted", 5 * 4)):
        seen.clear()
        ctx = Context(
            models={"inception": model},
            bootstrap_samples=0,
            jackknife_groups=0,
            noise_floor_splits=0,
            frames=frames,
            num_ref_frames=1,
        )
        record = FID_CLEAN.compute(load_folder(real, "real"), load_folder(fake, "fake"), ctx)
        assert sum(seen) == 2 * expected and record.protocol["frames"] == frames


@pytest.mark.parametrize("key", ["../../runs", "../../../outside", "", "*", "abc/..", "ABC"])
def test_stats_rm_takes_only_cache_keys(cli, tmp_path, key):
    """Nothing but a cache entry is ever removed: paths, globs and the empty prefix are refused."""
    cache = tmp_path / "results/cache/features"
    entry = cache / ("ab" * 12)
    entry.mkdir(parents=True)
    (entry / "meta.json").write_text("{}")
    runs = tmp_path / "results/runs"
    runs.mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    result = cli("stats", "rm", key)
    assert result.code == 1 and "no cache key" in result.err, result
    assert entry.is_dir() and runs.is_dir() and outside.is_dir()
    assert cli("stats", "rm", "ab").code == 0 and not entry.exists()
    assert "the feature cache is empty" in cli("stats", "rm", "--all").err


@pytest.fixture(scope="module")
def random_i3d():
    from aidbench.metrics.i3d import InceptionI3d

    torch.manual_seed(0)
    return InceptionI3d().eval()


class _FixedCLIP:
    weights_sha256 = None

    def video_score(self, frames, text):
        return 20.0


@pytest.mark.parametrize("case", ["none", "one", "constant"])
@pytest.mark.parametrize(
    "metric",
    [
        "fvd@seer",
        "kvd@seer",
        "kvd@textbook",
        "fvd@styleganv",
        "fid@clean-frames",
        "kid@clean-frames",
        "clipsim@vitb32",
    ],
)
@pytest.mark.parametrize("resamples", [0, 20])
def test_small_samples_give_a_number_or_a_sentence(metric, case, resamples, random_i3d):
    """No clip, one clip, constant clips: every protocol either scores or says why in a sentence, never with
    numpy's or scipy's error and never NaN (an interval over one clip has no spread to resample)."""
    from aidbench import registry
    from aidbench.metrics.videoset import VideoSet

    n = {"none": 0, "one": 1, "constant": 2}[case]
    rng = np.random.default_rng(0)

    def videos(seed):
        if case == "constant":
            return [np.full((16, 32, 32, 3), 90 + seed, np.uint8) for _ in range(n)]
        return [
            np.random.default_rng(seed).integers(0, 256, (16, 32, 32, 3), dtype=np.uint8) for _ in range(n)
        ]

    names = [f"c{i}" for i in range(n)]
    real = VideoSet(None, names, videos(1), {k: "a jar" for k in names})
    fake = VideoSet(None, names, videos(2), {k: "a jar" for k in names})
    models = {
        "i3d": random_i3d,
        "inception": lambda x: x.float().mean(dim=(2, 3)).repeat(1, 16) + float(rng.normal()),
        "clip": _FixedCLIP(),
    }
    ctx = Context(models=models, bootstrap_samples=resamples)
    try:
        record = registry.load("metric", metric).compute(real, fake, ctx)
    except UserError as err:
        assert case in ("none", "one") and metric != "clipsim@vitb32" or case == "none", err
        assert str(err).startswith(metric) and "needs at least" in str(err)
        return
    assert case != "none"
    assert all(np.isfinite(v) for v in (record.value, record.ci_low, record.ci_high)), record
    assert list(record.card) == ["reading", *CARD_FIELDS, "clips", "detector sha256"]
    assert record.card["clips"] == f"{n} real, {n} generated"


def test_the_readme_table_of_protocols_is_generated_from_their_definitions():
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    begin = readme.index("<!-- protocols: generated")
    table = readme[readme.index("\n", begin) + 1 : readme.index("<!-- protocols: end -->")]
    assert table == protocols_markdown(), "README's protocol table is stale: aidbench protocols --markdown"
    assert "| `fvd@styleganv` with `--weights i3d-torchscript=…` | the first 16 |" in table
