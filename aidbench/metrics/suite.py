"""The registered metrics: each turns a real and a generated VideoSet into one Record with its interval.

A Record carries the value, a bootstrap interval over clips, both sample counts, the full protocol and
the sha256 of the detector weights, so a number never travels without what defines it.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aidbench.errors import UserError
from aidbench.metrics import bootstrap, fvd, kernel, synthetic
from aidbench.metrics.cache import FeatureCache
from aidbench.metrics.frechet import RankDeficientWarning, fit, frechet_distance
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

    def to_json(self) -> str:
        return json.dumps(asdict(self))


@dataclass
class Context:
    weights: dict[str, Path] = field(default_factory=dict)
    device: str = "cpu"
    bootstrap_samples: int = 1000
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


def _features(ctx: Context, description: dict, videos: list[np.ndarray], compute, label: str) -> np.ndarray:
    if ctx.cache is None:
        return np.concatenate([compute(videos[i : i + 8]) for i in range(0, len(videos), 8)])
    return ctx.cache.features(description, videos, compute, label=label)


def _distance_record(
    name: str,
    value,
    point,
    n_real: int,
    n_fake: int,
    resamples: int,
    ctx: Context,
    protocol: dict,
    weights_sha256: dict,
    notes: list[str] = (),
) -> Record:
    """A distribution metric's record: point() with rank warnings recorded, and value(real_idx, fake_idx)
    resampled over clips for the interval."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RankDeficientWarning)
        result = point()
    low, high = bootstrap.two_sample_interval(value, n_real, n_fake, resamples, ctx.confidence, ctx.seed)
    return Record(
        name,
        result,
        low,
        high,
        ctx.confidence,
        resamples,
        n_real,
        n_fake,
        protocol,
        weights_sha256,
        [*notes, *sorted({str(w.message) for w in caught})],
    )


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


@dataclass(frozen=True)
class VideoDistance:
    """FVD or KVD on I3D logits."""

    name: str
    protocol: fvd.VideoProtocol
    kind: str  # "fvd", "kvd" (each set centred first, as Seer's code does) or "kvd-uncentred"
    weights: tuple[str, ...] = ("i3d",)

    def compute(self, real: VideoSet, fake: VideoSet, ctx: Context) -> Record:
        _same_length(self.name, real, fake)
        protocol = self.protocol
        weight = "i3d"
        if protocol.name == "styleganv" and "i3d-torchscript" in ctx.weights:
            protocol, weight = (
                fvd.VideoProtocol(**{**protocol.to_dict(), "detector": "i3d-torchscript"}),
                "i3d-torchscript",
            )
        if weight in ctx.models:
            extractor = fvd.I3DFeatures.from_model(ctx.models[weight], protocol, ctx.device)
        else:
            extractor = fvd.I3DFeatures(ctx.weights[weight], protocol, ctx.device)
        description = {
            "family": "i3d-logits",
            "protocol": protocol.to_dict(),
            "weights_sha256": extractor.weights_sha256,
        }
        real_f = _features(ctx, description, real.videos, extractor, "I3D real")
        fake_f = _features(ctx, description, fake.videos, extractor, "I3D generated")
        notes = []
        if protocol.expected_clips and min(len(real), len(fake)) < protocol.expected_clips:
            notes.append(
                f"{protocol.name} is defined on {protocol.expected_clips} clips; this used {len(real)} real, {len(fake)} generated"
            )

        def value(i, j) -> float:
            if self.kind != "fvd":
                return fvd.kvd(real_f[i], fake_f[j], centred=self.kind == "kvd")
            return frechet_distance(fit(real_f[i], protocol.ddof), fit(fake_f[j], protocol.ddof))

        def point() -> float:
            if self.kind == "fvd":
                return fvd.fvd(real_f, fake_f, protocol, (real.names, fake.names))
            return value(np.arange(len(real)), np.arange(len(fake)))

        return _distance_record(
            self.name,
            value,
            point,
            len(real),
            len(fake),
            ctx.bootstrap_samples,
            ctx,
            {"metric": self.kind, **protocol.to_dict()},
            {weight: extractor.weights_sha256},
            notes,
        )


