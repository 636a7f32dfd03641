"""Draw the app icon (resources/icons/sr-desktop.png and .ico) with Pillow.

The committed files are this script's output; rerun it after changing the drawing:
    .venv/bin/python packaging/make_icon.py
The picture: a coarse 4x4 pixel grid on the left turning into a smooth gradient on the right,
with a magnifier ring over the seam (low resolution in, high resolution out).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
ICON_DIR = ROOT / "resources" / "icons"
SIZE = 256
ICO_SIZES = [(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)]


def _colour(t: float, u: float) -> tuple[int, int, int]:
    """Blue-to-teal-to-amber gradient over the tile (t across, u down)."""
    r = int(30 + 200 * t * (1 - 0.4 * u))
    g = int(90 + 110 * (1 - abs(t - 0.5) * 2) + 30 * u)
    b = int(200 - 150 * t)
    return (min(r, 255), min(g, 255), max(b, 0))


def draw_icon(size: int = SIZE) -> Image.Image:
    scale = 4  # draw large, downsample: smooth edges
    s = size * scale
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    tile = Image.new("RGBA", (s, s))
    px = tile.load()
    for y in range(s):
        for x in range(s):
            t, u = x / (s - 1), y / (s - 1)
            if x < s // 2:  # the low-resolution half: 4x4 blocks of one colour
                block = s // 8
                t, u = (x // block + 0.5) * block / s, (y // block + 0.5) * block / s
            px[x, y] = (*_colour(t, u), 255)
    mask = Image.new("L", (s, s), 0)
    ImageDraw.Draw(mask).rounded_rectangle(
        (8 * scale, 8 * scale, s - 8 * scale, s - 8 * scale), 44 * scale, fill=255
    )
    img.paste(tile, (0, 0), mask)
    d = ImageDraw.Draw(img)
    cx, cy, r = s // 2, s // 2 - 10 * scale, 62 * scale
    d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(255, 255, 255, 255), width=16 * scale)
    d.line(
        (cx + int(r * 0.72), cy + int(r * 0.72), cx + int(r * 1.55), cy + int(r * 1.55)),
        fill=(255, 255, 255, 255),
        width=26 * scale,
    )
    return img.filter(ImageFilter.SMOOTH).resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    ICON_DIR.mkdir(parents=True, exist_ok=True)
    icon = draw_icon()
    icon.save(ICON_DIR / "sr-desktop.png", optimize=True)
    icon.save(ICON_DIR / "sr-desktop.ico", sizes=ICO_SIZES)
    print(f"wrote {ICON_DIR / 'sr-desktop.png'} and {ICON_DIR / 'sr-desktop.ico'}")


if __name__ == "__main__":
    main()
