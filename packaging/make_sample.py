"""Draw resources/samples/sample.png: a small synthetic test picture (160x120, RGB) that the
smoke test upscales. Made here, so it carries no licence beyond the project's own.
    .venv/bin/python packaging/make_sample.py
"""

from __future__ import annotations

import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "resources" / "samples" / "sample.png"


def draw_sample(width: int = 160, height: int = 120, seed: int = 6) -> Image.Image:
    rng = random.Random(seed)
    img = Image.new("RGB", (width, height))
    d = ImageDraw.Draw(img)
    horizon = int(height * 0.62)
    for y in range(horizon):  # sky gradient
        t = y / horizon
        d.line((0, y, width, y), fill=(int(70 + 120 * t), int(130 + 90 * t), int(230 - 20 * t)))
    d.ellipse((112, 12, 140, 40), fill=(255, 226, 120))  # sun
    for y in range(horizon, height):  # field with stripes (fine texture to upscale)
        t = (y - horizon) / (height - horizon)
        d.line((0, y, width, y), fill=(int(60 + 40 * t), int(120 + 50 * t), int(50 + 20 * t)))
    for x in range(-height, width, 6):
        d.line((x, height, x + (height - horizon) // 2, horizon), fill=(80, 150, 60), width=1)
    d.polygon([(0, horizon), (40, horizon - 30), (85, horizon)], fill=(90, 100, 120))  # hill
    d.rectangle((60, horizon - 26, 100, horizon + 4), fill=(200, 80, 60))  # house
    d.polygon([(56, horizon - 26), (80, horizon - 44), (104, horizon - 26)], fill=(110, 50, 40))
    d.rectangle((75, horizon - 12, 85, horizon + 4), fill=(70, 45, 30))
    for x0 in (64, 90):
        d.rectangle((x0, horizon - 20, x0 + 6, horizon - 14), fill=(240, 240, 200))
    d.text((4, height - 14), "sr-desktop", fill=(255, 255, 255))  # thin strokes: text
    img = img.filter(ImageFilter.SMOOTH)
    px = img.load()
    for _ in range(width * height // 8):  # a little grain
        x, y = rng.randrange(width), rng.randrange(height)
        r, g, b = px[x, y]
        n = rng.randint(-12, 12)
        px[x, y] = (max(0, min(255, r + n)), max(0, min(255, g + n)), max(0, min(255, b + n)))
    return img


def main() -> None:
    SAMPLE.parent.mkdir(parents=True, exist_ok=True)
    draw_sample().save(SAMPLE, optimize=True)
    print(f"wrote {SAMPLE}")


if __name__ == "__main__":
    main()
