"""Typed configs: dataclass defaults ← YAML preset ← `--config FILE` ← `--set a.b=c` / CLI options.

Each layer is a nested dict; they are merged in that order (later wins) and validated once against the
dataclasses below, so an unknown key or a value of the wrong type is one clear error that names the key,
the layer that set it and the closest valid key. The defaults are the paper's settings (its main text and
supplementary Table 7); the presets change only what differs. Fields tagged [ours] are choices the paper
does not make.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import typing
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic.dataclasses import dataclass

from aidbench.errors import UsageError, UserError, did_you_mean

_STRICT = ConfigDict(extra="forbid")


def _env_path(var: str, default: str) -> str:
    return os.environ.get(var) or default


@dataclass(config=_STRICT)
class DataConfig:
    dataset: str = "synthtvp"
    # Dataset root; None means <paths.data>/<dataset>.
    root: str | None = None
    train_split: str = "train"
    eval_split: str = "validation"
    # Short side resized to this, then centre-cropped to a square (the paper's data protocol).
    resolution: int = Field(256, gt=0)
    num_frames: int = Field(16, gt=1)
    # 1 in AID's figures, 2 in Seer's SSv2 protocol, 5 in the UCF-101 5-ref setting.
    num_ref_frames: int = Field(1, gt=0)
    # uniform: Seer's resampling of the whole clip; stride: every k-th frame from an offset; consecutive.
    frame_sampling: Literal["uniform", "stride", "consecutive"] = "uniform"
    frame_stride: int = Field(1, gt=0)
    # First frame read by stride/consecutive sampling.
    frame_offset: int = Field(0, ge=0)
    # How clips are read and predictions quantised. "aidbench": frames in natural order, uint8 resize,
    # one rounding; clips too short are skipped. "seer": Seer's loader step for step (frames in
    # `Path.glob` order, PIL Resize + CenterCrop, float blending, short clips zero-padded, real clips and
    # predictions truncated by `(x * 255).astype(uint8)`), for numbers comparable with Seer's code.
    chain: Literal["aidbench", "seer"] = "aidbench"
    # Cap on the clips a stage reads (None: all), e.g. UCF-101's 2,048 test samples.
    max_clips: int | None = Field(None, gt=0)
    # [ours] Cap on the clips of the training split only (None: data.max_clips applies to it too).
    train_clips: int | None = Field(None, gt=0)
    # [smoke] synthtvp's task variant (aidbench/data/synthtvp.py, VARIANTS): "full" (the benchmark) or
    # "move1" (one object, the four move instructions only).
    synthtvp_task: Literal["full", "move1"] = "full"
    # [ours] synthtvp's look (synthtvp.py, DOMAINS): "default", or "shifted" (larger objects on mid-grey),
    # which a model trained on the default domain has never seen: the zero-shot transfer of Table 5.
    synthtvp_domain: Literal["default", "shifted"] = "default"
    # [ours] Stop with an error when more than this fraction of videos is corrupt.
    max_corrupt_fraction: float = Field(0.01, ge=0.0, le=1.0)

    @field_validator("chain")
    @classmethod
    def _seer_resamples(cls, value: str, info: ValidationInfo) -> str:
        if value == "seer" and info.data.get("frame_sampling") != "uniform":
            raise ValueError("Seer's loader resamples the whole video: it needs data.frame_sampling uniform")
        return value

    @field_validator("num_ref_frames")
    @classmethod
    def _refs_fit(cls, value: int, info: ValidationInfo) -> int:
        frames = info.data.get("num_frames")
        if frames is not None and value >= frames:
            raise ValueError(f"must be smaller than data.num_frames ({frames}), got {value}")
        return value


@dataclass(config=_STRICT)
class AdapterConfig:
    """AID's adapters (model/adapters.py); a switch per adapter gives the ablation rows."""

    spatial: bool = True
    short_term: bool = True
    long_term: bool = True
    # [ours] bottleneck width / block width; unpublished, SimDA (same first author) uses 0.25
    bottleneck_ratio: float = Field(0.25, gt=0, le=1)
    # [ours] channels per head of the long-term adapter's temporal attention
    head_dim: int = Field(64, gt=0)


