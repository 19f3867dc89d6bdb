"""The registered metrics, each a protocol: how it reads frames, which features, which distance. Each turns a
real and a generated VideoSet into one Record with its interval.

A Record carries the value, its interval over clips (and how it was made), both sample counts, the full
protocol and the sha256 of the detector weights, so a number never travels without what defines it. A
metric's `measure` stops one step earlier, at a `Measured`: the value with what recomputes it on any subset
of clips (set-level metrics) or each clip's score (per-clip metrics), which intervals and paired
comparisons of two systems are made from.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aidbench import registry
from aidbench.data import synthtvp
from aidbench.errors import UserError
from aidbench.metrics import fvd, horizon, intervals, kernel, lpips, precision, synthetic
from aidbench.metrics.cache import FeatureCache
from aidbench.metrics.clipsim import ARCHITECTURE, CLIPSimilarity
from aidbench.metrics.fid import InceptionFeatures, frame_features
from aidbench.metrics.frechet import RankDeficientWarning, fit, frechet_distance
from aidbench.metrics.videomae import VideoMAEFeatures
from aidbench.metrics.videoset import VideoSet


@dataclass
class Record:
    metric: str
    value: float
    ci_low: float
    ci_high: float
    confidence: float
    bootstrap_samples: int
    n_real: int
    n_fake: int
    protocol: dict[str, Any]
    weights_sha256: dict[str, str | None]
    warnings: list[str] = field(default_factory=list)
    # What was computed, step by step (CARD_FIELDS, then the clip counts and the detector's sha256).
    card: dict[str, str] = field(default_factory=dict)
    # How ci_low and ci_high were made (percentile bootstrap or grouped jackknife), or why there are none.
    interval: str = ""
    # Set-level metrics: the metric between two random halves of the real clips, the level a generated set
    # as close as real data would score: {value (mean over splits), low, high (their range), splits, clips}.
    noise_floor: dict[str, Any] | None = None
    # Per-horizon metrics: [{horizon, value, ci_low, ci_high}] for each predicted frame in turn.
    curve: list[dict[str, float]] | None = None
    # K samples per clip: {k, mean_of_k, best_of_k} for per-clip metrics, {k, pooled} for set-level ones (all
    # K·N samples as the generated set), each {value, ci_low, ci_high}.
    samples: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self))


@dataclass
class Context:
    weights: dict[str, Path] = field(default_factory=dict)
    device: str = "cpu"
    bootstrap_samples: int = 1000
    # Groups of clips per side for set-level metrics' jackknife intervals; 0: no interval.
    jackknife_groups: int = 20
    # Random halvings of the real clips for set-level metrics' noise floor; 0: none.
    noise_floor_splits: int = 10
    confidence: float = 0.95
    seed: int = 0
    num_ref_frames: int = 1
    # Frames per-frame metrics score: "all", or "predicted" (the reference frames left out).
    frames: str = "all"
    cache: FeatureCache | None = None
    # Prebuilt detectors by weight name (tests pass random-weight networks of the real architectures).
    models: dict[str, Any] = field(default_factory=dict)
    # synthtvp's generator seed when the real clips come from the dataset rather than an export.
    synthtvp_seed: int | None = None
    # A fixed-length protocol's frames from each real clip: "first", or "random" (StyleGAN-V's offsets).
    real_offset: str = "first"
    # Any-length video protocols also on every prefix of the clips (a curve over the horizon).
    prefixes: bool = False


# A protocol card's steps, in the order a clip goes through them.
CARD_FIELDS = (
    "frames",
    "reference frames",
    "resize",
    "quantisation",
    "features",
    "covariance",
    "distance",
    "arithmetic",
)


def card(
    steps: dict[str, str], real: VideoSet, fake: VideoSet, weights_sha256: dict[str, str | None]
) -> dict[str, str]:
    """A record's card: how each side's clips were read and quantised, the metric's steps, both clip counts
    and the detector's weights (its sha256, or "random" for a network built in memory)."""

    def both(what: str) -> str:
        a, b = getattr(real, what), getattr(fake, what)
        return a if a == b else f"real: {a}; generated: {b}"

    detector = ", ".join(
        f"{name} {sha or 'unhashed (built in memory)'}" for name, sha in weights_sha256.items()
    )
    return {
        "reading": both("reading"),
        **{key: both("quantisation") if key == "quantisation" else steps[key] for key in CARD_FIELDS},
        "clips": f"{len(real)} real, {len(fake)} generated",
        "detector sha256": detector or "none (no learned detector)",
    }


def _features(ctx: Context, description: dict, videos: list[np.ndarray], compute, label: str) -> np.ndarray:
    if ctx.cache is None:
        return np.concatenate([compute(videos[i : i + 8]) for i in range(0, len(videos), 8)])
    return ctx.cache.features(description, videos, compute, label=label)