@dataclass(frozen=True)
class FrameDistance:
    """FID or KID over individual frames through clean-fid."""

    name: str
    kind: str  # "fid" or "kid"
    weights: tuple[str, ...] = ("inception",)
    # Each resample recomputes a 2048-d distance: the interval uses at most this many.
    max_bootstrap: int = 50

    def compute(self, real: VideoSet, fake: VideoSet, ctx: Context) -> Record:
        from aidbench.metrics.fid import InceptionFeatures, frame_features

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

        def value(i, j) -> float:
            a = real_frames[i].reshape(-1, real_frames.shape[-1])
            b = fake_frames[j].reshape(-1, fake_frames.shape[-1])
            if self.kind == "kid":
                return kernel.kernel_distance(a, b, seed=ctx.seed)
            return frechet_distance(fit(a), fit(b))

        resamples = min(ctx.bootstrap_samples, self.max_bootstrap)
        protocol = {
            "metric": self.kind,
            "library": "clean-fid",
            "mode": "clean",
            "frames": ctx.frames,
            "reference_frames_skipped": skip,
            "covariance": "N-1",
            "bootstrap_over": "clips",
        }
        return _distance_record(
            self.name,
            value,
            lambda: value(np.arange(len(real)), np.arange(len(fake))),
            len(real),
            len(fake),
            resamples,
            ctx,
            protocol,
            {"inception": sha},
        )


def _mean_record(
    name: str, scores: list[float], n_real: int, protocol: dict, weights_sha256: dict, ctx: Context
) -> Record:
    """A per-clip metric's record: the mean score and its bootstrap interval over clips."""
    low, high = bootstrap.mean_interval(scores, ctx.bootstrap_samples, ctx.confidence, ctx.seed)
    return Record(
        name,
        float(np.mean(scores)),
        low,
        high,
        ctx.confidence,
        ctx.bootstrap_samples,
        n_real,
        len(scores),
        protocol,
        weights_sha256,
    )


@dataclass(frozen=True)
class CLIPSim:
    name: str = "clipsim@vitb32"
    weights: tuple[str, ...] = ("clip",)

    def compute(self, real: VideoSet, fake: VideoSet, ctx: Context) -> Record:
        from aidbench.metrics.clipsim import ARCHITECTURE, CLIPSimilarity

        missing = [n for n in fake.names if n not in fake.instructions]
        if missing:
            raise UserError(
                f"CLIPSIM needs each generated video's instruction; none for {', '.join(missing[:5])}"
                f"{' …' if len(missing) > 5 else ''} (add instructions.json or meta.json)."
            )
        _enough(self.name, real, fake, minimum=1)
        scorer = ctx.models.get("clip") or CLIPSimilarity(ctx.weights["clip"], ctx.device)
        skip = ctx.num_ref_frames if ctx.frames == "predicted" else 0
        scores = [
            scorer.video_score(v[skip:], fake.instructions[n])
            for n, v in zip(fake.names, fake.videos, strict=True)
        ]
        protocol = {
            "metric": "clipsim",
            "model": f"open_clip {ARCHITECTURE} (OpenAI weights)",
            "scale": 100,
            "frames": ctx.frames,
            "reduction": "mean over frames, then over videos",
        }
        return _mean_record(self.name, scores, len(real), protocol, {"clip": scorer.weights_sha256}, ctx)


@dataclass(frozen=True)
class SynthMetric:
    name: str
    weights: tuple[str, ...] = ()

    def compute(self, real: VideoSet, fake: VideoSet, ctx: Context) -> Record:
        from aidbench.data import synthtvp

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
                synthtvp.episode(seed, split, index, synthtvp.task_of_clip_id(name)),
                video.shape[0],
                video.shape[1],
            )
            fakes[name] = video
        scores = list(synthetic.score(self.name, fakes, truths, ctx.num_ref_frames).values())
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
        return _mean_record(self.name, scores, len(real), protocol, {}, ctx)


FVD_SEER = VideoDistance("fvd@seer", fvd.SEER, "fvd")
KVD_SEER = VideoDistance("kvd@seer", fvd.SEER, "kvd")
KVD_TEXTBOOK = VideoDistance("kvd@textbook", fvd.SEER, "kvd-uncentred")
FVD_STYLEGANV = VideoDistance("fvd@styleganv", fvd.STYLEGANV, "fvd")
FID_CLEAN = FrameDistance("fid@clean-frames", "fid")
KID_CLEAN = FrameDistance("kid@clean-frames", "kid", max_bootstrap=20)
CLIPSIM_VITB32 = CLIPSim()
PSNR_SYNTHTVP = SynthMetric("psnr@synthtvp")
SSIM_SYNTHTVP = SynthMetric("ssim@synthtvp")
TRAJECTORY_SYNTHTVP = SynthMetric("trajectory-error@synthtvp")
INSTRUCTION_SYNTHTVP = SynthMetric("instruction-accuracy@synthtvp")
COUNTERFACTUAL_SYNTHTVP = SynthMetric("counterfactual-accuracy@synthtvp")
