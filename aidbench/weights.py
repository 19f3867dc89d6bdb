"""The one table of weights aidbench knows, and how a weight is found on disk.

Nothing is downloaded implicitly. A weight is resolved in this order: an explicit path (`--weights
NAME=PATH`), then the weights folder (`paths.weights`, `$AIDBENCH_WEIGHTS`, default
~/.cache/aidbench/weights) under its expected file name, then the places its reference implementation
looks, never a world-writable folder such as /tmp. A missing weight is one error naming the file, every
place searched and where to get it.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aidbench import atomic
from aidbench.errors import UsageError, UserError, did_you_mean


@dataclass(frozen=True)
class Weight:
    name: str
    # Path under the weights folder: a file, or a folder for multi-file (diffusers/transformers) weights.
    filename: str
    # Where to get it: a direct download URL for single files, else the page of the release.
    source: str
    used_by: str
    # sha256 of the file, where one is published; None where nobody publishes one.
    sha256: str | None = None
    # For folders: files that must exist inside.
    required: tuple[str, ...] = ()
    # Other places the reference implementation looks, tried after the weights folder.
    also_at: tuple[str, ...] = ()

    @property
    def is_folder(self) -> bool:
        return bool(self.required)

    @property
    def url(self) -> str | None:
        """The direct download URL (the first word of `source`) for single files; None for folders."""
        return None if self.is_folder else self.source.split()[0]


KNOWN: dict[str, Weight] = {
    w.name: w
    for w in (
        Weight(
            "i3d",
            "i3d_pretrained_400.pt",
            "https://github.com/songweige/TATS/raw/main/tats/fvd/i3d_pretrained_400.pt "
            "(the VideoGPT / Seer / cd-fvd InceptionI3d, Kinetics-400)",
            "fvd@seer, kvd@seer, fvd@styleganv",
        ),
        Weight(
            "i3d-torchscript",
            "i3d_torchscript.pt",
            "https://www.dropbox.com/s/ge9e5ujwgetktms/i3d_torchscript.pt?dl=1 (StyleGAN-V's TorchScript detector)",
            "fvd@styleganv with its original detector",
        ),
        Weight(
            "videomae",
            "vit_g_hybrid_pt_1200e_ssv2_ft.pth",
            "https://pjlab-gvm-data.oss-cn-shanghai.aliyuncs.com/internvideo/videomaev2/"
            "vit_g_hybrid_pt_1200e_ssv2_ft.pth (VideoMAE-v2 ViT-g/14 fine-tuned on SSv2, as cd-fvd downloads it)",
            "fvd@videomae",
        ),
        Weight(
            "inception",
            "inception-2015-12-05.pt",
            "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt",
            "fid@clean-frames, kid@clean-frames",
        ),
        Weight(
            "alexnet",
            "alexnet-owt-7be5be79.pth",
            "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth (torchvision's ImageNet AlexNet, "
            "the backbone of LPIPS v0.1; its linear layers ship inside the lpips package)",
            "lpips@per-frame, diversity@lpips",
            # torch hub's cache, where the lpips package's own download would have put it
            also_at=("~/.cache/torch/hub/checkpoints/alexnet-owt-7be5be79.pth",),
        ),
        Weight(
            "clip",
            "ViT-B-32.pt",
            "https://openaipublic.azureedge.net/clip/models/"
            "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",
            "clipsim@vitb32",
            # OpenAI publishes each file's sha256 as the folder of its URL.
            sha256="40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
        ),
        Weight(
            "svd",
            "stable-video-diffusion-img2vid",
            "https://huggingface.co/stabilityai/stable-video-diffusion-img2vid (diffusers layout)",
            "aid, svd-zeroshot, svd-fullft, vae-recon",
            required=("model_index.json", "unet/config.json", "vae/config.json", "image_encoder/config.json"),
        ),
        Weight(
            "clip-vit-h14",
            "CLIP-ViT-H-14-laion2B-s32B-b79K/open_clip_model.safetensors",
            "https://huggingface.co/laion/CLIP-ViT-H-14-laion2B-s32B-b79K (the text tower beside SVD's image tower)",
            "aid (instruction and state text encoder)",
        ),
        Weight(
            "opensora-stdit3",
            "OpenSora-STDiT-v3",
            "https://huggingface.co/hpcai-tech/OpenSora-STDiT-v3 (STDiT3-XL/2, Open-Sora 1.2)",
            "opensora-zeroshot, opensora-fullft",
            required=("model.safetensors",),
        ),
        Weight(
            "opensora-vae",
            "OpenSora-VAE-v1.2",
            "https://huggingface.co/hpcai-tech/OpenSora-VAE-v1.2",
            "opensora-zeroshot, opensora-fullft",
            required=("model.safetensors",),
        ),
        Weight(
            "t5-xxl",
            "t5-v1_1-xxl",
            "https://huggingface.co/DeepFloyd/t5-v1_1-xxl (transformers layout)",
            "opensora-zeroshot, opensora-fullft (captions)",
            required=("config.json",),
        ),
        Weight(
            "sd15",
            "stable-diffusion-v1-5",
            "https://huggingface.co/stable-diffusion-v1-5/stable-diffusion-v1-5 (diffusers layout, full or fp16 "
            "safetensors; formerly runwayml/stable-diffusion-v1-5)",
            "seer (the spatial UNet, VAE and CLIP text encoder it inflates)",
            required=(
                "model_index.json",
                "unet/config.json",
                "vae/config.json",
                "text_encoder/config.json",
                "tokenizer/vocab.json",
                "scheduler/scheduler_config.json",
            ),
        ),
        Weight(
            "seer",
            "SeerVideo/sthv2_seer/learned_sdunet-steps-200000",
            "https://huggingface.co/xianfang/SeerVideo (a fine-tune's learned_sdunet-steps-N folder: sthv2_seer, "
            "bridge_seer, epickitchen_seer or sthv2bridge_seer)",
            "seer with model.seer.init released (the UNet and FSText Seer fine-tuned)",
            required=("pytorch_model.bin", "pytorch_model_1.bin"),
        ),
        Weight(
            "seer-fstext-init",
            "SeerVideo/fstext_init/pytorch_model.bin",
            "https://huggingface.co/xianfang/SeerVideo/resolve/main/fstext_init/pytorch_model.bin "
            "(Seer's FSText after its initialisation stage)",
            "seer (FSText's starting point, model.seer.fstext_init)",
        ),
        Weight(
            "llava",
            "llava-1.5-7b-hf",
            "https://huggingface.co/llava-hf/llava-1.5-7b-hf (transformers layout)",
            "aid (MLLM state descriptions, `aidbench data states --backend llava`)",
            required=("config.json", "tokenizer_config.json"),
        ),
    )
}


def get(name: str) -> Weight:
    if name not in KNOWN:
        raise UsageError(f"unknown weights '{name}'{did_you_mean(name, KNOWN)} (known: {', '.join(KNOWN)})")
    return KNOWN[name]


def candidates(weight: Weight, weights_dir: str | Path) -> list[Path]:
    return [Path(weights_dir).expanduser() / weight.filename, *(Path(p).expanduser() for p in weight.also_at)]


def _present(weight: Weight, path: Path) -> bool:
    if weight.is_folder:
        return path.is_dir() and all((path / f).is_file() for f in weight.required)
    return path.is_file()


def locate(name: str, weights_dir: str | Path) -> Path | None:
    weight = get(name)
    return next((p for p in candidates(weight, weights_dir) if _present(weight, p)), None)


def resolve(name: str, weights_dir: str | Path, explicit: str | Path | None = None) -> Path:
    """The local path of weight `name`, or a UserError that says what to fetch and where to put it."""
    weight = get(name)
    if explicit is not None:
        path = Path(explicit).expanduser()
        if not _present(weight, path):
            what = f"a folder holding {', '.join(weight.required)}" if weight.is_folder else "a file"
            raise UserError(f"--weights {name}={path}: expected {what} there; get it from {weight.source}.")
        return path
    found = locate(name, weights_dir)
    if found is not None:
        return found
    searched = ", ".join(str(p) for p in candidates(weight, weights_dir))
    how = (
        f"run `aidbench weights fetch {name}` (downloads {weight.url})"
        if weight.url
        else f"download {weight.source} into {candidates(weight, weights_dir)[0]}"
    )
    raise UserError(
        f"weights '{name}' ({weight.filename}) not found; looked in: {searched}. "
        f"To get it, {how}, or pass --weights {name}=PATH (train, sample, eval)."
    )


def table(weights_dir: str | Path) -> list[dict[str, Any]]:
    """Each known weight: where it is found (or expected), its recorded sha256, source and users."""
    rows = []
    for name, weight in KNOWN.items():
        found = locate(name, weights_dir)
        rows.append(
            {
                "name": name,
                "found": str(found) if found else None,
                "expected": str(candidates(weight, weights_dir)[0]),
                "sha256": weight.sha256,
                "source": weight.source,
                "used_by": weight.used_by,
            }
        )
    return rows


def resolve_for(config, name: str) -> Path:
    """`resolve` with a config's weights folder and its explicit files (`paths.files`)."""
    return resolve(name, config.paths.weights, config.paths.files.get(name))