@dataclass
class Measured:
    """A metric's value on two sets of clips, with what recomputes it: `statistic(real_idx, fake_idx)` on any
    subset of clips for a set-level metric, or `scores` (clip or group id → score, the value their mean) for
    a per-clip one."""

    name: str
    value: float
    sets: tuple[VideoSet, VideoSet]
    protocol: dict[str, Any]
    weights_sha256: dict[str, str | None]
    steps: dict[str, str]
    notes: list[str] = field(default_factory=list)
    statistic: Callable[[np.ndarray, np.ndarray], float] | None = None
    scores: dict[str, float] | None = None
    # Set-level metrics: the statistic between two subsets of the real clips (for the noise floor).
    real_pair: Callable[[np.ndarray, np.ndarray], float] | None = None
    # Per-horizon metrics: (clips, predicted frames) scores, rows in the order of `scores`.
    per_frame: np.ndarray | None = None
    # Set-level metrics on growing prefixes: [{horizon, frames, value, ci_low, ci_high}].
    curve: list[dict[str, float]] | None = None


def set_level(name: str, statistic, sets: tuple[VideoSet, VideoSet], point=None, **about) -> Measured:
    """A set-level metric's Measured: point() (default: the statistic on every clip), rank warnings kept."""
    every = (np.arange(len(sets[0])), np.arange(len(sets[1])))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RankDeficientWarning)
        value = point() if point is not None else statistic(*every)
    measured = Measured(name, float(value), sets, statistic=statistic, **about)
    measured.notes.extend(sorted({str(w.message) for w in caught}))
    return measured


def per_clip(name: str, scores: dict[str, float], sets, protocol, weights_sha256, steps) -> Measured:
    """A per-clip metric's Measured: the mean of the scores."""
    value = float(np.mean(list(scores.values())))
    return Measured(
        name, value, sets, protocol, weights_sha256, steps, scores={k: float(v) for k, v in scores.items()}
    )


