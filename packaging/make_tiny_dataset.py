"""Test-harness helper for smoke_test.sh: write a tiny training set (HR/ of a few small PNGs,
smooth synthetic pictures) into the given folder, so the bundle's `train` entry can run; with
``--vgg FILE`` also a randomly initialised torchvision VGG16 ``features`` state dict, so the GAN
stage (perceptual loss) runs without downloading real weights."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image


def make(folder: Path, n: int = 4, size: tuple[int, int] = (128, 96), seed: int = 0) -> list[Path]:
    hr = folder / "HR"
    hr.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = []
    for i in range(n):
        coarse = (rng.random((size[1] // 8, size[0] // 8, 3)) * 255).astype(np.uint8)
        img = Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC)
        path = hr / f"tiny{i}.png"
        img.save(path)
        written.append(path)
    return written


def make_random_vgg16(path: Path) -> None:
    import torch

    from training.losses import vgg_features

    torch.manual_seed(0)
    features = vgg_features("vgg16")
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, path)


if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) not in (1, 3) or (len(args) == 3 and args[1] != "--vgg"):
        sys.exit("usage: make_tiny_dataset.py FOLDER [--vgg FILE.pth]")
    print(f"{len(make(Path(args[0])))} images in {args[0]}/HR")
    if len(args) == 3:
        make_random_vgg16(Path(args[2]))
        print(f"random VGG16 features in {args[2]}")