@dataclass(config=_STRICT)
class MConditionConfig:
    """DQFormer (model/dqformer.py), supplementary Table 8; branch switches give the ablation rows."""

    multimodal: bool = True
    decomposed: bool = True
    # False: "full model without LLaVA" (no state descriptions)
    use_states: bool = True
    # Where the four state sentences per clip come from when training and sampling: the state cache
    # (`aidbench data states`, default <dataset root>/states.jsonl), or synthtvp's ground truth (oracle).
    states_source: Literal["cache", "oracle"] = "cache"
    states_cache: str | None = None
    width: int = Field(1024, gt=0)
    layers: int = Field(2, gt=0)
    heads: int = Field(8, gt=0)
    query_length: int = Field(77, gt=0)
    # [ours] MLP width / model width in DQFormer layers
    mlp_ratio: int = Field(4, gt=0)


@dataclass(config=_STRICT)
class OpenSoraConfig:
    """The Open-Sora 1.2 baselines (opensora-zeroshot, opensora-fullft; baselines/opensora_system.py)."""

    # Open-Sora shifts timesteps towards noise for larger videos, r = √(H·W / 512²)·√frames′.
    # open-sora: its own frames′ = (pixel frames // 17)·5, which is 0 for clips of 2…16 frames (every t
    # becomes 0: the preflight refuses that); latent-frames [ours]: frames′ = the clip's latent frame count
    # (the same as Open-Sora's for 17·k frames); off [ours]: t unshifted.
    timestep_transform: Literal["open-sora", "latent-frames", "off"] = "open-sora"
    # Open-Sora 1.2's rate of replacing the caption by its learned null caption while training.
    caption_dropout: float = Field(0.1, ge=0.0, le=1.0)
    # The fps STDiT3 is told (Open-Sora 1.2's inference default; [ours] for clips resampled to 16 frames).
    fps: float = Field(24.0, gt=0)


@dataclass(config=_STRICT)
class SeerConfig:
    """The Seer baseline (baselines/seer.py)."""

    # sd15: SD 1.5's UNet with new temporal layers, where Seer's training starts; released: Seer's own
    # fine-tune (the `seer` weights), which samples without training.
    init: Literal["sd15", "released"] = "sd15"
    # FSText starts from Seer's initialisation checkpoint (`seer-fstext-init`); False: as Seer constructs
    # it (zero query and positions, random layers). Only the paper sizes read weights.
    fstext_init: bool = True
    # Seer's initialisation loss (its `text_loss`: the frames' mean sub-instruction against the instruction)
    # added to the denoising loss; Seer sets it only for the FSText initialisation stage.
    text_loss: bool = False
    # [ours] Rate of training with the empty text in place of the sub-instructions (Seer: none).
    text_dropout: float = Field(0.0, ge=0.0, le=1.0)
    # [smoke] Train the spatial (SD 1.5) layers too: a tiny UNet has no image pretraining to keep frozen.
    train_spatial: bool = False


@dataclass(config=_STRICT)
class ModelConfig:
    # A registered system (`aidbench ls systems`).
    name: str = "aid"
    # paper: the real architecture sizes; tiny: the same code at test sizes; smoke: tiny widths with the
    # UNet's cross-attention at its low-resolution level only (the smoke preset's calibrated layout).
    size: Literal["paper", "tiny", "smoke"] = "paper"
    adapters: AdapterConfig = dataclasses.field(default_factory=AdapterConfig)
    mcondition: MConditionConfig = dataclasses.field(default_factory=MConditionConfig)
    # The paper trains the UNet's cross-attention layers (they read MCondition) with DQFormer and adapters.
    train_cross_attention: bool = True
    # Every UNet weight trains as well: supplementary Tables 3-4's "Ours (full finetune)".
    full_finetune: bool = False
    opensora: OpenSoraConfig = dataclasses.field(default_factory=OpenSoraConfig)
    seer: SeerConfig = dataclasses.field(default_factory=SeerConfig)
    # [smoke] vae: SVD's latent space (the paper); pixels: the UNet denoises frames directly through an
    # identity autoencoder (3 channels, no VAE), so a tiny model learns in minutes on a CPU.
    latent_space: Literal["vae", "pixels"] = "vae"
    # [smoke] A pretrained base UNet (safetensors, written by a base pretraining run, see
    # train.base_steps) that replaces the random tiny/smoke SVD UNet; None: random (tiny) or SVD's weights.
    base_weights: str | None = None
    # [smoke] clip: CLIP's text tower (ViT-H/14's, or a random tiny one at test sizes); words: a fixed
    # stand-in that gives every token the sentence's feature (model/text.py, WordFeatures), because a
    # random tiny CLIP's features do not carry the instruction to a tiny AID in minutes.
    text_tower: Literal["clip", "words"] = "clip"

    @field_validator("latent_space", "text_tower")
    @classmethod
    def _small_only(cls, value: str, info: ValidationInfo) -> str:
        """[smoke] values the paper's released weights cannot take."""
        refused = _SMALL_ONLY.get((info.field_name, value))
        if refused and info.data.get("size") == "paper":
            raise ValueError(refused)
        return value


