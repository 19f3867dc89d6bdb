"""Open-Sora 1.2's video VAE, written for aidbench with the module names of the released
`hpcai-tech/OpenSora-VAE-v1.2` weights: the SDXL image VAE (diffusers' AutoencoderKL) per frame, then a causal
temporal VAE that turns every 17 frames into 5 latent frames (4 channels, 8× smaller in space).

Temporal VAE: causal 3D convolutions (front padding in time, symmetric in space; GroupNorm still pools
statistics over all frames), residual blocks with GroupNorm(32) and SiLU, two stride-2 time downsamplings in the encoder and depth-to-time upsamplings in
the decoder. 309,687,144 parameters (the Open-Sora report: "300M").
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from aidbench.errors import UserError

SHIFT = (-0.10, 0.34, 0.27, 0.98)
SCALE = (3.85, 2.32, 2.33, 3.06)
MICRO_FRAMES = 17  # pixel frames per temporal chunk → 5 latent frames
SPATIAL_SCALE = 0.18215  # the pipeline's own factor (not SDXL's 0.13025)


class CausalConv3d(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride_t: int = 1, bias: bool = True):
        super().__init__()
        self.kernel, self.stride_t = kernel, stride_t
        self.conv = nn.Conv3d(cin, cout, kernel, stride=(stride_t, 1, 1), bias=bias)

    def forward(self, x):
        k = self.kernel
        time = (k - 1) + (1 - self.stride_t)
        return self.conv(F.pad(x, (k // 2, k // 2, k // 2, k // 2, time, 0)))


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(32, cin)
        self.conv1 = CausalConv3d(cin, cout, 3, bias=False)
        self.norm2 = nn.GroupNorm(32, cout)
        self.conv2 = CausalConv3d(cout, cout, 3, bias=False)
        self.conv3 = CausalConv3d(cin, cout, 1, bias=False) if cin != cout else None

    def forward(self, x):
        h = self.conv2(F.silu(self.norm2(self.conv1(F.silu(self.norm1(x))))))
        return h + (self.conv3(x) if self.conv3 is not None else x)


def _stage(cin: int, cout: int, blocks: int) -> nn.ModuleList:
    return nn.ModuleList(ResBlock(cin if j == 0 else cout, cout) for j in range(blocks))


class Encoder(nn.Module):
    def __init__(
        self, channels=4, filters=128, blocks=4, multipliers=(1, 2, 2, 4), down=(False, True, True), latent=8
    ):
        super().__init__()
        self.conv_in = CausalConv3d(channels, filters, 3, bias=False)
        widths = [filters * m for m in multipliers]
        self.block_res_blocks = nn.ModuleList()
        self.conv_blocks = nn.ModuleList()
        previous = filters
        for i, width in enumerate(widths):
            self.block_res_blocks.append(_stage(previous, width, blocks))
            previous = width
            if i < len(widths) - 1:
                self.conv_blocks.append(
                    CausalConv3d(width, width, 3, stride_t=2) if down[i] else nn.Identity()
                )
        self.res_blocks = _stage(previous, previous, blocks)
        self.norm1 = nn.GroupNorm(32, previous)
        self.conv2 = CausalConv3d(previous, latent, 1)

    def forward(self, x):
        x = self.conv_in(x)
        for i, stage in enumerate(self.block_res_blocks):
            for block in stage:
                x = block(x)
            if i < len(self.conv_blocks):
                x = self.conv_blocks[i](x)
        for block in self.res_blocks:
            x = block(x)
        return self.conv2(F.silu(self.norm1(x)))


class Decoder(nn.Module):
    def __init__(
        self, channels=4, filters=128, blocks=4, multipliers=(1, 2, 2, 4), down=(False, True, True), latent=4
    ):
        super().__init__()
        widths = [filters * m for m in multipliers]
        self.down = down
        self.conv1 = CausalConv3d(latent, widths[-1], 3)
        self.res_blocks = _stage(widths[-1], widths[-1], blocks)
        # stage i turns widths[i+1] (or the top width) into widths[i]; indices follow the released keys
        self.block_res_blocks = nn.ModuleList(
            _stage(widths[min(i + 1, len(widths) - 1)], widths[i], blocks) for i in range(len(widths))
        )
        # conv_blocks[j] follows stage j + 1 and doubles its channels for the depth-to-time step
        self.conv_blocks = nn.ModuleList(
            CausalConv3d(widths[j + 1], widths[j + 1] * 2, 3) if down[j] else nn.Identity()
            for j in range(len(widths) - 1)
        )
        self.norm1 = nn.GroupNorm(32, filters)
        self.conv_out = CausalConv3d(filters, channels, 3)

    def forward(self, z):
        x = self.conv1(z)
        for block in self.res_blocks:
            x = block(x)
        for i in reversed(range(len(self.block_res_blocks))):
            for block in self.block_res_blocks[i]:
                x = block(x)
            if i > 0:
                x = self.conv_blocks[i - 1](x)
                if self.down[i - 1]:  # depth to time: channel c·2 + ts becomes frame t·2 + ts
                    b, c2, t, h, w = x.shape
                    x = (
                        x.reshape(b, c2 // 2, 2, t, h, w)
                        .permute(0, 1, 3, 2, 4, 5)
                        .reshape(b, c2 // 2, t * 2, h, w)
                    )
        return self.conv_out(F.silu(self.norm1(x)))


class TemporalVAE(nn.Module):
    """VAE_Temporal_SD: 4 → 4 channels, time ÷4 (a 17-frame chunk is padded to 20 at the front → 5)."""

    def __init__(self, channels: int = 4, filters: int = 128):
        super().__init__()
        self.encoder = Encoder(channels, filters)
        self.quant_conv = CausalConv3d(2 * channels, 2 * channels, 1)
        self.post_quant_conv = CausalConv3d(channels, channels, 1)
        self.decoder = Decoder(channels, filters)

    @staticmethod
    def _front_pad(frames: int) -> int:
        return (4 - frames % 4) % 4

    def encode(self, x: torch.Tensor, generator: torch.Generator | None = None, sample: bool = True):
        x = F.pad(x, (0, 0, 0, 0, self._front_pad(x.shape[2]), 0))
        mean, logvar = self.quant_conv(self.encoder(x)).chunk(2, dim=1)
        if not sample:
            return mean
        std = torch.exp(0.5 * logvar.clamp(-30.0, 20.0))
        return mean + std * torch.randn(mean.shape, generator=generator).to(mean.device, mean.dtype)

    def decode(self, z: torch.Tensor, num_frames: int) -> torch.Tensor:
        x = self.decoder(self.post_quant_conv(z))
        return x[:, :, self._front_pad(num_frames) :]


def latent_frames(frames: int) -> int:
    return 5 * (frames // MICRO_FRAMES) + -(-(frames % MICRO_FRAMES) // 4)


class VideoVAE(nn.Module):
    """The whole Open-Sora 1.2 VAE: per-frame SDXL VAE (×0.18215), temporal VAE per 17-frame chunk,
    then (z − shift) / scale. x (B, 3, T, H, W) in [-1, 1] ↔ z (B, 4, latent_frames(T), H/8, W/8)."""

    latent_channels = 4

    def __init__(self, spatial, temporal: TemporalVAE, micro_batch: int = 4):
        super().__init__()
        self.spatial_vae, self.temporal_vae, self.micro_batch = spatial, temporal, micro_batch
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 4, 1, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 4, 1, 1, 1))

    def encode(
        self, x: torch.Tensor, generator: torch.Generator | None = None, sample: bool = True
    ) -> torch.Tensor:
        b, _, t, h, w = x.shape
        frames = x.permute(0, 2, 1, 3, 4).flatten(0, 1)
        latents = []
        for chunk in frames.split(self.micro_batch):
            dist = self.spatial_vae.encode(chunk).latent_dist
            latents.append((dist.sample(generator) if sample else dist.mode()) * SPATIAL_SCALE)
        z = torch.cat(latents).unflatten(0, (b, t)).permute(0, 2, 1, 3, 4)
        z = torch.cat(
            [self.temporal_vae.encode(c, generator, sample) for c in z.split(MICRO_FRAMES, dim=2)], dim=2
        )
        return (z - self.shift) / self.scale

    def decode(self, z: torch.Tensor, num_frames: int) -> torch.Tensor:
        z = z * self.scale + self.shift
        chunks, remaining = [], num_frames
        for chunk in z.split(5, dim=2):
            chunks.append(self.temporal_vae.decode(chunk, min(MICRO_FRAMES, remaining)))
            remaining -= MICRO_FRAMES
        z = torch.cat(chunks, dim=2)
        b, _, t = z.shape[:3]
        frames = z.permute(0, 2, 1, 3, 4).flatten(0, 1)
        images = torch.cat(
            [self.spatial_vae.decode(c / SPATIAL_SCALE).sample for c in frames.split(self.micro_batch)]
        )
        return images.unflatten(0, (b, t)).permute(0, 2, 1, 3, 4)

    @staticmethod
    def latent_frames(frames: int) -> int:
        return latent_frames(frames)


class PixelVideo(nn.Module):
    """[smoke] `model.latent_space: pixels` for Open-Sora, as for AID: STDiT3 denoises the frames themselves
    (3 channels, one latent frame per frame). A random tiny VAE decodes any latent to noise, so nothing
    trained through it can be scored; the identity can."""

    latent_channels = 3

    def encode(self, x: torch.Tensor, generator=None, sample: bool = True) -> torch.Tensor:
        return x

    def decode(self, z: torch.Tensor, num_frames: int) -> torch.Tensor:
        return z[:, :, :num_frames]

    @staticmethod
    def latent_frames(frames: int) -> int:
        return frames


def sdxl_vae(tiny: bool = False):
    """diffusers' AutoencoderKL with the SDXL VAE architecture (the real weights load with from_pretrained)."""
    from diffusers import AutoencoderKL

    if tiny:
        return AutoencoderKL(
            block_out_channels=(32, 32, 32, 32),
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            layers_per_block=1,
            latent_channels=4,
        )
    return AutoencoderKL(
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=2,
        latent_channels=4,
        sample_size=1024,
    )