def check_safetensors(path: str | Path) -> None:
    """A half-downloaded or foreign safetensors file is one sentence naming it, before anything loads it."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            handle.keys()
    except Exception as err:  # safetensors raises its own error type for every kind of damage
        raise UserError(f"{path} is not a complete safetensors file ({err}); download it again.") from None


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def pin_path(path: str | Path) -> Path:
    """Where a file's pinned sha256 lives: beside it, in sha256sum's format (`sha256sum -c` reads it)."""
    path = Path(path)
    return path.with_name(path.name + ".sha256")


def pin(path: str | Path, digest: str | None = None) -> str:
    """Record that this file is trusted: its sha256 beside it. `weights fetch` pins what it downloaded
    from the publisher over https; `weights trust` pins a file the user vouches for."""
    digest = digest or sha256_file(path)
    atomic.write_text(pin_path(path), f"{digest}  {Path(path).name}\n")
    return digest


def _pinned(path: Path) -> str | None:
    try:
        return pin_path(path).read_text().split()[0]
    except (OSError, IndexError):
        return None


def trusted(name: str, path: str | Path) -> str:
    """The sha256 of a file that may run code when loaded (a TorchScript archive), when it is the
    publisher's (the recorded hash) or pinned; anything else is refused before it is read as a model."""
    weight, path = get(name), Path(path)
    actual, pinned = sha256_file(path), _pinned(path)
    if actual in (weight.sha256, pinned):
        return actual
    if weight.sha256 or pinned:
        raise UserError(
            f"{path} has sha256 {actual}, not the {'recorded' if weight.sha256 else 'pinned'} "
            f"{weight.sha256 or pinned}; it is a TorchScript archive, which carries code, so "
            f"aidbench will not load it: fetch it again with `aidbench weights fetch {name}`."
        )
    raise UserError(
        f"{path} is a TorchScript archive, which carries code, and nobody publishes its sha256, so "
        f"aidbench loads it only once pinned: `aidbench weights fetch {name}` downloads and pins it, or, "
        f"if you downloaded it yourself from {weight.url}, `aidbench weights trust {name} "
        f"--weights {name}={path}` pins the file you have."
    )