_SMALL_ONLY = {
    (
        "latent_space",
        "pixels",
    ): "pixels needs model.size tiny or smoke (SVD's released UNet reads VAE latents)",
    ("text_tower", "words"): "text_tower words needs model.size tiny or smoke (the paper uses CLIP ViT-H/14)",
}


@dataclass(config=_STRICT)
class TrainConfig:
    # Supplementary Table 7.
    max_steps: int = Field(100_000, gt=0)
    batch_size_per_device: int = Field(8, gt=0)
    learning_rate: float = Field(5e-5, gt=0)
    lr_scheduler: Literal["constant"] = "constant"
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    weight_decay: float = 1e-2
    mixed_precision: Literal["no", "fp16", "bf16"] = "bf16"
    gradient_checkpointing: bool = False
    # [ours] Speed and memory switches (measured by `aidbench bench train`). sdpa: PyTorch's fused
    # scaled-dot-product attention (diffusers' default); math: the plain softmax(QK^T)V processor.
    attention: Literal["sdpa", "math"] = "sdpa"
    # Frozen weights (VAE, encoders, the frozen UNet) held in this dtype, without gradients; a half dtype
    # needs the matching mixed_precision, whose autocast then runs on the CPU too.
    frozen_dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    channels_last: bool = False

    @field_validator("frozen_dtype")
    @classmethod
    def _frozen_needs_autocast(cls, value: str, info: ValidationInfo) -> str:
        wanted = {"bfloat16": "bf16", "float16": "fp16"}.get(value)
        if wanted and info.data.get("mixed_precision") != wanted:
            raise ValueError(f"frozen_dtype={value} needs mixed_precision={wanted} (its autocast)")
        return value

    # [ours] Linear learning-rate warm-up over this many first steps (0: the paper's constant rate).
    lr_warmup_steps: int = Field(0, ge=0)
    # [ours] Exponential moving average of the trained weights (diffusers' EMAModel: decay
    # (1 + step) / (10 + step), capped at this value); the run's output holds the averaged weights, its
    # checkpoints both. 0: off (the paper names none).
    ema_decay: float = Field(0.0, ge=0.0, lt=1.0)
    # [ours] Checkpoint cadence and how many `checkpoint-<step>` folders to keep.
    checkpoint_every: int = Field(5_000, gt=0)
    checkpoints_total_limit: int | None = Field(3, gt=0)
    # [ours] clips of the evaluation split sampled (fixed seeds) as mp4 previews at every checkpoint
    validation_clips: int = Field(2, ge=0)
    # Training noise levels: ln σ ~ N(mean, std). SVD's are N(0.7, 1.6) [ours, standard SVD fine-tuning];
    # the smoke preset shifts them higher [smoke], which a tiny pixel-space model needs to learn motion.
    log_sigma_mean: float = 0.7
    log_sigma_std: float = Field(1.6, gt=0)
    # [smoke] Loss weight of the pixels the motion touches (where any frame differs from the first);
    # every other pixel weighs 1. 1.0 is the paper's plain loss.
    motion_loss_weight: float = Field(1.0, ge=1.0)
    # [smoke] `aidbench reproduce` first trains a text-blind base UNet (SVD's objective, all weights,
    # the training split without text: SVD's generic video pretraining in miniature) for this many steps,
    # freezes it, and builds every system on it. 0: no base stage (the base is SVD's released weights).
    base_steps: int = Field(0, ge=0)