def folder_settings(folder) -> dict:
    """What the released folder's `config.json` (transformers' VideoAutoencoderPipeline config) sets:
    the chunk sizes and the latent shift and scale. The architecture it names must be the one written
    here; no config.json means Open-Sora 1.2's values."""
    import json

    path = Path(folder) / "config.json"
    settings = {"micro_batch": 4, "shift": SHIFT, "scale": SCALE}
    if not path.is_file():
        return settings
    try:
        stored = json.loads(path.read_text())
        spatial, temporal = stored.get("vae_2d") or {}, stored.get("vae_temporal") or {}
        kinds = (spatial.get("type"), temporal.get("type"), stored.get("micro_frame_size"))
    except (OSError, ValueError, AttributeError) as err:
        raise UserError(f"{path} is not a readable VideoAutoencoderPipeline config ({err}).") from None
    if kinds != ("VideoAutoencoderKL", "VAE_Temporal_SD", MICRO_FRAMES):
        raise UserError(
            f"{path} describes another VAE (vae_2d {kinds[0]}, vae_temporal {kinds[1]}, micro_frame_size "
            f"{kinds[2]}); aidbench runs Open-Sora 1.2's (VideoAutoencoderKL, VAE_Temporal_SD, 17)."
        )
    settings["micro_batch"] = int(spatial.get("micro_batch_size") or 4)
    for key in ("shift", "scale"):
        if isinstance(stored.get(key), list) and len(stored[key]) == 4:
            settings[key] = tuple(float(v) for v in stored[key])
    return settings


