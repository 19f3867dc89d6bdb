"""svd-zeroshot: Stable Video Diffusion image-to-video as released, no text, no training (supplementary Table 2).

It conditions on the first reference frame only, with SVD's own per-frame guidance (1.0 → 3.0) and
micro-conditioning; the sampler is AIDPipeline's SVD mode, which equals diffusers' pipeline frame for frame.
"""

from __future__ import annotations

from aidbench import distributed, weights
from aidbench.config import AdapterConfig
from aidbench.data.clips import quantisation
from aidbench.data.open import open_dataset
from aidbench.stages.sample import sample_clips
from aidbench.systems import System


def build_svd(config, random_weights: bool = False):
    from aidbench.model.components import svd_for

    return svd_for(config, random_weights=random_weights)


def svd_generator(config, parts):
    """predict(context) → uint8 clip with SVD's own sampler (first reference frame, per-frame guidance)."""

    from aidbench.model.pipeline import AIDPipeline, to_uint8
    from aidbench.model.system import sampling_settings

    pipeline = AIDPipeline(parts.svd, parts.denoiser)
    settings = sampling_settings(config)
    guidance = (config.sample.svd_min_guidance, config.sample.svd_max_guidance)

    def generate(context):
        frames = pipeline(
            context.reference[:1],
            context.num_frames,
            settings=settings,
            generator=context.generator(),
            svd_guidance=guidance,
        )
        return to_uint8(frames, quantisation(config.data))

    return generate


def sample_zeroshot(config, run, checkpoint, split):
    from aidbench.model.aid import AIDDenoiser
    from aidbench.model.components import AIDComponents

    svd = build_svd(config)
    state = distributed.state(config.device == "cpu")
    svd.to(state.device)
    plain = AIDDenoiser(
        svd.unet, AdapterConfig(spatial=False, short_term=False, long_term=False), None
    ).eval()
    generate = svd_generator(config, AIDComponents(svd, plain, None))
    return sample_clips(config, run, split, generate, state, lambda context: {"system": "svd-zeroshot"})


def check(config, split):
    if config.model.size == "paper":
        weights.resolve_for(config, "svd")
    open_dataset(config, split)


SVD_ZEROSHOT = System("svd-zeroshot", sample=sample_zeroshot, check=check, on_base=True)