@dataclass(config=_STRICT)
class SampleConfig:
    # Supplementary Table 7.
    num_inference_steps: int = Field(30, gt=0)
    text_guidance_scale: float = 12.0
    visual_guidance_scale: float = 1.5
    # Samples of each clip (K), each seeded by (run seed, clip id, k); eval scores the first.
    num_samples: int = Field(1, gt=0)
    # SVD's own per-frame guidance, first to last frame (svd-zeroshot): its pipeline's defaults.
    svd_min_guidance: float = 1.0
    svd_max_guidance: float = 3.0
    # Open-Sora 1.2's caption guidance scale (its inference default; opensora-zeroshot, opensora-fullft).
    opensora_guidance_scale: float = 7.0
    # Seer's text guidance scale over DDIM's steps (its inference default; seer).
    seer_guidance_scale: float = 7.5
    # [smoke] Seer's sampling starts from pure noise; True starts from the last reference frame noised to
    # the first timestep. SD 1.5's schedule keeps some signal at its last timestep (ᾱ = 0.0047), which a
    # tiny pixel-space model learns to read (the clip's mean colour) and pure noise lacks.
    seer_reference_prior: bool = False
    # Keyword arguments for an outside system's predictor class (predictor.py), e.g. a weights path:
    # --set sample.system_options.weights=/path/model.safetensors.
    system_options: dict[str, Any] = dataclasses.field(default_factory=dict)

    @field_validator("system_options")
    @classmethod
    def _typed(cls, value: dict[str, Any]) -> dict[str, Any]:
        """--set gives text: numbers and booleans become numbers and booleans, as YAML reads them."""
        return {key: _scalar(item) for key, item in value.items()}


@dataclass(config=_STRICT)
class EvalConfig:
    # Registered metric names, protocol included (`aidbench ls metrics`).
    metrics: list[str] = dataclasses.field(default_factory=lambda: ["fvd@seer"])
    # Resamples of the percentile bootstrap for per-clip metrics' intervals (0: none).
    bootstrap_samples: int = Field(1000, ge=0)
    # Groups of clips per side for set-level metrics' jackknife intervals (FVD, KVD, FID, KID; 0: none).
    jackknife_groups: int = Field(20, ge=0)
    # Random halvings of the real clips for set-level metrics' real-vs-real noise floor (0: none).
    noise_floor_splits: int = Field(10, ge=0)
    confidence: float = Field(0.95, gt=0, lt=1)
    # Frames that per-frame metrics (FID, KID, CLIPSIM) score: all, or only the predicted ones.
    frames: Literal["all", "predicted"] = "all"
    # Where a protocol that scores a fixed number of frames (fvd@styleganv: 16) takes them from each real
    # clip: its start, or a random start as StyleGAN-V's loader does (seeded here by `seed`). Generated
    # clips are always scored from their first frame, as StyleGAN-V does.
    real_offset: Literal["first", "random"] = "first"
    # FVD and KVD of protocols that take clips of any length (fvd@seer, kvd@seer) also on every prefix of
    # the clips from 9 frames on: a curve over the horizon (one more I3D pass over both sets per prefix).
    prefixes: bool = False


@dataclass(config=_STRICT)
class PathsConfig:
    results: str = dataclasses.field(default_factory=lambda: _env_path("AIDBENCH_RESULTS", "results"))
    data: str = dataclasses.field(default_factory=lambda: _env_path("AIDBENCH_DATA", "data"))
    # Explicit weight files or folders by name (`--weights NAME=PATH`); they beat the weights folder.
    files: dict[str, str] = dataclasses.field(default_factory=dict)
    weights: str = dataclasses.field(
        default_factory=lambda: _env_path(
            "AIDBENCH_WEIGHTS", str(Path("~/.cache/aidbench/weights").expanduser())
        )
    )


@dataclass(config=_STRICT)
class Variant:
    """A named configuration of a registered system (an ablation, a task): `system` with `set`'s dotted
    settings changed. A preset's `systems` may list it like a system; its runs carry its name (`variant`)."""

    system: str
    set: dict[str, Any] = dataclasses.field(default_factory=dict)
    # Sample with the checkpoint `reproduce` trains for this other entry of `systems` instead of training
    # one: a zero-shot transfer when `set` changes the data (data.synthtvp_domain: shifted).
    checkpoint_of: str | None = None