def load(folder, vae: VideoVAE | None = None) -> VideoVAE:
    """The released OpenSora-VAE-v1.2 (`model.safetensors` in `folder`), read with Open-Sora's key layout:
    `spatial_vae.module.<diffusers AutoencoderKL key>` (its wrapper keeps the SDXL VAE in `.module`),
    `temporal_vae.<TemporalVAE key>`, and optionally the `shift`/`scale` buffers (used when present, else
    config.json's). This layout is read from Open-Sora's code, not yet checked against the file itself: a file that differs
    is refused with the keys that were missing, unexpected or of another shape, so the mapping can be fixed.
    `vae`: the module to fill (default: the released architecture; tests pass a tiny one)."""
    from safetensors.torch import load_file

    path = Path(folder) / "model.safetensors"
    try:
        stored = load_file(str(path))
    except OSError as err:
        raise UserError(f"cannot read {path}: {err}.") from None
    prefix = "spatial_vae.module."
    state = {("spatial_vae." + k[len(prefix) :] if k.startswith(prefix) else k): v for k, v in stored.items()}
    settings = folder_settings(folder)
    vae = vae if vae is not None else VideoVAE(sdxl_vae(), TemporalVAE())
    vae.micro_batch = settings["micro_batch"]
    for key in ("shift", "scale"):  # the file's buffers, when present, are loaded over these below
        getattr(vae, key).copy_(torch.tensor(settings[key]).view(1, 4, 1, 1, 1))
    expected = vae.state_dict()
    optional = {"shift", "scale"}
    missing = sorted(set(expected) - set(state) - optional)
    unexpected = sorted(set(state) - set(expected))
    reshaped = sorted(k for k in set(expected) & set(state) if state[k].numel() != expected[k].numel())
    if missing or unexpected or reshaped:

        def listed(keys: list[str]) -> str:
            return ", ".join(keys[:5]) + (f" … ({len(keys)} in all)" if len(keys) > 5 else "")

        problems = [
            f"{what}: {listed(keys)}"
            for what, keys in (
                ("missing", missing),
                ("unexpected", unexpected),
                ("another shape", reshaped),
            )
            if keys
        ]
        raise UserError(
            f"{path} does not fit Open-Sora 1.2's VAE as aidbench reads it (keys {'; '.join(problems)}); "
            "spatial_vae.module.* and temporal_vae.* were expected — please report these key names."
        )
    state = {k: v.reshape(expected[k].shape) for k, v in state.items()}
    vae.load_state_dict(state, strict=False)
    return vae.eval()
