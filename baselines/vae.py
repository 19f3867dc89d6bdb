"""vae-recon: the ground-truth clip encoded and decoded by SVD's VAE — Table 2's upper baseline (FVD 7.14).

It measures what the latent space alone costs: no model can score better through this VAE.
"""

from __future__ import annotations

from aidbench import distributed
from aidbench.baselines.svd import build_svd, check
from aidbench.data.clips import quantisation, to_model
from aidbench.stages.sample import sample_clips
from aidbench.systems import System


def sample_reconstruction(config, run, checkpoint, split):
    import torch

    from aidbench.model.pipeline import to_uint8

    svd = build_svd(config)
    state = distributed.state(config.device == "cpu")
    svd.to(state.device)

    @torch.no_grad()
    def generate(context):  # an oracle: the true clip, encoded and decoded
        frames = to_model(context.truth).to(state.device)
        latents = svd.vae.encode(frames).latent_dist.mode() * svd.vae.config.scaling_factor
        video = svd.decode_latents(latents[None], len(frames), decode_chunk_size=len(frames))
        frames = svd.video_processor.postprocess_video(video=video, output_type="np")[0]
        return to_uint8(frames, quantisation(config.data))

    about = {"system": "vae-recon"}
    return sample_clips(config, run, split, generate, state, lambda context: about, truth=True)


VAE_RECON = System("vae-recon", sample=sample_reconstruction, check=check, on_base=True)
