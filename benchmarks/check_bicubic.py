"""Check our MATLAB bicubic port and evaluation protocol against Set5.

    python benchmarks/check_bicubic.py [SET5_DIR]      (default: ../shared/datasets/Set5)

Prints, per scale, how far our LR images are from MATLAB's, and the bicubic baseline scored
by ``evaluate()`` (published: 33.66 / 30.39 / 28.42 dB).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sr_desktop.core.evaluate import evaluate  # noqa: E402
from sr_desktop.core.metrics import psnr  # noqa: E402
from sr_desktop.core.resize import bicubic_upscale, imresize  # noqa: E402

PUBLISHED = {2: 33.66, 3: 30.39, 4: 28.42}


def main() -> int:
    default = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "Set5"
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set5", nargs="?", type=Path, default=default)
    args = parser.parse_args()
    if not args.set5.is_dir():
        print(f"{args.set5}: Set5 folder not found", file=sys.stderr)
        return 2

    for scale in (2, 3, 4):
        hr_dir, lr_dir = args.set5 / f"x{scale}" / "HR", args.set5 / f"x{scale}" / "LR"
        print(f"x{scale}: our LR vs MATLAB LR")
        for hr_path in sorted(hr_dir.glob("*.png")):
            hr = np.asarray(Image.open(hr_path).convert("RGB"))
            ref = np.asarray(Image.open(lr_dir / hr_path.name).convert("RGB"))
            ours = imresize(hr, scale=1.0 / scale)
            diff = np.abs(ours.astype(int) - ref.astype(int))
            rgb_psnr = psnr(ours, ref, y_channel=False)
            print(
                f"  {hr_path.stem:10s} max|diff| {diff.max():3d}  pixels off {int((diff > 0).sum()):6d}"
                f"  RGB PSNR {rgb_psnr:.2f} dB"
            )
        for label, lr in (("MATLAB LR", lr_dir), ("our LR", None)):
            rep = evaluate(lambda x, s=scale: bicubic_upscale(x, s), hr_dir, scale, lr_dir=lr)
            print(
                f"  bicubic from {label:9s}: PSNR {rep.mean_bicubic_psnr:.3f} dB  SSIM {rep.mean_bicubic_ssim:.4f}"
                f"  (published {PUBLISHED[scale]:.2f} dB)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
