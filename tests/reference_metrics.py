"""The reference pipelines each named protocol must reproduce, written out step by step from the reference
code (read, re-written; not copied), or calling the reference package itself where it is installed.

Each function takes the same files on disk that `aidbench eval` reads and returns the reference's number.
The networks are the reference's own classes where a package ships them (cd-fvd's copy of VideoGPT's
I3D, clean-fid's InceptionV3W, torchmetrics' CLIPScore); arithmetic is float64 where the reference's float32
would only add rounding noise to the comparison.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def clip_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir())


def frames_of(folder: Path) -> np.ndarray:
    """(T, H, W, 3) uint8: the frame files in name order, decoded by PIL."""
    return np.stack([np.array(Image.open(f).convert("RGB")) for f in sorted(folder.glob("*.png"))])


# --- Seer (SeerVideoLDM utils/fvd.py and utils/compute_fvd.py, which follow VideoGPT) ---------------------


def _seer_preprocess_single(video: torch.Tensor, resolution: int = 224) -> torch.Tensor:
    video = video.permute(0, 3, 1, 2).float() / 255.0  # TCHW
    t, c, h, w = video.shape
    scale = resolution / min(h, w)
    size = (resolution, math.ceil(w * scale)) if h < w else (math.ceil(h * scale), resolution)
    video = F.interpolate(video, size=size, mode="bilinear", align_corners=False)
    t, c, h, w = video.shape
    top, left = (h - resolution) // 2, (w - resolution) // 2
    video = video[:, :, top : top + resolution, left : left + resolution]
    video = video.permute(1, 0, 2, 3).contiguous()  # CTHW
    video -= 0.5
    return video


def _seer_logits(i3d, videos: np.ndarray) -> torch.Tensor:
    x = torch.stack([_seer_preprocess_single(v) for v in torch.from_numpy(videos)]) * 2
    with torch.no_grad():
        return torch.cat([i3d(x[i : i + 16]) for i in range(0, len(x), 16)]).double()


def _seer_sqrt(matrix: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    u, s, v = torch.svd(matrix)
    root = torch.where(s < eps, s, torch.sqrt(s))
    return u @ torch.diag(root) @ v.t()


def _seer_cov(m: torch.Tensor) -> torch.Tensor:
    m = m.t()  # a view: the centring below changes the caller's tensor, as in Seer
    fact = 1.0 / (m.size(1) - 1)
    m -= torch.mean(m, dim=1, keepdim=True)
    return fact * m.matmul(m.t()).squeeze()


def _seer_frechet(x1: torch.Tensor, x2: torch.Tensor) -> float:
    m, m_w = x1.mean(dim=0), x2.mean(dim=0)
    sigma, sigma_w = _seer_cov(x1), _seer_cov(x2)
    root = _seer_sqrt(sigma)
    trace_sqrt = torch.trace(_seer_sqrt(root @ sigma_w @ root))
    return float(torch.trace(sigma + sigma_w) - 2.0 * trace_sqrt + torch.sum((m - m_w) ** 2))


def _polynomial_mmd(x: np.ndarray, y: np.ndarray) -> float:
    """sklearn's polynomial_kernel defaults (degree 3, gamma 1/d, coef0 1) and Seer's unbiased estimate."""

    def kernel(a, b):
        return (a @ b.T / a.shape[1] + 1.0) ** 3

    m, n = len(x), len(y)
    k_xx, k_yy, k_xy = kernel(x, x), kernel(y, y), kernel(x, y)
    return float(
        (k_xx.sum() - np.diagonal(k_xx).sum()) / (m * (m - 1))
        + (k_yy.sum() - np.diagonal(k_yy).sum()) / (n * (n - 1))
        - 2 * k_xy.sum() / (m * n)
    )


def seer(real: Path, fake: Path, i3d_file: Path) -> dict[str, float]:
    """Seer's eval_video_fvd on whole clips: FVD, then KVD on the embeddings FVD's covariance step has
    centred in place (Seer's number), and KVD on the embeddings as they were (the textbook one)."""
    from cdfvd.third_party.i3d.pytorch_i3d import InceptionI3d

    i3d = InceptionI3d(400, in_channels=3)
    i3d.load_state_dict(torch.load(i3d_file, weights_only=True))
    i3d.eval()
    fake_embeddings = _seer_logits(i3d, np.stack([frames_of(c) for c in clip_folders(fake)]))
    real_embeddings = _seer_logits(i3d, np.stack([frames_of(c) for c in clip_folders(real)]))
    textbook = _polynomial_mmd(fake_embeddings.numpy().copy(), real_embeddings.numpy().copy())
    fvd = _seer_frechet(fake_embeddings, real_embeddings)
    kvd = _polynomial_mmd(fake_embeddings.numpy(), real_embeddings.numpy())
    return {"fvd@seer": fvd, "kvd@seer": kvd, "kvd@textbook": textbook}


# --- StyleGAN-V (src/metrics/frechet_video_distance.py, metric_utils.py, training/dataset.py) -------------


def _raw_moment_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """metric_utils.FeatureStats with capture_mean_cov: float64 running sums, population covariance."""
    x = features.astype(np.float64)
    mean = x.sum(axis=0) / len(x)
    return mean, (x.T @ x) / len(x) - np.outer(mean, mean)


def _scipy_frechet(mu_gen, sigma_gen, mu_real, sigma_real) -> float:
    import scipy.linalg

    m = np.square(mu_gen - mu_real).sum()
    s, _ = scipy.linalg.sqrtm(np.dot(sigma_gen, sigma_real), disp=False)
    return float(np.real(m + np.trace(sigma_gen + sigma_real - s * 2)))


def styleganv(real: Path, fake: Path, detector_file: Path, seed: int, num_frames: int = 16) -> float:
    """compute_fvd with the TorchScript detector: real clips from a random offset (the loader's
    random.randint, here from a seeded generator), generated clips from their first frame."""
    detector = torch.jit.load(str(detector_file)).eval()
    rng = random.Random(seed)

    def features(folders: list[Path], random_offset: bool) -> np.ndarray:
        clips = []
        for folder in folders:
            frames = frames_of(folder)
            offset = rng.randint(0, len(frames) - num_frames) if random_offset else 0
            clips.append(frames[offset : offset + num_frames].transpose(0, 3, 1, 2))  # TCHW, as the loader
        images = torch.from_numpy(np.stack(clips)).permute(0, 2, 1, 3, 4)  # BCTHW
        with torch.no_grad():
            return detector(images, rescale=True, resize=True, return_features=True).numpy()

    mu_real, sigma_real = _raw_moment_stats(features(clip_folders(real), True))
    mu_gen, sigma_gen = _raw_moment_stats(features(clip_folders(fake), False))
    return _scipy_frechet(mu_gen, sigma_gen, mu_real, sigma_real)


# --- cd-fvd's I3D path (the package itself) ----------------------------------------------------------------


def cd_fvd_i3d(real: Path, fake: Path, i3d_file: Path, num_frames: int = 16) -> float:
    """cd-fvd's `cdfvd(model='i3d').compute_fvd` on the first `num_frames` of each clip, its I3D loaded
    from our file instead of its download."""
    from cdfvd.fvd import cdfvd, get_i3d_logits
    from cdfvd.third_party.i3d.pytorch_i3d import InceptionI3d
    from cdfvd.utils.metric_utils import FeatureStats

    scorer = cdfvd.__new__(cdfvd)
    scorer.model_name, scorer.device, scorer.model_dtype = "i3d", "cpu", torch.float32
    scorer.real_stats = FeatureStats(max_items=None, capture_mean_cov=True)
    scorer.fake_stats = FeatureStats(max_items=None, capture_mean_cov=True)
    scorer.model = InceptionI3d(400, in_channels=3)
    scorer.model.load_state_dict(torch.load(i3d_file, weights_only=True))
    scorer.model.eval()
    scorer.feature_fn = get_i3d_logits
    videos = [np.stack([frames_of(c)[:num_frames] for c in clip_folders(root)]) for root in (real, fake)]
    return float(scorer.compute_fvd(*videos))


def cd_fvd_videomae(real: Path, fake: Path, videomae_file: Path, num_frames: int = 16) -> float:
    """cd-fvd's `cdfvd(model='videomae').compute_fvd`, its network built by VideoMAE-v2's own class at the
    sizes of our file (cd-fvd's loader builds the full ViT-g/14 only)."""
    from cdfvd.fvd import cdfvd, get_videomae_features
    from cdfvd.utils.metric_utils import FeatureStats

    from tests import published

    state = torch.load(videomae_file, weights_only=True)["module"]
    model = published.videomae_model(width=state["patch_embed.proj.weight"].shape[0])
    model.load_state_dict(state)
    scorer = cdfvd.__new__(cdfvd)
    scorer.model_name, scorer.device, scorer.model_dtype = "videomae", "cpu", torch.float32
    scorer.real_stats = FeatureStats(max_items=None, capture_mean_cov=True)
    scorer.fake_stats = FeatureStats(max_items=None, capture_mean_cov=True)
    scorer.model, scorer.feature_fn = model.eval(), get_videomae_features
    videos = [np.stack([frames_of(c)[:num_frames] for c in clip_folders(root)]) for root in (real, fake)]
    return float(scorer.compute_fvd(*videos))


# --- clean-fid (the package itself, on every frame laid out flat) -----------------------------------------


def clean_fid(real: Path, fake: Path, inception_file: Path, work: Path) -> dict[str, float]:
    """clean-fid's folder FID and KID in "clean" mode over the frames of every clip, with its own
    InceptionV3W wrapper around the TorchScript file: its get_folder_features, then fid_from_feats and
    kernel_distance (compute_kid's body: compute_kid itself takes no custom extractor). Its subsets use all
    frames when there are fewer than 1000, so its unseeded draw cannot change the number."""
    from cleanfid import fid
    from cleanfid.inception_torchscript import InceptionV3W

    model = InceptionV3W(str(inception_file.parent), download=False).eval()
    features = {}
    for name, root in (("real", real), ("fake", fake)):
        flat = work / f"flat_{name}"
        flat.mkdir(parents=True, exist_ok=True)
        for clip in clip_folders(root):
            for frame in sorted(clip.glob("*.png")):
                (flat / f"{clip.name}_{frame.name}").write_bytes(frame.read_bytes())
        features[name] = fid.get_folder_features(
            str(flat), model, num_workers=0, device=torch.device("cpu"), mode="clean", verbose=False
        ).astype(np.float64)
    return {
        "fid@clean-frames": float(fid.fid_from_feats(features["real"], features["fake"])),
        "kid@clean-frames": fid.kernel_distance(features["real"], features["fake"]),
    }


# --- torchmetrics' CLIPScore (the package itself, around OpenAI CLIP in open_clip) ------------------------


class _OpenCLIPAsTransformers(torch.nn.Module):
    """The two methods and the config torchmetrics calls on a transformers CLIPModel."""

    def __init__(self, model):
        super().__init__()
        self.model, self.config = model, type("Config", (), {})()

    def get_image_features(self, pixel_values):
        return self.model.encode_image(pixel_values)

    def get_text_features(self, input_ids=None, attention_mask=None):
        return self.model.encode_text(input_ids)


class _OpenCLIPProcessor:
    """A CLIPProcessor's call: OpenAI's image transform (as open_clip gives it) and CLIP's tokenizer."""

    def __init__(self, transform, tokenizer):
        self.transform, self.tokenizer = transform, tokenizer

    def __call__(self, images=None, text=None, return_tensors="pt", padding=True):
        if images is not None:
            pil = [Image.fromarray(i.permute(1, 2, 0).numpy()) for i in images]
            return {"pixel_values": torch.stack([self.transform(p) for p in pil])}
        ids = self.tokenizer(text)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def clip_score(fake: Path, clip_file: Path) -> float:
    """torchmetrics' CLIPScore over every (frame, instruction) pair of the generated clips."""
    import json

    import open_clip
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
    from open_clip.model import build_model_from_openai_state_dict
    from torchmetrics.multimodal.clip_score import CLIPScore

    model = build_model_from_openai_state_dict(torch.load(clip_file, weights_only=True)).float().eval()
    transform = open_clip.image_transform(
        224, is_train=False, mean=OPENAI_DATASET_MEAN, std=OPENAI_DATASET_STD
    )
    processor = _OpenCLIPProcessor(transform, open_clip.get_tokenizer("ViT-B-32-quickgelu"))
    metric = CLIPScore(model_name_or_path=lambda: (_OpenCLIPAsTransformers(model), processor))
    instructions = json.loads((fake / "instructions.json").read_text())
    with torch.no_grad():
        for clip in clip_folders(fake):
            frames = torch.from_numpy(frames_of(clip)).permute(0, 3, 1, 2)
            metric.update(list(frames), [instructions[clip.name]] * len(frames))
        return float(metric.compute())
