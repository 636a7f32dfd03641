"""Seam check: tiled vs whole-image output of a random-initialised EDSR-baseline x4.

    python benchmarks/check_tiling.py [--size 900 1200] [--tiles 64 100 256]

Prints the max abs difference (in 1/255 units) for each tile size, and for a run whose first
tile hits a simulated out-of-memory error (the tile is halved and the run goes on).
"""

from __future__ import annotations

import argparse
import time

import torch

from sr_desktop.core.archs import EDSR, EDSR_ARCH, EDSRConfig  # noqa: I001
from sr_desktop.core.descriptor import ModelDescriptor
from sr_desktop.core.engine import Upscaler


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, nargs=2, default=(900, 1200), metavar=("H", "W"))
    parser.add_argument("--tiles", type=int, nargs="+", default=[64, 100, 256])
    parser.add_argument("--blocks", type=int, default=16)
    args = parser.parse_args()
    torch.manual_seed(0)
    config = EDSRConfig(scale=4, n_resblocks=args.blocks)
    model = ModelDescriptor("edsr-baseline-x4-random", EDSR_ARCH, config, EDSR(config))
    x = torch.rand(1, 3, *args.size)
    start = time.perf_counter()
    whole = Upscaler(model, device="cpu", precision="fp32", tile="none").upscale_tensor(x)
    print(
        f"whole image {args.size[0]}x{args.size[1]} -> {tuple(whole.shape[-2:])}: {time.perf_counter() - start:.1f} s"
    )
    worst = 0.0
    for tile in args.tiles:
        start = time.perf_counter()
        up = Upscaler(model, device="cpu", precision="fp32", tile=tile)
        diff = (up.upscale_tensor(x) - whole).abs().max().item() * 255
        worst = max(worst, diff)
        print(
            f"tile {tile:4d} (margin {model.margin}): max |tiled - whole| = {diff:.5f}/255  ({time.perf_counter() - start:.1f} s)"
        )

    up = Upscaler(model, device="cpu", precision="fp32", tile=max(args.tiles))
    real_run, calls = up._run_tile, []

    def first_tile_oom(tile: torch.Tensor, **kwargs) -> torch.Tensor:
        calls.append(tuple(tile.shape[-2:]))
        if len(calls) == 1:
            raise torch.OutOfMemoryError("simulated: CUDA out of memory on the first tile")
        return real_run(tile, **kwargs)

    up._run_tile = first_tile_oom
    diff = (up.upscale_tensor(x) - whole).abs().max().item() * 255
    worst = max(worst, diff)
    print(f"simulated OOM on the first tile: tile {max(args.tiles)} -> {up.stats.tile}, {len(calls)} tile runs, "
          f"max diff {diff:.5f}/255")  # fmt: skip
    print("PASS" if worst <= 1.0 else "FAIL", f"(worst {worst:.5f}/255, limit 1/255)")
    return 0 if worst <= 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