def noise_floor(measured: Measured, splits: int, seed: int) -> dict[str, Any] | None:
    """The metric between two random halves of the real clips, over `splits` random halvings."""
    n = len(measured.sets[0])
    if measured.real_pair is None or splits == 0 or n < 4:  # a covariance needs two clips a half
        return None
    rng = np.random.default_rng(seed)
    values = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientWarning)
        for _ in range(splits):
            order = rng.permutation(n)
            values.append(measured.real_pair(order[: n // 2], order[n // 2 :]))
    return {
        "value": float(np.mean(values)),
        "low": float(np.min(values)),
        "high": float(np.max(values)),
        "splits": splits,
        "clips": f"{n // 2} vs {n - n // 2} real",
    }


def record(measured: Measured, ctx: Context) -> Record:
    """The record of a Measured: its interval over clips (jackknife for set-level metrics, the mean's
    percentile bootstrap for per-clip ones) and its card."""
    real, fake = measured.sets
    notes = list(measured.notes)
    if measured.scores is not None:
        values = list(measured.scores.values())
        low, high = intervals.mean_interval(values, ctx.bootstrap_samples, ctx.confidence, ctx.seed)
        how = f"percentile bootstrap of the mean over clips, {ctx.bootstrap_samples} resamples"
        resamples, n_fake = ctx.bootstrap_samples, len(values)
        if ctx.bootstrap_samples == 0:
            how = "none (eval.bootstrap_samples=0)"
    else:
        resamples, n_fake = 0, len(fake)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RankDeficientWarning)  # said once, for the value itself
            found = intervals.jackknife_interval(
                measured.statistic,
                measured.value,
                len(real),
                len(fake),
                ctx.jackknife_groups,
                ctx.confidence,
                ctx.seed,
            )
        groups = min(ctx.jackknife_groups, len(real), len(fake))
        how = f"grouped jackknife over clips, {groups} groups a side, t interval (Welch–Satterthwaite df)"
        if found is None:
            found = (measured.value, measured.value)
            how = "none (eval.jackknife_groups=0)"
            if ctx.jackknife_groups:
                how = f"none: fewer than {intervals.MIN_CLIPS} clips a side"
                notes.append(f"no interval: an interval needs at least {intervals.MIN_CLIPS} clips a side")
        low, high = found
    return Record(
        measured.name,
        measured.value,
        low,
        high,
        ctx.confidence,
        resamples,
        len(real),
        n_fake,
        measured.protocol,
        measured.weights_sha256,
        notes,
        card(measured.steps, real, fake, measured.weights_sha256),
        how,
        noise_floor(measured, ctx.noise_floor_splits, ctx.seed),
        measured.curve
        if measured.per_frame is None
        else horizon.curve(measured.per_frame, ctx.bootstrap_samples, ctx.confidence, ctx.seed),
    )


def random_windows(videos: list[np.ndarray], length: int, seed: int) -> list[np.ndarray]:
    """`length` consecutive frames from a random start in each clip, the starts drawn in clip order as
    StyleGAN-V's loader draws them (random.randint(0, frames − length)), from a generator seeded by `seed`."""
    import random

    rng = random.Random(seed)
    windows = []
    for video in videos:
        if len(video) < length:
            raise UserError(f"a clip has {len(video)} frames; this protocol takes {length} consecutive ones.")
        start = rng.randint(0, len(video) - length)
        windows.append(video[start : start + length])
    return windows


def _enough(name: str, real: VideoSet, fake: VideoSet, minimum: int = 2) -> None:
    if min(len(real), len(fake)) < minimum:
        raise UserError(
            f"{name} needs at least {minimum} real and {minimum} generated clips; got {len(real)} real and "
            f"{len(fake)} generated."
        )


def _same_length(name: str, real: VideoSet, fake: VideoSet) -> None:
    """Set-level metrics compare distributions of clips: at least two clips a side, all of one length."""
    _enough(name, real, fake)
    lengths = {v.shape[0] for v in real.videos} | {v.shape[0] for v in fake.videos}
    if len(lengths) > 1:
        raise UserError(
            f"clip lengths differ between or within the real and generated videos ({sorted(lengths)} frames); "
            "score clips of one length (generated clips include their reference frames)."
        )


def video_statistic(kind: str, real_f: np.ndarray, fake_f: np.ndarray, ddof: int):
    """A video distance on any subset of clips: (real_idx, fake_idx) → FVD or KVD of those clips' features."""

    def value(i: np.ndarray, j: np.ndarray) -> float:
        if kind != "fvd":
            return fvd.kvd(real_f[i], fake_f[j], centred=kind == "kvd")
        return frechet_distance(fit(real_f[i], ddof), fit(fake_f[j], ddof))

    return value


def frame_statistic(
    kind: str, real_frames: np.ndarray, fake_frames: np.ndarray, seed: int, subsets: int = 100
):
    """A frame distance on any subset of clips, over every frame of each: (N, T, D) features → FID or KID
    (KID: the mean over `subsets` random subsets, clean-fid's 100)."""

    def value(i: np.ndarray, j: np.ndarray) -> float:
        a = real_frames[i].reshape(-1, real_frames.shape[-1])
        b = fake_frames[j].reshape(-1, fake_frames.shape[-1])
        if kind == "kid":
            return kernel.kernel_distance(a, b, num_subsets=subsets, seed=seed)
        return frechet_distance(fit(a), fit(b))

    return value


class Metric:
    """A registered metric: `measure` two sets of clips, `compute` their record."""

    name: str

    def measure(self, real: VideoSet, fake: VideoSet, ctx: Context) -> Measured:
        raise NotImplementedError

    def compute(self, real: VideoSet, fake: VideoSet, ctx: Context) -> Record:
        measured = self.measure(real, fake, ctx)
        result = record(measured, ctx)
        if fake.more and measured.scores is not None:
            further = [self.measure(real, other, ctx).scores for other in fake.more]
            result.samples = over_samples(self.name, [measured.scores, *further], ctx)
        elif fake.more:
            result.samples = pooled_samples(self.measure(real, pooled(fake), ctx), len(fake), ctx)
        return result


def pooled(fake: VideoSet) -> VideoSet:
    """Every sample of every clip as one generated set, sample k of all clips after sample k − 1."""
    sets = [fake, *fake.more]
    return VideoSet(
        fake.root,
        [f"{name}#{k}" for k, s in enumerate(sets) for name in s.names],
        [video for s in sets for video in s.videos],
        {f"{name}#{k}": text for k, s in enumerate(sets) for name, text in s.instructions.items()},
        reading=fake.reading,
        quantisation=fake.quantisation,
    )


def pooled_samples(measured: Measured, clips: int, ctx: Context) -> dict[str, Any]:
    """A set-level metric over all K samples of each clip as the generated set. Its jackknife leaves out a
    clip's K samples together: they share a context, so they are not independent draws."""
    k = len(measured.sets[1]) // clips

    def by_clip(i: np.ndarray, j: np.ndarray) -> float:
        return measured.statistic(i, np.concatenate([j + s * clips for s in range(k)]))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientWarning)
        found = intervals.jackknife_interval(
            by_clip,
            measured.value,
            len(measured.sets[0]),
            clips,
            ctx.jackknife_groups,
            ctx.confidence,
            ctx.seed,
        )
    low, high = found or (measured.value, measured.value)
    return {"k": k, "pooled": {"value": measured.value, "ci_low": low, "ci_high": high}}


def over_samples(name: str, scores: list[dict[str, float]], ctx: Context) -> dict[str, Any]:
    """Each clip's K scores reduced two ways: their mean, and the best (the prediction a user would keep)."""
    keys = list(scores[0])
    table = np.array([[s[k] for s in scores] for k in keys])
    best = table.max(axis=1) if registry.better(name) == "higher" else table.min(axis=1)

    def summary(values: np.ndarray) -> dict[str, float]:
        low, high = intervals.mean_interval(values, ctx.bootstrap_samples, ctx.confidence, ctx.seed)
        return {"value": float(values.mean()), "ci_low": low, "ci_high": high}

    return {"k": len(scores), "mean_of_k": summary(table.mean(axis=1)), "best_of_k": summary(best)}


@dataclass(frozen=True)
class VideoDistance(Metric):
    """FVD or KVD on I3D logits, or FVD on VideoMAE-v2 features."""

    name: str
    protocol: fvd.VideoProtocol
    kind: str  # "fvd", "kvd" (each set centred first, as Seer's code does) or "kvd-uncentred"
    weights: tuple[str, ...] = ("i3d",)

    def _protocol(self, ctx: Context) -> tuple[fvd.VideoProtocol, str]:
        if self.protocol.detector == "videomae":
            return self.protocol, "videomae"
        if self.protocol.name == "styleganv" and "i3d-torchscript" in ctx.weights:
            return fvd.VideoProtocol(
                **{**self.protocol.to_dict(), "detector": "i3d-torchscript"}
            ), "i3d-torchscript"
        return self.protocol, "i3d"

    def steps(self, ctx: Context, length: int | None = None) -> dict[str, str]:
        protocol, weight = self._protocol(ctx)
        if protocol.detector == "videomae":
            resize = "each frame bilinear → 224² (aspect not kept), [0, 1], no mean/std normalisation"
        elif protocol.detector == "i3d-torchscript":
            resize = "the detector's own (rescale=True, resize=True: [0, 255] → [-1, 1], trilinear → 224²)"
        elif protocol.resize == "squash":
            resize = "bilinear → 224² (aspect not kept), [-1, 1]"
        else:
            resize = "short side bilinear → 224 (long side rounded up), centre crop 224², [-1, 1]"
        kernel = "unbiased MMD² with k(x, y) = (xᵀy / 400 + 1)³ over all clips"
        if not protocol.num_frames:
            frames = "all" + (f" {length}" if length else "")
        elif ctx.real_offset == "random":
            frames = (
                f"{protocol.num_frames} from a random start in each real clip (Python's random.Random(seed "
                f"{ctx.seed}), as StyleGAN-V's loader), the first {protocol.num_frames} of each generated clip"
            )
        else:
            frames = f"the first {protocol.num_frames}"
        return {
            "frames": frames,
            "reference frames": f"included (the first {ctx.num_ref_frames} of each clip)"
            if protocol.include_reference
            else "left out",
            "resize": resize,
            "features": f"{protocol.features}; weights `{weight}`",
            "covariance": "–" if self.kind != "fvd" else ("N−1" if protocol.ddof == 1 else "N (population)"),
            "distance": {
                "fvd": "Fréchet distance of the two Gaussian fits",
                "kvd": f"{kernel}, each set first centred on its own mean (as Seer's code)",
                "kvd-uncentred": f"{kernel}, on the logits as they are",
            }[self.kind],
            "arithmetic": precision.ARITHMETIC,
        }

    def measure(self, real: VideoSet, fake: VideoSet, ctx: Context) -> Measured:
        _same_length(self.name, real, fake)
        protocol, weight = self._protocol(ctx)
        if protocol.detector == "videomae":
            if weight in ctx.models:
                extractor = VideoMAEFeatures.from_model(ctx.models[weight], ctx.device)
            else:
                extractor = VideoMAEFeatures(ctx.weights[weight], ctx.device)
        elif weight in ctx.models:
            extractor = fvd.I3DFeatures.from_model(ctx.models[weight], protocol, ctx.device)
        else:
            extractor = fvd.I3DFeatures(ctx.weights[weight], protocol, ctx.device)
        label = "VideoMAE" if protocol.detector == "videomae" else "I3D"
        description = {
            "family": "videomae-features" if protocol.detector == "videomae" else "i3d-logits",
            "protocol": protocol.to_dict(),
            "weights_sha256": extractor.weights_sha256,
        }
        real_videos, real_description = real.videos, description
        if protocol.num_frames and ctx.real_offset == "random":
            real_videos = random_windows(real.videos, protocol.num_frames, ctx.seed)
            real_description = {**description, "real_offset": "random", "seed": ctx.seed}
        real_f = _features(ctx, real_description, real_videos, extractor, f"{label} real")
        fake_f = _features(ctx, description, fake.videos, extractor, f"{label} generated")
        notes = []
        if protocol.expected_clips and min(len(real), len(fake)) < protocol.expected_clips:
            notes.append(
                f"{protocol.name} is defined on {protocol.expected_clips} clips; this used {len(real)} real, {len(fake)} generated"
            )

        value = video_statistic(self.kind, real_f, fake_f, protocol.ddof)
        real_pair = video_statistic(self.kind, real_f, real_f, protocol.ddof)
        curve = None
        if ctx.prefixes and not protocol.num_frames:
            from aidbench.metrics.i3d import MIN_FRAMES  # torch, loaded already by the extractor

            def prefix(length: int) -> dict[str, float]:
                if length == real.videos[0].shape[0]:
                    return set_level_point(value, len(real_f), len(fake_f), ctx)
                cut = {**description, "prefix": length}
                a = _features(
                    ctx, cut, [v[:length] for v in real.videos], extractor, f"{label} real, {length} frames"
                )
                b = _features(
                    ctx,
                    cut,
                    [v[:length] for v in fake.videos],
                    extractor,
                    f"{label} generated, {length} frames",
                )
                return set_level_point(video_statistic(self.kind, a, b, protocol.ddof), len(a), len(b), ctx)

            length = real.videos[0].shape[0]
            first = max(MIN_FRAMES, ctx.num_ref_frames + 1)
            curve = [
                {"horizon": n - ctx.num_ref_frames, "frames": n, **prefix(n)}
                for n in range(first, length + 1)
            ]

        def point() -> float:
            if self.kind == "fvd":
                return fvd.fvd(real_f, fake_f, protocol, (real.names, fake.names))
            return value(np.arange(len(real)), np.arange(len(fake)))

        return set_level(
            self.name,
            value,
            (real, fake),
            point,
            protocol={"metric": self.kind, **protocol.to_dict()},
            weights_sha256={weight: extractor.weights_sha256},
            steps=self.steps(ctx, real.videos[0].shape[0]),
            notes=notes,
            real_pair=real_pair,
            curve=curve,
        )


def set_level_point(statistic, n_real: int, n_fake: int, ctx: Context) -> dict[str, float]:
    """A set-level statistic on every clip with its jackknife interval (the value alone where none can be made)."""
    every = (np.arange(n_real), np.arange(n_fake))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RankDeficientWarning)
        value = float(statistic(*every))
        found = intervals.jackknife_interval(
            statistic, value, n_real, n_fake, ctx.jackknife_groups, ctx.confidence, ctx.seed
        )
    low, high = found or (value, value)
    return {"value": value, "ci_low": low, "ci_high": high}


