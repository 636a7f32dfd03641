"""Test-harness helper for smoke_test.sh (runs with the repo's .venv Python, not the bundle):
compare two images pixel-wise.  Exit 0 when they have the same shape and
max |a - b| <= --tol (in 8-bit steps); 1 otherwise, with a one-line reason."""

from __future__ import annotations

import argparse
import sys

import numpy as np
from PIL import Image


def max_abs_diff(a_path: str, b_path: str) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    a = np.asarray(Image.open(a_path).convert("RGB"), dtype=np.int16)
    b = np.asarray(Image.open(b_path).convert("RGB"), dtype=np.int16)
    diff = int(np.abs(a - b).max()) if a.shape == b.shape else -1
    return a.shape, b.shape, diff


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--tol", type=int, default=1)
    p.add_argument("--shape", help="expected HxW of both, e.g. 240x320")
    args = p.parse_args(argv)
    shape_a, shape_b, diff = max_abs_diff(args.a, args.b)
    if diff < 0:
        print(f"images differ in size: {args.a} {shape_a[:2]} vs {args.b} {shape_b[:2]}")
        return 1
    if args.shape and "x".join(map(str, shape_a[:2])) != args.shape:
        print(f"unexpected size {shape_a[0]}x{shape_a[1]} (wanted {args.shape})")
        return 1
    if diff > args.tol:
        print(f"images differ: max abs diff {diff} > {args.tol} ({args.a} vs {args.b})")
        return 1
    print(f"images match: {shape_a[0]}x{shape_a[1]}, max abs diff {diff} (tolerance {args.tol})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