@dataclass(config=_STRICT)
class Config:
    preset: str | None = None
    seed: int = 0
    # `aidbench reproduce` runs every stage once per seed listed here (as if `seed` were each in turn)
    # and summarises over them: mean, standard deviation and each seed's numbers. Empty: `seed` alone.
    seeds: list[int] = dataclasses.field(default_factory=list)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # The systems `aidbench reproduce` runs for this preset (registered systems, or names of `variants`).
    systems: list[str] = dataclasses.field(default_factory=lambda: ["aid"])
    # Named configurations of registered systems (ablations, tasks) that `systems` may list.
    variants: dict[str, Variant] = dataclasses.field(default_factory=dict)
    # The variant a run was made for (set by `reproduce`), so its numbers carry that name; None: the system.
    variant: str | None = None
    # Systems whose training `reproduce` also times at the preset's sizes and batch (`aidbench bench train`
    # names: aid, aid-fullft, svd-fullft, opensora-fullft, videofusion): supplementary Table 3 in miniature.
    bench: list[str] = dataclasses.field(default_factory=list)
    # How many of those systems `aidbench reproduce` trains and samples side by side, each in a process
    # of its own with its share of the CPU threads (1: one after another, in-process; a GPU wants 1).
    jobs: int = Field(1, ge=1)
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    sample: SampleConfig = dataclasses.field(default_factory=SampleConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    paths: PathsConfig = dataclasses.field(default_factory=PathsConfig)

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, value: list[int]) -> list[int]:
        if len(set(value)) != len(value):
            raise ValueError("seeds must be distinct")
        if len(value) == 1:
            raise ValueError("one seed is `seed`; seeds lists two or more (or none)")
        return value

    @model_validator(mode="after")
    def _known_variants(self) -> Config:
        for name, variant in self.variants.items():
            for key in variant.set:
                if key.split(".")[0] not in ("data", "model", "train", "sample"):
                    raise ValueError(f"variant {name}: {key} is not a data, model, train or sample setting")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def for_system(self, name: str, source: str = "aidbench reproduce") -> Config:
        """This config for one of `systems`: a registered system as it is, or a variant's system with the
        variant's settings (and its name in `variant`)."""
        if name not in self.variants:
            return with_changes(self, source, model={"name": name})
        variant = self.variants[name]
        layer: dict[str, Any] = {}
        for key, value in variant.set.items():
            _assign(layer, key.split("."), value)
        values = _merge(self.to_dict(), layer)
        values["model"]["name"] = variant.system
        values["variant"] = name
        return from_dict(values, source=f"variant {name}")

    def sha256(self) -> str:
        return config_sha256(self.to_dict())


def config_sha256(config: Mapping[str, Any]) -> str:
    """Hash of the settings that can change a result: canonical JSON, so key order never matters.

    `paths` is left out: where files live differs between machines and changes no number.
    """
    settings = {key: value for key, value in config.items() if key != "paths"}
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


# --------------------------------------------------------------------------- presets and layers


def preset_names() -> list[str]:
    return sorted(
        p.name[: -len(".yaml")]
        for p in resources.files("aidbench.presets").iterdir()
        if p.name.endswith(".yaml")
    )