@dataclass(frozen=True)
class FrameDistance(Metric):
    """FID or KID over individual frames through clean-fid."""

    name: str
    kind: str  # "fid" or "kid"
    weights: tuple[str, ...] = ("inception",)

    def steps(self, ctx: Context, length: int | None = None) -> dict[str, str]:
        kernel = (
            "unbiased MMD² with k(x, y) = (xᵀy / 2048 + 1)³, mean over 100 subsets of min(N, 1000) frames, "
            "drawn with a seeded generator (clean-fid draws them unseeded)"
        )
        return {
            **_frame_selection(ctx, length),
            "resize": "clean-fid's clean: PIL bicubic → 299² in float, not re-quantised",
            "features": "Inception-v3 pool3, 2048-d, per frame (clean-fid's TorchScript); weights `inception`",
            "covariance": "N−1" if self.kind == "fid" else "–",
            "distance": "Fréchet distance of the Gaussian fits over every frame of every clip"
            if self.kind == "fid"
            else kernel,
            "arithmetic": precision.ARITHMETIC,
        }

    def measure(self, real: VideoSet, fake: VideoSet, ctx: Context) -> Measured:
        _same_length(self.name, real, fake)
        model = ctx.models.get("inception") or InceptionFeatures(ctx.weights["inception"], ctx.device)
        sha = getattr(model, "weights_sha256", None)
        skip = ctx.num_ref_frames if ctx.frames == "predicted" else 0
        description = {
            "family": "inception-frames",
            "resize": "clean-fid clean",
            "weights_sha256": sha,
            "skip": skip,
        }

        def per_video(videos):
            return np.stack([frame_features(v[skip:], model).reshape(-1) for v in videos])

        real_f = _features(ctx, description, real.videos, per_video, "Inception real")
        fake_f = _features(ctx, description, fake.videos, per_video, "Inception generated")
        frames_per_clip = real.videos[0].shape[0] - skip
        real_frames = real_f.reshape(len(real), frames_per_clip, -1)
        fake_frames = fake_f.reshape(len(fake), frames_per_clip, -1)

        value = frame_statistic(self.kind, real_frames, fake_frames, ctx.seed)
        real_pair = frame_statistic(self.kind, real_frames, real_frames, ctx.seed)

        protocol = {
            "metric": self.kind,
            "library": "clean-fid",
            "mode": "clean",
            "frames": ctx.frames,
            "reference_frames_skipped": skip,
            "covariance": "N-1",
            "bootstrap_over": "clips",
        }
        return set_level(
            self.name,
            value,
            (real, fake),
            protocol=protocol,
            weights_sha256={"inception": sha},
            steps=self.steps(ctx, real.videos[0].shape[0]),
            real_pair=real_pair,
        )


