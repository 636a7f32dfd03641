"""What both networks share about upsampling."""

from __future__ import annotations

import math


def shuffle_factors(scale: int, arch: str) -> list[int]:
    """Pixel-shuffle stages for a scale: x2 per stage for powers of two, one x3 stage for 3."""
    if scale >= 2 and scale & (scale - 1) == 0:
        return [2] * int(math.log2(scale))
    if scale == 3:
        return [3]
    raise ValueError(f"{arch} supports scales 2, 3, 4 (and powers of two), not {scale}")
