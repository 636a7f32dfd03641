"""Tile planning (pure functions) and seam-free tiled inference.

Each tile is a core region plus a context margin of at least the network's receptive-field
radius, so the core of every tile's output equals the whole-image output exactly; tiles are
spread evenly so there is no thin sliver at the edge. Out-of-memory halves the tile size and
plans the rest of the image again, keeping what is already done.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

from .progress import Progress


@dataclass(frozen=True)
class Tile:
    """Core region [y0, y1) x [x0, x1) and the padded region the network sees (input pixels)."""

    y0: int
    y1: int
    x0: int
    x1: int
    py0: int
    py1: int
    px0: int
    px1: int

    @property
    def pixels(self) -> int:
        return (self.py1 - self.py0) * (self.px1 - self.px0)


def split_evenly(length: int, max_size: int) -> list[tuple[int, int]]:
    """Cut [0, length) into the fewest pieces of at most ``max_size``, all nearly equal."""
    if length <= 0:
        return []
    count = math.ceil(length / max(1, max_size))
    bounds = [round(i * length / count) for i in range(count + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(count)]


def plan_tiles(
    height: int, width: int, tile: int, margin: int, region: tuple[int, int, int, int] | None = None
) -> list[Tile]:
    """Tiles covering ``region`` = (y0, y1, x0, x1) of the image (default: all of it), row-major.
    Context margins are clamped to the image, not to the region."""
    ry0, ry1, rx0, rx1 = region or (0, height, 0, width)
    tiles = []
    for y0, y1 in split_evenly(ry1 - ry0, tile):
        for x0, x1 in split_evenly(rx1 - rx0, tile):
            y0_, y1_, x0_, x1_ = y0 + ry0, y1 + ry0, x0 + rx0, x1 + rx0
            tiles.append(
                Tile(
                    y0_, y1_, x0_, x1_,
                    max(0, y0_ - margin), min(height, y1_ + margin),
                    max(0, x0_ - margin), min(width, x1_ + margin),
                )
            )  # fmt: skip
    return tiles


def is_oom(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError | MemoryError):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and (
        "out of memory" in text or "can't allocate memory" in text or "not enough memory" in text
    )


class TileTooSmallError(RuntimeError):
    pass


def run_tiled(
    run: Callable[[torch.Tensor], torch.Tensor],
    image: torch.Tensor,
    scale: int,
    tile: int,
    margin: int,
    progress: Progress | None = None,
    min_tile: int = 16,
    on_tile_change: Callable[[int], None] | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> torch.Tensor:
    """Upscale a 1xCxHxW tensor tile by tile with ``run`` and return 1xCx(sH)x(sW) on the CPU.

    ``run`` gets a padded tile (on whatever device it wants) and returns its upscaled output.
    ``progress`` is checked before each tile (pause and cancel); ``on_progress`` gets the
    finished fraction of the image after each tile.
    When a tile runs out of memory the tile size is halved and only the tiles not yet done
    are planned again with it; finished tiles are kept.
    """
    _, channels, height, width = image.shape
    out = torch.empty((1, channels, height * scale, width * scale), dtype=torch.float32)
    pending: list[tuple[int, int, int, int]] = [(0, height, 0, width)]
    done_pixels, total = 0, height * width
    while pending:
        tiles = plan_tiles(height, width, tile, margin, pending.pop(0))
        for i, t in enumerate(tiles):
            if progress is not None:
                progress.check()
            try:
                result = run(image[:, :, t.py0 : t.py1, t.px0 : t.px1])
            except Exception as exc:
                if not is_oom(exc):
                    raise
                if tile // 2 < min_tile:
                    raise TileTooSmallError(f"out of memory even with {tile}-pixel tiles") from exc
                tile //= 2
                if torch.cuda.is_available():
                    torch.cuda.empty_cache()
                if on_tile_change is not None:
                    on_tile_change(tile)
                pending[:0] = [(r.y0, r.y1, r.x0, r.x1) for r in tiles[i:]]
                break
            oy, ox = (t.y0 - t.py0) * scale, (t.x0 - t.px0) * scale
            out[:, :, t.y0 * scale : t.y1 * scale, t.x0 * scale : t.x1 * scale] = (
                result[:, :, oy : oy + (t.y1 - t.y0) * scale, ox : ox + (t.x1 - t.x0) * scale].float().cpu()
            )
            done_pixels += (t.y1 - t.y0) * (t.x1 - t.x0)
            if on_progress is not None:
                on_progress(done_pixels / total)
    return out