@dataclass(frozen=True)
class CLIPSim(Metric):
    name: str = "clipsim@vitb32"
    weights: tuple[str, ...] = ("clip",)

    def steps(self, ctx: Context, length: int | None = None) -> dict[str, str]:
        return {
            **_frame_selection(ctx, length),
            "resize": "open_clip's OpenAI transform: bicubic short side → 224, centre crop, OpenAI mean and std",
            "features": "CLIP ViT-B/32 (QuickGELU) image and text embeddings, 512-d, unit length; weights `clip`",
            "covariance": "–",
            "distance": "100 × cos(frame, instruction), mean over frames, then over generated clips "
            "(torchmetrics' CLIPScore, which clamps the final mean at 0)",
            "arithmetic": precision.ARITHMETIC,
        }

    def measure(self, real: VideoSet, fake: VideoSet, ctx: Context) -> Measured:
        missing = [n for n in fake.names if n not in fake.instructions]
        if missing:
            raise UserError(
                f"CLIPSIM needs each generated video's instruction; none for {', '.join(missing[:5])}"
                f"{' …' if len(missing) > 5 else ''} (add instructions.json or meta.json)."
            )
        _enough(self.name, real, fake, minimum=1)
        scorer = ctx.models.get("clip") or CLIPSimilarity(ctx.weights["clip"], ctx.device)
        skip = ctx.num_ref_frames if ctx.frames == "predicted" else 0
        scores = {
            n: scorer.video_score(v[skip:], fake.instructions[n])
            for n, v in zip(fake.names, fake.videos, strict=True)
        }
        protocol = {
            "metric": "clipsim",
            "model": f"open_clip {ARCHITECTURE} (OpenAI weights)",
            "scale": 100,
            "frames": ctx.frames,
            "reduction": "mean over frames, then over videos",
        }
        steps = self.steps(ctx, fake.videos[0].shape[0])
        return per_clip(self.name, scores, (real, fake), protocol, {"clip": scorer.weights_sha256}, steps)


