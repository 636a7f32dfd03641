"""Every bundled model loads from a fresh checkout and beats bicubic on a test picture."""

import re

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from sr_desktop.core.engine import Upscaler
from sr_desktop.core.imageio import from_float, to_float
from sr_desktop.core.metrics import psnr
from sr_desktop.core.modelfile import load_model
from sr_desktop.core.resize import bicubic_upscale, imresize
from sr_desktop.core.store import bundled_model_dir
from training.export import PHOTOS_HR_ATTRIBUTION

BUNDLED = sorted(bundled_model_dir().glob("*.safetensors"))
EXPECTED = {"edsr-x2", "edsr-x3", "edsr-x4", "srgan-x4"}


def test_bundled_models_are_named_as_the_design_says():
    assert {p.stem for p in BUNDLED} <= EXPECTED


def photo_like(size: int = 240, seed: int = 0, scale: int = 2) -> np.ndarray:
    """Edges, curves, fine stripes and soft shading: what photographs are made of.

    The stripes repeat every 3 * scale pixels, i.e. every 3 pixels of the LR image: fine, but
    above its Nyquist limit. (A fixed 6-pixel period is 1.5 LR pixels at x4: the LR image
    then holds only aliasing that no method can undo, and that stripe band alone decided the
    score.)"""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (size, size))
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = np.stack([0.3 + 0.4 * xx, 0.4 + 0.3 * yy, 0.5 + 0.2 * np.sin(6 * xx * yy)], 2)
    img = Image.fromarray((base * 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(25):
        x0, y0 = rng.integers(0, size, 2)
        r = int(rng.integers(5, 40))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x0 + r, y0 + r), fill=colour)
        else:
            draw.line((x0, y0, x0 + r * 2, y0 + r), fill=colour, width=int(rng.integers(1, 4)))
    for k in range(0, size, 3 * scale):  # a fine stripe pattern
        draw.line((k, size - 40, k + 20, size), fill=(240, 240, 230), width=2)
    return np.asarray(img.filter(ImageFilter.GaussianBlur(0.6)))


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_bundled_model_beats_bicubic(path):
    model = load_model(path)
    assert model.card.get("psnr_set5"), "bundled models carry their measured Set5 PSNR"
    s = model.scale
    hr = photo_like(240 - 240 % s, scale=s)
    lr = imresize(hr, 1 / s)
    sr = from_float(Upscaler(model, device="cpu", precision="fp32").upscale_array(to_float(lr)), 8)
    gain = psnr(sr, hr, shave=s) - psnr(bicubic_upscale(lr, s), hr, shave=s)
    # a perceptual model trades some PSNR for texture, but it must still beat bicubic
    floor = 0.0 if path.stem.startswith("srgan") else 0.2
    assert gain > floor, f"{path.stem} gains only {gain:.2f} dB over bicubic"


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: p.stem)
def test_bundled_model_names_the_photographers(path):
    """The bundled models were trained on photos-hr, so their cards carry its attribution."""
    assert load_model(path).card.get("attribution") == PHOTOS_HR_ATTRIBUTION


def credited_authors(licenses_md: str) -> set[str]:
    """The authors named in the table of photos-hr/LICENSES.md (column 5), one name each."""
    names = set()
    for line in licenses_md.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) < 8 or not cells[1].endswith(".jpg"):
            continue
        author = re.sub(r"\([^)]*\)", "", cells[5]).split(";")[0]
        for name in author.split(","):
            name = name.strip()
            if name and not name.startswith("unknown"):
                names.add(name)
    return names


def test_attribution_names_every_credited_author(shared_dir):
    table = (shared_dir / "datasets/photos-hr/LICENSES.md").read_text(encoding="utf-8")
    authors = credited_authors(table)
    assert {"Aitzol Berasategi", "Peter Nerlich", "Risto Saukonpää"} <= authors  # the parse works
    missing = sorted(a for a in authors if a not in PHOTOS_HR_ATTRIBUTION)
    assert not missing, f"the model cards do not name {missing}"