def load_torchscript(name: str, path: str | Path, device: str = "cpu"):
    """(sha256, module) of a trusted TorchScript archive, in eval mode on `device`."""
    import warnings

    import torch

    digest = trusted(name, path)
    try:
        with warnings.catch_warnings():  # torch deprecates TorchScript; the published detectors are in it
            warnings.simplefilter("ignore", FutureWarning)
            return digest, torch.jit.load(str(path), map_location=device).eval()
    except RuntimeError as err:
        first = str(err).strip().splitlines()[0]
        raise UserError(f"{path} is not a TorchScript archive torch can load ({first}).") from None


def verify(name: str, path: str | Path) -> tuple[bool | None, str]:
    """(ok, detail): True when the recorded sha256 matches, False when not, None when none is recorded."""
    weight = get(name)
    path = Path(path)
    if weight.is_folder:
        missing = [f for f in weight.required if not (path / f).is_file()]
        return (
            (False, f"missing {', '.join(missing)}")
            if missing
            else (None, "folder complete; no hash recorded")
        )
    actual = sha256_file(path)
    pinned = _pinned(path)
    if weight.sha256 is None and pinned is not None:
        ok = actual == pinned
        return ok, f"sha256 {actual} {'matches' if ok else 'differs from'} the pinned {pinned}"
    if weight.sha256 is None:
        return None, f"sha256 {actual} (none recorded to compare)"
    if actual != weight.sha256:
        return False, f"sha256 {actual} differs from the recorded {weight.sha256}"
    return True, "sha256 matches"


def _allowed(url: str) -> bool:
    """https, or http to this machine (a local mirror): nothing else is fetched, before or after redirects."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.scheme == "https" or (
        parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    )


def fetch(name: str, weights_dir: str | Path, url: str | None = None, timeout: float = 60.0) -> Path:
    """Download a single-file weight to its expected path: https only (or a mirror on this machine), the
    promised length checked, the recorded sha256 checked, synced to disk, then renamed into place; any
    failure keeps nothing."""
    import http.client
    import tempfile
    import urllib.error
    import urllib.request

    weight = get(name)
    source = url or weight.url
    if source is None:
        raise UserError(f"weights '{name}' is a folder of files; download {weight.source} by hand.")
    if not _allowed(source):
        raise UserError(f"'{source}' is not an https address; aidbench downloads weights over https only.")
    target = candidates(weight, weights_dir)[0]
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.fchmod(fd, atomic.FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(source, timeout=timeout) as response:
            if not _allowed(response.geturl()):
                raise UserError(
                    f"{source} redirected to {response.geturl()}, which is not https; kept nothing."
                )
            promised = response.headers.get("Content-Length")
            size = 0
            while block := response.read(1 << 20):
                digest.update(block)
                out.write(block)
                size += len(block)
            if promised is not None and size != int(promised):
                raise UserError(f"{source} ended after {size} of {promised} bytes; kept nothing.")
            out.flush()
            os.fsync(out.fileno())
        if weight.sha256 and digest.hexdigest() != weight.sha256:
            raise UserError(
                f"downloaded {source} has sha256 {digest.hexdigest()}, not the recorded {weight.sha256}; kept nothing."
            )
        pin(target, digest.hexdigest())  # before the file appears, so it never stands unpinned
        os.replace(tmp, target)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
        raise UserError(
            f"cannot download weights '{name}' from {source}: {getattr(err, 'reason', err)}; kept nothing."
        ) from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target