@dataclass(frozen=True)
class SynthMetric(Metric):
    name: str
    weights: tuple[str, ...] = ()

    def steps(self, ctx: Context, length: int | None = None) -> dict[str, str]:
        kind = self.name.split("@")[0]
        return {
            "frames": "the predicted",
            "reference frames": f"left out (the first {ctx.num_ref_frames})",
            "resize": "none: scored at the clip's own square size",
            "features": "none: the pixels themselves"
            if kind in ("psnr", "ssim")
            else "none: objects found by colour, against synthtvp's exact ground truth",
            "covariance": "–",
            "distance": SYNTHETIC_DEFINITIONS[kind],
            "arithmetic": "float64, exact (no learned detector)",
        }

    def measure(self, real: VideoSet, fake: VideoSet, ctx: Context) -> Measured:
        meta = real.root / "synthtvp.json" if real.root else None
        if meta is not None and meta.is_file():
            seed = json.loads(meta.read_text())["seed"]
        elif ctx.synthtvp_seed is not None:
            seed = ctx.synthtvp_seed
        else:
            raise UserError(
                f"{self.name} needs --real to be a synthtvp export (with synthtvp.json), got {real.root}."
            )
        truths, fakes = {}, {}
        for name, video in zip(fake.names, fake.videos, strict=True):
            try:
                split, index = synthtvp.parse_clip_id(name)
            except ValueError as err:
                raise UserError(f"{self.name}: generated video {err}.") from None
            if video.shape[1] != video.shape[2]:
                raise UserError(
                    f"{self.name}: {name} is {video.shape[1]}×{video.shape[2]}; synthtvp frames are square."
                )
            truths[name] = synthetic.Truth.of_episode(
                synthtvp.episode(
                    seed, split, index, synthtvp.task_of_clip_id(name), synthtvp.domain_of_clip_id(name)
                ),
                video.shape[0],
                video.shape[1],
            )
            fakes[name] = video
        scores = synthetic.score(self.name, fakes, truths, ctx.num_ref_frames)
        if not scores:
            raise UserError(
                f"{self.name}: no complete counterfactual group of {synthtvp.GROUP_SIZE} clips to score."
            )
        protocol = {
            "metric": self.name.split("@")[0],
            "benchmark": "synthtvp",
            "seed": seed,
            "reference_frames": ctx.num_ref_frames,
            "exact": True,
        }
        steps = self.steps(ctx, fake.videos[0].shape[0])
        return per_clip(self.name, scores, (real, fake), protocol, {}, steps)


