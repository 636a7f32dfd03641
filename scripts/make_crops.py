"""Side-by-side crops for the README: bicubic, each model, and the original, of held-out photos.

    .venv/bin/python scripts/make_crops.py --models edsr-x4 srgan-x4 --scale 4 \
        --photos ../shared/datasets/photos-hr/plasma-grey.jpg ../shared/datasets/photos-hr/mate-dune.jpg \
        --out docs/crops-x4.png

For each photo the LR image is made with the MATLAB-compatible bicubic (as in training and in
the evaluation protocol), the crop is the most textured window of the photo (largest gradient
energy on a coarse grid, so the choice is reproducible and not hand-picked), and each panel is
labelled with its PSNR (Y channel) against the original crop. It also prints each panel's detail
(mean absolute luma gradient) as a share of the original's: blur shows as well under 100%; and
the share of each panel's fine detail that is a fixed pattern repeating every ``scale`` pixels
(the grid artefact of sub-pixel upsamplers; the original's figure is the chance level); and each
panel's hatch (metrics.hatch: texture drawn along the original's edges and stripes, which the
original lacks, in grey levels; sharper or softer edges alone read near 0).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image, ImageDraw, ImageFont

from sr_desktop.core.engine import Upscaler
from sr_desktop.core.imageio import from_float, to_float
from sr_desktop.core.metrics import detail_ratio, hatch, periodic_share, psnr
from sr_desktop.core.modelfile import load_model
from sr_desktop.core.resize import bicubic_upscale, imresize
from sr_desktop.core.store import resolve_model
from training.data import gradient_energy, load_rgb

LABEL_H = 22
GAP = 4


def most_textured_window(rgb: np.ndarray, size: int, step: int) -> tuple[int, int]:
    """Top-left (y, x), on a ``step`` grid, of the ``size`` window with the largest luma gradient
    energy (the measure the trainer samples patches by)."""
    if size % step:
        raise ValueError(f"the window ({size}) must be a multiple of the step ({step})")
    k = size // step
    energy = gradient_energy(rgb, step)
    rows, cols = (rgb.shape[0] - size) // step + 1, (rgb.shape[1] - size) // step + 1
    sums = sliding_window_view(energy, (k, k)).sum(axis=(-2, -1))[:rows, :cols]
    y, x = np.unravel_index(np.argmax(sums), sums.shape)
    return int(y) * step, int(x) * step


def crop_panels(
    photo: Path, upscalers: dict[str, Upscaler], scale: int, lr_crop: int, margin: int = 12
) -> list[tuple[str, np.ndarray]]:
    """[(label, HR-sized crop)] for bicubic, each model and the original."""
    hr = load_rgb(photo)  # as the trainer reads its photos
    h, w = (hr.shape[0] // scale) * scale, (hr.shape[1] // scale) * scale
    hr = hr[:h, :w]
    lr = imresize(hr, scale=1.0 / scale)
    if min(lr.shape[:2]) < lr_crop:
        raise SystemExit(f"{photo}: too small for a {lr_crop}-pixel LR crop at x{scale}")
    y, x = most_textured_window(lr, lr_crop, lr_crop // 4)
    # the models see a margin of real context around the crop, so no panel shows border effects
    y0, x0 = max(0, y - margin), max(0, x - margin)
    y1, x1 = min(lr.shape[0], y + lr_crop + margin), min(lr.shape[1], x + lr_crop + margin)
    region = lr[y0:y1, x0:x1]
    oy, ox = (y - y0) * scale, (x - x0) * scale
    size = lr_crop * scale
    original = hr[y * scale : y * scale + size, x * scale : x * scale + size]
    panels = [("bicubic", bicubic_upscale(region, scale)[oy : oy + size, ox : ox + size])]
    for name, up in upscalers.items():
        out = from_float(up.upscale_array(to_float(region)), 8)
        panels.append((name, out[oy : oy + size, ox : ox + size]))
    labelled = [(f"{name}  {psnr(img, original, shave=0):.2f} dB", img) for name, img in panels]
    return labelled + [("original", original)]


def panel_figures(row: list[tuple[str, np.ndarray]], measure, fmt: str, with_original: bool = False) -> str:
    """'name figure | ...' for each panel of a :func:`crop_panels` row: ``measure(panel, original)``
    formatted with ``fmt``; the original's own panel only ``with_original``."""
    original = row[-1][1]
    panels = row if with_original else row[:-1]
    return " | ".join(f"{label.rsplit('  ', 1)[0]} {measure(img, original):{fmt}}" for label, img in panels)


def compose(rows: list[list[tuple[str, np.ndarray]]]) -> Image.Image:
    size = rows[0][0][1].shape[0]
    cols = len(rows[0])
    sheet = Image.new("RGB", (cols * size + (cols - 1) * GAP, len(rows) * (size + LABEL_H + GAP)), "white")
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for r, row in enumerate(rows):
        top = r * (size + LABEL_H + GAP)
        for c, (label, img) in enumerate(row):
            left = c * (size + GAP)
            draw.text((left + 4, top + 4), label, fill="black", font=font)
            sheet.paste(Image.fromarray(img), (left, top + LABEL_H))
    return sheet


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", required=True, help="model names or .safetensors files")
    p.add_argument("--photos", nargs="+", type=Path, required=True)
    p.add_argument("--scale", type=int, default=4)
    p.add_argument(
        "--lr-crop", type=int, default=48, help="crop side in LR pixels, a multiple of 4 (default 48)"
    )
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    if args.lr_crop < 4 or args.lr_crop % 4:
        p.error(f"--lr-crop must be a positive multiple of 4, not {args.lr_crop}")

    upscalers = {}
    for spec in args.models:
        model = load_model(resolve_model(spec).path)
        if model.scale != args.scale:
            print(f"{spec} is a x{model.scale} model, not x{args.scale}", file=sys.stderr)
            return 2
        upscalers[Path(spec).stem] = Upscaler(model, device="cpu", precision="fp32")
    rows = [crop_panels(photo, upscalers, args.scale, args.lr_crop) for photo in args.photos]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    compose(rows).save(args.out)
    for photo, row in zip(args.photos, rows, strict=True):
        print(f"{photo.name}: " + " | ".join(label for label, _ in row))
        shares = panel_figures(row, detail_ratio, ".0%")
        print(f"{photo.name} detail vs original: {shares}")
        grids = panel_figures(
            row, lambda img, _: periodic_share([img], args.scale), ".2%", with_original=True
        )
        print(f"{photo.name} {args.scale}-pixel grid share (the original's is chance level): {grids}")
        hatches = panel_figures(row, hatch, ".2f")
        print(f"{photo.name} hatch (grey levels of texture along the original's edges it lacks): {hatches}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
