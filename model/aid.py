"""AID's denoiser: SVD's spatio-temporal UNet, frozen, with adapters, trainable cross-attention, and
MCondition from DQFormer routed frame by frame into every cross-attention.

SVD feeds each frame one CLIP image token; AID feeds frame f the tokens MCondition[:, f]. The UNet repeats
its `encoder_hidden_states` for every frame, so the per-frame tokens are handed to each spatio-temporal
transformer by a forward pre-hook instead (the UNet's code is untouched). Without MCondition the denoiser
is exactly SVD's UNet plus zero-initialised adapters, i.e. SVD.
"""

from __future__ import annotations

import torch
from torch import nn

from aidbench.config import AdapterConfig, MConditionConfig
from aidbench.model.adapters import attach
from aidbench.model.dqformer import DQFormer, DQFormerConfig

# SVD image-to-video UNet (diffusers' defaults are SVD's); "tiny" is the same code at test sizes.
UNET_CONFIGS = {
    "paper": {},
    "tiny": {
        "block_out_channels": (32, 64),
        "down_block_types": ("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        "up_block_types": ("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        "num_attention_heads": (2, 4),
        "cross_attention_dim": 32,
        "layers_per_block": 1,
        "addition_time_embed_dim": 8,
        "projection_class_embeddings_input_dim": 24,
    },
}
# smoke: 32 channels at both levels (diffusers' group norm needs multiples of 32), cross-attention (and so
# AID's adapters) at the low-resolution level and the middle block only; the layout of the smoke preset
# (README, "smoke preset"), sized for a 2-core CPU.
UNET_CONFIGS["smoke"] = {
    **UNET_CONFIGS["tiny"],
    "block_out_channels": (32, 32),
    "num_attention_heads": (2, 2),
    "down_block_types": ("DownBlockSpatioTemporal", "CrossAttnDownBlockSpatioTemporal"),
    "up_block_types": ("CrossAttnUpBlockSpatioTemporal", "UpBlockSpatioTemporal"),
}
TINY_DQFORMER = {"width": 32, "layers": 1, "heads": 2, "query_length": 4}
# Channels the UNet denoises: SVD's 4 latent channels, or RGB in pixel space (model.latent_space).
LATENT_CHANNELS = {"vae": 4, "pixels": 3}


def build_unet(size: str, latent_space: str = "vae"):
    """SVD's UNet at a size; its input is the noisy clip and the reference conditioning, channel-stacked."""
    from diffusers import UNetSpatioTemporalConditionModel

    channels = LATENT_CHANNELS[latent_space]
    return UNetSpatioTemporalConditionModel(
        **UNET_CONFIGS[size], in_channels=2 * channels, out_channels=channels
    )


def dqformer_config(
    settings: MConditionConfig, size: str, cross_attention_dim: int, num_frames: int
) -> DQFormerConfig:
    values = dict(
        width=settings.width,
        layers=settings.layers,
        heads=settings.heads,
        query_length=settings.query_length,
        mlp_ratio=settings.mlp_ratio,
    )
    if size != "paper":
        values.update(TINY_DQFORMER)
    return DQFormerConfig(
        **values,
        token_channels=values["width"],
        output_channels=cross_attention_dim,
        context_dim=cross_attention_dim,
        num_frames=num_frames,
        multimodal=settings.multimodal,
        decomposed=settings.decomposed,
        use_states=settings.use_states,
    )


class AIDDenoiser(nn.Module):
    def __init__(
        self,
        unet: nn.Module,
        adapters: AdapterConfig,
        dqformer: DQFormerConfig | None,
        train_cross_attention: bool = True,
        full_finetune: bool = False,
    ):
        super().__init__()
        from diffusers.models.transformers.transformer_temporal import TransformerSpatioTemporalModel

        self.unet = unet
        self.adapters, self._handles = attach(unet, adapters)
        self.dqformer = DQFormer(dqformer) if dqformer is not None else None
        self._frame_context: torch.Tensor | None = None
        for module in unet.modules():
            if isinstance(module, TransformerSpatioTemporalModel):
                self._handles.append(module.register_forward_pre_hook(self._route, with_kwargs=True))
        for name, parameter in unet.named_parameters():
            parameter.requires_grad_(full_finetune or (train_cross_attention and ".attn2." in name))

    def _route(self, module, args, kwargs):
        if self._frame_context is not None:
            kwargs = {**kwargs, "encoder_hidden_states": self._frame_context}
        return args, kwargs

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor,
        added_time_ids: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        mcondition: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """sample (B, T, 8, h, w) → the UNet's output (B, T, 4, h, w).

        Give `mcondition` (B, T, L, C) for AID, or `encoder_hidden_states` (B, L, C) to run as SVD does.
        """
        if (mcondition is None) == (encoder_hidden_states is None):
            raise ValueError("give either mcondition (AID) or encoder_hidden_states (SVD), not both")
        if mcondition is None:
            return self.unet(sample, timestep, encoder_hidden_states, added_time_ids, return_dict=False)[0]
        b, t, length, channels = mcondition.shape
        self._frame_context = mcondition.reshape(b * t, length, channels)
        try:
            return self.unet(sample, timestep, mcondition[:, 0], added_time_ids, return_dict=False)[0]
        finally:
            self._frame_context = None

    def trainable_state_dict(self) -> dict[str, torch.Tensor]:
        """Only what AID trains: what a checkpoint holds (the frozen SVD weights load from their own files)."""
        return {name: p.detach() for name, p in self.named_parameters() if p.requires_grad}