@dataclass(frozen=True)
class FrameCurve(Metric):
    """PSNR, SSIM or LPIPS of each predicted frame against the true frame of the same clip: a per-clip mean
    and a curve over the horizon."""

    name: str
    kind: str  # "psnr", "ssim" or "lpips"
    weights: tuple[str, ...] = ()

    def steps(self, ctx: Context, length: int | None = None) -> dict[str, str]:
        steps = {
            "frames": "the predicted, each horizon on its own (the curve) and their mean (the value)",
            "reference frames": f"left out (the first {ctx.num_ref_frames})",
            "resize": "none: the generated and the real clip at the same size",
            "features": "none: the pixels themselves",
            "covariance": "–",
            "distance": {
                "psnr": "PSNR in dB of the uint8 frames (an exact copy counts 100 dB)",
                "ssim": "SSIM of the uint8 frames, torchmetrics' Gaussian 11×11 window, σ 1.5",
                "lpips": "LPIPS v0.1 of each frame pair: unit-normalised AlexNet activations, weighted by the "
                "package's linear layers, spatial mean, summed over 5 layers",
            }[self.kind],
            "arithmetic": "float64",
        }
        if self.kind == "lpips":
            steps |= {
                "resize": lpips.RESIZE,
                "features": "AlexNet conv1–5 (the lpips package's network); weights `alexnet`",
                "arithmetic": precision.ARITHMETIC,
            }
        return steps

    def measure(self, real: VideoSet, fake: VideoSet, ctx: Context) -> Measured:
        _enough(self.name, real, fake, minimum=1)
        truth = real.by_name()
        missing = [n for n in fake.names if n not in truth]
        if missing:
            raise UserError(
                f"{self.name} compares each generated clip with the real clip of the same name; no real clip "
                f"for {', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}."
            )
        shapes = {n: (truth[n].shape, v.shape) for n, v in zip(fake.names, fake.videos, strict=True)}
        unequal = [n for n, (a, b) in shapes.items() if a != b]
        if unequal:
            raise UserError(
                f"{self.name}: {unequal[0]} is {shapes[unequal[0]][1]} generated and {shapes[unequal[0]][0]} real; "
                "the two clips must have the same frames and size."
            )
        scorer = _lpips(ctx) if self.kind == "lpips" else None
        reals = [truth[n] for n in fake.names]
        scores = horizon.per_frame(self.kind, reals, fake.videos, ctx.num_ref_frames, scorer)
        measured = per_clip(
            self.name,
            dict(zip(fake.names, scores.mean(axis=1), strict=True)),
            (real, fake),
            {"metric": self.kind, "per": "frame", "reference_frames": ctx.num_ref_frames},
            {} if scorer is None else {"alexnet": scorer.weights_sha256},
            self.steps(ctx, fake.videos[0].shape[0]),
        )
        measured.per_frame = scores
        return measured


@dataclass(frozen=True)
class Diversity(Metric):
    """How different a system's K samples of one clip are: the mean distance of every pair of them over the
    predicted frames, averaged per clip: mean absolute pixel difference in [0, 1], or LPIPS. Needs K ≥ 2
    (sample.num_samples)."""

    name: str
    kind: str  # "pixels" or "lpips"
    weights: tuple[str, ...] = ()

    def steps(self, ctx: Context, length: int | None = None) -> dict[str, str]:
        pixels = self.kind == "pixels"
        return {
            "frames": "the predicted",
            "reference frames": f"left out (the first {ctx.num_ref_frames})",
            "resize": "none" if pixels else lpips.RESIZE,
            "features": "none: the pixels themselves"
            if pixels
            else "AlexNet conv1–5 (the lpips package's network); weights `alexnet`",
            "covariance": "–",
            "distance": ("mean |a − b| / 255" if pixels else "LPIPS v0.1, mean over frames")
            + " over every pair of a clip's K samples, mean over clips",
            "arithmetic": "float64" if pixels else precision.ARITHMETIC,
        }

    def compute(self, real: VideoSet, fake: VideoSet, ctx: Context) -> Record:
        return record(self.measure(real, fake, ctx), ctx)  # already over every sample: no best-of-K

    def measure(self, real: VideoSet, fake: VideoSet, ctx: Context) -> Measured:
        if not fake.more:
            raise UserError(
                f"{self.name} compares a clip's samples with each other: sample every clip at least twice "
                "(--set sample.num_samples=2) and score that sample run."
            )
        skip = ctx.num_ref_frames
        scorer = _lpips(ctx) if self.kind == "lpips" else None

        def distance(a: np.ndarray, b: np.ndarray) -> float:
            if scorer is not None:
                return float(scorer.distance(a, b).mean())
            return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).mean() / 255.0)

        sets = [fake, *fake.more]
        scores = {}
        for i, name in enumerate(fake.names):
            videos = [s.videos[i][skip:] for s in sets]
            scores[name] = float(
                np.mean([distance(a, b) for j, a in enumerate(videos) for b in videos[j + 1 :]])
            )
        protocol = {
            "metric": "diversity",
            "distance": "mean absolute pixel difference" if scorer is None else "LPIPS (AlexNet, v0.1)",
            "samples": len(sets),
        }
        sha = {} if scorer is None else {"alexnet": scorer.weights_sha256}
        return per_clip(self.name, scores, (real, fake), protocol, sha, self.steps(ctx))