def _read_yaml(text: str, where: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise UsageError(f"{where}{line}: not valid YAML ({problem}).") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{where}: a config file must hold a mapping of keys, not a {type(data).__name__}.")
    return data


def load_preset(name: str) -> dict[str, Any]:
    names = preset_names()
    if name not in names:
        raise UsageError(f"unknown preset '{name}'{did_you_mean(name, names)} (presets: {', '.join(names)})")
    text = resources.files("aidbench.presets").joinpath(f"{name}.yaml").read_text()
    layer = _read_yaml(text, f"preset {name}")
    parent = layer.pop("extends", None)
    if parent is not None:  # a preset that is another with some settings added or changed
        layer = _merge(load_preset(parent), layer)
    layer["preset"] = name
    return layer


def load_config_file(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file {path} does not exist; pass an existing YAML file to --config.")
    try:
        text = path.read_text()
    except OSError as err:
        raise UserError(f"cannot read config file {path}: {err.strerror}.") from None
    return _read_yaml(text, str(path))


def _scalar(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (bool, int, float)) else text


def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """`a.b=c` strings into a nested dict.

    Scalars stay strings so the field's type decides (pydantic turns "256" into 256 for an int field and
    keeps "1" a string for a str field); lists and mappings are read as YAML; null/none/~ mean None.
    """
    layer: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or any(not part for part in key.split(".")):
            raise UsageError(
                f"--set expects KEY=VALUE with a dotted key such as data.resolution=64, got '{item}'."
            )
        raw = raw.strip()
        value: Any = raw
        if raw.lower() in ("null", "none", "~"):
            value = None
        elif raw[:1] in ("[", "{"):
            value = _read_yaml(f"v: {raw}", f"--set {key}")["v"]
        _assign(layer, key.split("."), value)
    return layer


def _assign(tree: dict[str, Any], parts: list[str], value: Any) -> None:
    for part in parts[:-1]:
        node = tree.setdefault(part, {})
        if not isinstance(node, dict):
            raise UsageError(f"--set {'.'.join(parts)}: '{part}' is a value, not a section.")
        tree = node
    tree[parts[-1]] = value


def _merge(base: dict[str, Any], layer: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in layer.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


# --------------------------------------------------------------------------- resolution


@dataclasses.dataclass(frozen=True)
class Layer:
    """One source of settings, with the label that error messages use for it."""

    source: str
    values: Mapping[str, Any]


def resolve(
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: Iterable[str] = (),
    cli: Mapping[str, Any] | None = None,
) -> Config:
    """Defaults ← preset ← file ← `--set` ← explicit CLI options, validated once."""
    layers: list[Layer] = []
    if preset:
        layers.append(Layer(f"preset {preset}", load_preset(preset)))
    if config_file:
        layers.append(Layer(str(config_file), load_config_file(config_file)))
    overrides = list(overrides)
    if overrides:
        layers.append(Layer("--set", parse_overrides(overrides)))
    if cli:
        nested: dict[str, Any] = {}
        for key, value in cli.items():
            if value is not None:
                _assign(nested, key.split("."), value)
        layers.append(Layer("the command line", nested))
    return build(layers)


def build(layers: Iterable[Layer]) -> Config:
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for layer in layers:
        merged = _merge(merged, layer.values)
        origin.update(dict.fromkeys(_flatten(layer.values), layer.source))
    try:
        return Config(**merged)
    except ValidationError as err:
        raise UsageError(_explain(err, origin)) from None
    except TypeError as err:  # a non-mapping where a section belongs, e.g. `data: 3`
        raise UsageError(f"invalid config: {err}.") from None


def _explain(err: ValidationError, origin: Mapping[str, str]) -> str:
    """One sentence per problem: the dotted key, where it was set, what is wrong, the nearest valid key."""
    sentences = []
    for problem in err.errors():
        loc = [str(p) for p in problem["loc"]]
        key = ".".join(loc)
        source = _source_of(key, origin)
        kind = problem["type"]
        if kind in ("unexpected_keyword_argument", "extra_forbidden"):
            valid = _valid_keys(loc[:-1])
            prefix = ".".join(loc[:-1]) + "." if len(loc) > 1 else ""
            hint = did_you_mean(loc[-1], valid, prefix) or f" (valid keys here: {', '.join(sorted(valid))})"
            sentences.append(f"unknown config key '{key}' (set in {source}){hint}")
        elif kind == "dataclass_type" or "mapping" in kind:
            sentences.append(f"config key '{key}' (set in {source}) must be a section of keys, not a value")
        else:
            got = problem.get("input")
            message = problem["msg"].removeprefix("Value error, ")
            shown = f", got {got!r}" if kind != "value_error" and not isinstance(got, dict) else ""
            sentences.append(f"config key '{key or '(top level)'}' (set in {source}): {message}{shown}")
    text = "invalid config: " + "; ".join(sentences)
    return text if text.endswith("?") else text + "."


def _source_of(key: str, origin: Mapping[str, str]) -> str:
    if key in origin:
        return origin[key]
    matches = [src for k, src in origin.items() if k.startswith(key + ".") or key.startswith(k + ".")]
    return matches[-1] if matches else "the defaults"


def _valid_keys(loc: list[str]) -> list[str]:
    """The field names of the config section at `loc` (empty when `loc` is not a section)."""
    cls: Any = Config
    for part in loc:
        cls = typing.get_type_hints(cls).get(part)
        if not dataclasses.is_dataclass(cls):
            return []
    return [f.name for f in dataclasses.fields(cls)]


def to_yaml(config: Config) -> str:
    return yaml.safe_dump(config.to_dict(), sort_keys=False)


def from_dict(values: Mapping[str, Any], source: str = "a run manifest") -> Config:
    """Rebuild a Config from a stored, resolved config (e.g. a manifest's), validating it again."""
    return build([Layer(source, values)])


def with_changes(config: Config, source: str, **sections: Any) -> Config:
    """`config` with some keys of its sections changed (`model={"name": "aid"}`), or a top-level value
    replaced (`seed=3`), validated again; `source` names who changed them in a validation error."""
    values = config.to_dict()
    for section, changes in sections.items():
        values[section] = {**values[section], **changes} if isinstance(values[section], dict) else changes
    return from_dict(values, source=source)
