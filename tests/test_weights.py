from __future__ import annotations

import hashlib

import pytest

from aidbench import weights
from aidbench.errors import UsageError, UserError


def test_missing_weights_name_the_file_the_places_searched_and_the_source(tmp_path):
    with pytest.raises(UserError) as err:
        weights.resolve("i3d", tmp_path / "w")
    message = str(err.value)
    assert "i3d_pretrained_400.pt" in message
    assert str(tmp_path / "w" / "i3d_pretrained_400.pt") in message
    assert "https://" in message and "--weights i3d=PATH" in message


def test_resolution_order_explicit_then_folder_then_reference_locations(tmp_path):
    folder = tmp_path / "w"
    folder.mkdir()
    (folder / "i3d_pretrained_400.pt").write_bytes(b"x")
    explicit = tmp_path / "mine.pt"
    explicit.write_bytes(b"y")
    assert weights.resolve("i3d", folder) == folder / "i3d_pretrained_400.pt"
    assert weights.resolve("i3d", folder, explicit) == explicit
    with pytest.raises(UserError, match="--weights i3d=.*expected a file"):
        weights.resolve("i3d", folder, tmp_path / "absent.pt")


def test_folder_weights_need_their_files(tmp_path):
    svd = tmp_path / "stable-video-diffusion-img2vid"
    (svd / "unet").mkdir(parents=True)
    (svd / "model_index.json").write_text("{}")
    (svd / "unet" / "config.json").write_text("{}")
    assert weights.locate("svd", tmp_path) is None
    ok, detail = weights.verify("svd", svd)
    assert ok is False and "vae/config.json" in detail
    for sub in ("vae", "image_encoder"):
        (svd / sub).mkdir()
        (svd / sub / "config.json").write_text("{}")
    assert weights.locate("svd", tmp_path) == svd


def test_verify_compares_the_recorded_sha256(tmp_path, monkeypatch):
    path = tmp_path / "ViT-B-32.pt"
    path.write_bytes(b"not the real weights")
    ok, detail = weights.verify("clip", path)
    assert ok is False and hashlib.sha256(b"not the real weights").hexdigest() in detail
    monkeypatch.setitem(
        weights.KNOWN,
        "clip",
        weights.Weight("clip", "ViT-B-32.pt", "src", "x", sha256=weights.sha256_file(path)),
    )
    assert weights.verify("clip", path) == (True, "sha256 matches")
    i3d = tmp_path / "i3d.pt"
    i3d.write_bytes(b"z")
    assert weights.verify("i3d", i3d)[0] is None


def test_unknown_weight_names():
    with pytest.raises(UsageError, match="unknown weights 'incepton'; did you mean 'inception'"):
        weights.get("incepton")


def test_no_weight_is_looked_for_in_a_world_writable_folder(tmp_path):
    """Anyone on the machine can write /tmp: a weights file found there could be anyone's."""
    import stat

    for weight in weights.KNOWN.values():
        for place in weights.candidates(weight, tmp_path / "w")[1:]:
            folder = next((p for p in place.parents if p.exists()), None)
            assert folder is None or not folder.stat().st_mode & stat.S_IWOTH, (weight.name, place)