def _lpips(ctx: Context) -> lpips.LPIPS:
    return ctx.models.get("alexnet") or lpips.LPIPS(ctx.weights["alexnet"], ctx.device)


def _frame_selection(ctx: Context, length: int | None) -> dict[str, str]:
    if ctx.frames == "predicted":
        return {"frames": "the predicted", "reference frames": f"left out (the first {ctx.num_ref_frames})"}
    return {
        "frames": "all" + (f" {length}" if length else ""),
        "reference frames": f"included (the first {ctx.num_ref_frames} of each clip)",
    }


SYNTHETIC_DEFINITIONS = {
    "psnr": "PSNR against the ground-truth frames (an exact copy counts 100 dB), mean over clips",
    "ssim": "SSIM against the ground-truth frames, mean over clips",
    "trajectory-error": "distance of each object's centre from its true centre, in frame widths, mean over clips",
    "instruction-accuracy": "1 when the named object ended where the instruction takes it and the others "
    "stayed, mean over clips",
    "counterfactual-accuracy": "1 when a clip's last frame is nearest its own of its group's four true "
    "endings, mean over clips",
}


FVD_SEER = VideoDistance("fvd@seer", fvd.SEER, "fvd")
KVD_SEER = VideoDistance("kvd@seer", fvd.SEER, "kvd")
KVD_TEXTBOOK = VideoDistance("kvd@textbook", fvd.SEER, "kvd-uncentred")
FVD_STYLEGANV = VideoDistance("fvd@styleganv", fvd.STYLEGANV, "fvd")
FVD_VIDEOMAE = VideoDistance("fvd@videomae", fvd.VIDEOMAE, "fvd", weights=("videomae",))
FID_CLEAN = FrameDistance("fid@clean-frames", "fid")
KID_CLEAN = FrameDistance("kid@clean-frames", "kid")
CLIPSIM_VITB32 = CLIPSim()
PSNR_SYNTHTVP = SynthMetric("psnr@synthtvp")
SSIM_SYNTHTVP = SynthMetric("ssim@synthtvp")
TRAJECTORY_SYNTHTVP = SynthMetric("trajectory-error@synthtvp")
INSTRUCTION_SYNTHTVP = SynthMetric("instruction-accuracy@synthtvp")
COUNTERFACTUAL_SYNTHTVP = SynthMetric("counterfactual-accuracy@synthtvp")
PSNR_PER_FRAME = FrameCurve("psnr@per-frame", "psnr")
SSIM_PER_FRAME = FrameCurve("ssim@per-frame", "ssim")
LPIPS_PER_FRAME = FrameCurve("lpips@per-frame", "lpips", weights=("alexnet",))
DIVERSITY_PIXELS = Diversity("diversity@pixels", "pixels")
DIVERSITY_LPIPS = Diversity("diversity@lpips", "lpips", weights=("alexnet",))


def protocol_cards() -> dict[str, dict[str, str]]:
    """Every registered metric's steps under the default settings (from the definitions above, so the
    README's table cannot drift from the code); StyleGAN-V's own detector as a row of its own."""
    cards = {}
    for name in registry.names("metric"):
        metric = registry.load("metric", name)
        cards[name] = metric.steps(Context())
        if metric is FVD_STYLEGANV:
            torchscript = Context(weights={"i3d-torchscript": Path("i3d_torchscript.pt")})
            cards[f"{name} with `--weights i3d-torchscript=…`"] = metric.steps(torchscript)
    return cards


def protocols_markdown() -> str:
    """The README's table of protocols × steps (quantisation is the data chain's, said beside the table)."""
    fields = [f for f in CARD_FIELDS if f != "quantisation"]
    lines = ["| protocol | " + " | ".join(fields) + " |", "|---" * (len(fields) + 1) + "|"]
    for name, steps in protocol_cards().items():
        label = f"`{name}`" if "`" not in name else name.replace("fvd@styleganv", "`fvd@styleganv`", 1)
        lines.append(f"| {label} | " + " | ".join(steps[f].replace("|", "\\|") for f in fields) + " |")
    return "\n".join(lines) + "\n"
