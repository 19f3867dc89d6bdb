"""Names → lazily imported objects, for systems, datasets, metrics and report tables.

The catalogue below is plain data: listing it imports nothing, so `aidbench ls` stays fast. An entry
points at "module:attribute" and is imported only when `load` asks for it. An entry whose code has not
landed yet carries the issue that builds it and no target; loading it says so plainly.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Literal

from aidbench.errors import NotBuiltError, UsageError, UserError, did_you_mean

Kind = Literal["system", "dataset", "metric", "table"]
KINDS: tuple[Kind, ...] = ("system", "dataset", "metric", "table")


@dataclass(frozen=True)
class Entry:
    kind: Kind
    name: str
    summary: str
    # "package.module:attribute"; None while the code is not built.
    target: str | None = None
    # The issue that builds it (or, with a target, the rest of it).
    issue: int | None = None
    # Metrics only: which way is better, "lower" (FVD, FID, errors) or "higher" (accuracies, PSNR, CLIPSIM).
    better: Literal["lower", "higher"] | None = None
    # Systems from outside aidbench (plugins.py): a predictor, not a System; `argument` is what the name
    # carries for its factory (the folder of `diffusers:FOLDER`).
    external: bool = False
    argument: str | None = None

    @property
    def built(self) -> bool:
        return self.target is not None

    @property
    def status(self) -> str:
        if not self.built:
            return f"not built yet (issue #{self.issue})"
        return f"partly built (issue #{self.issue})" if self.issue else "ready"


def _entries() -> list[Entry]:
    systems = [
        Entry(
            "system",
            "aid",
            "AID: SVD + MCondition (DQFormer, MLLM states) + spatial/temporal adapters",
            target="aidbench.model.spec:AID",
        ),
        Entry(
            "system",
            "svd-zeroshot",
            "Stable Video Diffusion image-to-video, no text, no training",
            target="aidbench.baselines.svd:SVD_ZEROSHOT",
        ),
        Entry(
            "system",
            "svd-fullft",
            "SVD with every UNet parameter fine-tuned, no text",
            target="aidbench.baselines.svd_fullft:SVD_FULLFT",
        ),
        Entry(
            "system",
            "opensora-zeroshot",
            "Open-Sora 1.2 STDiT3 image-to-video with T5 text, no training",
            target="aidbench.baselines.opensora_system:OPENSORA_ZEROSHOT",
        ),
        Entry(
            "system",
            "opensora-fullft",
            "Open-Sora 1.2 STDiT3 with every parameter fine-tuned",
            target="aidbench.baselines.opensora_system:OPENSORA_FULLFT",
        ),
        Entry(
            "system",
            "seer",
            "Seer: SD 1.5 inflated with causal temporal attention, FSText sub-instructions per frame",
            target="aidbench.baselines.seer:SEER",
        ),
        Entry(
            "system",
            "copy-first-frame",
            "Every predicted frame a copy of the first frame: no training, no weights",
            target="aidbench.baselines.copy:COPY_FIRST_FRAME",
        ),
        Entry(
            "system",
            "copy-last-reference",
            "Every predicted frame a copy of the last reference frame: no training, no weights",
            target="aidbench.baselines.copy:COPY_LAST_REFERENCE",
        ),
        Entry(
            "system",
            "vae-recon",
            "SVD VAE encode/decode of the ground truth: the upper baseline",
            target="aidbench.baselines.vae:VAE_RECON",
        ),
    ]
    datasets = [
        Entry("dataset", name, summary, target=f"aidbench.data.{module}")
        for name, module, summary in (
            ("ssv2", "ssv2:SSv2", "Something-Something v2: webm or rawframes, label as instruction"),
            (
                "bridge",
                "bridge:Bridge",
                "BridgeData v2 trajectories, task folder name as instruction, 80/20 split",
            ),
            ("epic", "epic:Epic", "Epic-Kitchens-100 rgb_frames segments, narration as instruction"),
            ("ucf101", "ucf101:UCF101", "UCF-101 split 1, one written sentence per class"),
            (
                "synthtvp",
                "synthtvp:SynthTVP",
                "Embedded synthetic instruction-guided video prediction benchmark",
            ),
        )
    ]
    metrics = [
        Entry("metric", name, summary, target=f"aidbench.metrics.protocols:{attr}", better=better)
        for name, attr, better, summary in (
            (
                "fvd@seer",
                "FVD_SEER",
                "lower",
                "FVD, I3D logits, short side→224 + centre crop, N−1 (Seer/VideoGPT)",
            ),
            (
                "fvd@styleganv",
                "FVD_STYLEGANV",
                "lower",
                "FVD, 2048 clips × 16 frames, squash resize, population covariance",
            ),
            (
                "fvd@videomae",
                "FVD_VIDEOMAE",
                "lower",
                "Content-debiased FVD (cd-fvd): VideoMAE-v2 features, 16 frames, population covariance",
            ),
            (
                "kvd@seer",
                "KVD_SEER",
                "lower",
                "KVD as Seer's code computes it: polynomial-kernel MMD of the fvd@seer features, each set centred",
            ),
            (
                "kvd@textbook",
                "KVD_TEXTBOOK",
                "lower",
                "KVD as defined: polynomial-kernel MMD of the fvd@seer features themselves",
            ),
            ("fid@clean-frames", "FID_CLEAN", "lower", "Per-frame FID through clean-fid (clean resize)"),
            ("kid@clean-frames", "KID_CLEAN", "lower", "Per-frame KID through clean-fid"),
            (
                "clipsim@vitb32",
                "CLIPSIM_VITB32",
                "higher",
                "100 × cosine(frame, instruction), OpenAI CLIP ViT-B/32",
            ),
            (
                "diversity@pixels",
                "DIVERSITY_PIXELS",
                "higher",
                "Mean absolute pixel difference between a clip's K samples (sample.num_samples ≥ 2)",
            ),
            (
                "diversity@lpips",
                "DIVERSITY_LPIPS",
                "higher",
                "LPIPS (AlexNet) between a clip's K samples (sample.num_samples ≥ 2)",
            ),
            (
                "lpips@per-frame",
                "LPIPS_PER_FRAME",
                "lower",
                "LPIPS (AlexNet) of each predicted frame against the true one: a curve over the horizon",
            ),
            (
                "psnr@per-frame",
                "PSNR_PER_FRAME",
                "higher",
                "PSNR of each predicted frame against the true one: a curve over the horizon and its mean",
            ),
            (
                "ssim@per-frame",
                "SSIM_PER_FRAME",
                "higher",
                "SSIM of each predicted frame against the true one: a curve over the horizon and its mean",
            ),
            (
                "psnr@synthtvp",
                "PSNR_SYNTHTVP",
                "higher",
                "PSNR against synthtvp ground truth, predicted frames",
            ),
            (
                "ssim@synthtvp",
                "SSIM_SYNTHTVP",
                "higher",
                "SSIM against synthtvp ground truth, predicted frames",
            ),
            (
                "trajectory-error@synthtvp",
                "TRAJECTORY_SYNTHTVP",
                "lower",
                "Per-object position error, objects found by colour",
            ),
            (
                "instruction-accuracy@synthtvp",
                "INSTRUCTION_SYNTHTVP",
                "higher",
                "The named object moved as instructed, others stayed",
            ),
            (
                "counterfactual-accuracy@synthtvp",
                "COUNTERFACTUAL_SYNTHTVP",
                "higher",
                "One first frame, each instruction its own outcome",
            ),
        )
    ]
    tables = [
        Entry("table", name, spec_summary, target=f"aidbench.report.tables:{attr}")
        for name, attr, spec_summary in (
            ("main-results", "MAIN_RESULTS", "FVD on SSv2 / Bridge / Epic-100 (main paper)"),
            (
                "ablation-mcondition",
                "ABLATION_MCONDITION",
                "MCondition ablation, SSv2 FVD / KVD (main paper)",
            ),
            ("ablation-adapters", "ABLATION_ADAPTERS", "Adapter ablation, SSv2 FVD / KVD (main paper)"),
            ("supp-table1", "SUPP_TABLE1", "UCF-101 class-conditioned prediction, FVD / FID (supp. Table 1)"),
            (
                "supp-table2",
                "SUPP_TABLE2",
                "Fine-tune strategies of SVD and Open-Sora, SSv2 FVD (supp. Table 2)",
            ),
            ("supp-table3", "SUPP_TABLE3", "Training time and memory, 16 frames (supp. Table 3)"),
            ("supp-table4", "SUPP_TABLE4", "Training time and memory at ≥90% GPU memory (supp. Table 4)"),
            ("supp-table5", "SUPP_TABLE5", "Zero-shot FVD on Epic-100 after SSv2 training (supp. Table 5)"),
            (
                "supp-table6",
                "SUPP_TABLE6",
                "Instruction following: FVD and CLIPScore on SSv2 (supp. Table 6)",
            ),
        )
    ]
    return systems + datasets + metrics + tables


CATALOGUE: dict[Kind, dict[str, Entry]] = {kind: {} for kind in KINDS}
for _entry in _entries():
    CATALOGUE[_entry.kind][_entry.name] = _entry


def names(kind: Kind) -> list[str]:
    return list(CATALOGUE[kind])


# A metric's bare name means the protocol the paper's tables use (records always carry the full name).
METRIC_ALIASES = {
    "fvd": "fvd@seer",
    "kvd": "kvd@seer",
    "fid": "fid@clean-frames",
    "kid": "kid@clean-frames",
    "clipsim": "clipsim@vitb32",
}


def canonical(kind: Kind, name: str) -> str:
    """`name` itself, or the full protocol name a bare metric name stands for."""
    return METRIC_ALIASES.get(name, name) if kind == "metric" else name


def get(kind: Kind, name: str) -> Entry:
    """The entry for `name` (a bare metric name: its paper protocol), or a UsageError with the closest
    registered name."""
    entries = CATALOGUE[kind]
    name = canonical(kind, name)
    if name not in entries:
        if kind == "system":
            from aidbench import plugins

            found = plugins.entry(name)
            if found is not None:
                return found
            raise UsageError(
                f"unknown system '{name}'{did_you_mean(name, [*entries, *plugins.names()])} (see `aidbench ls "
                "systems`; your own: package.module:callable, an `aidbench.systems` entry point, or "
                "diffusers:FOLDER)"
            )
        raise UsageError(
            f"unknown {kind} '{name}'{did_you_mean(name, entries)} (see `aidbench ls {kind}s` for the {kind}s)"
        )
    return entries[name]


def load(kind: Kind, name: str) -> Any:
    """Import and return the object behind `name`; a clear error when it is not built yet."""
    return target(get(kind, name))


def target(entry: Entry) -> Any:
    """Import and return the object an entry points at."""
    kind, name = entry.kind, entry.name
    if entry.target is None:
        raise NotBuiltError(f"the {kind} '{name}' is registered but not built yet (issue #{entry.issue}).")
    module_name, _, attr = entry.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        if not entry.external:
            raise
        raise UserError(f"system '{name}': cannot import {module_name} ({err}).") from err
    found = module
    for part in attr.split("."):  # module:Class.method and the like, as entry points allow
        if not hasattr(found, part):
            raise UserError(f"system '{name}': {module_name} has no attribute {attr}.")
        found = getattr(found, part)
    return found


def better(metric: str) -> Literal["lower", "higher"]:
    """Which way a registered metric improves (for charts and regression checks)."""
    entry = get("metric", metric)
    if entry.better is None:
        raise ValueError(f"metric '{metric}' does not declare whether lower or higher is better.")
    return entry.better
