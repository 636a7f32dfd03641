"""Keep freed CPU memory for reuse between layers (Linux/glibc).

Inference allocates feature maps of tens to hundreds of megabytes per layer. glibc serves
blocks above 32 MB with fresh ``mmap`` pages and returns them on free, so every layer pays for
zeroing and faulting in its output again: measured here, 24% of EDSR-baseline x4 time on a
512x512 input. Turning that off (as PyTorch's GPU caching allocator does on the GPU) makes
freed blocks reusable; :func:`release_freed_memory` hands them back when a batch is over.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_state = {"retaining": False}


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 - glibc only (not musl)
    except (OSError, AttributeError):
        return None
    return libc


def retain_freed_memory() -> bool:
    """Serve large blocks from the reusable heap and keep freed memory; idempotent.
    Returns whether it is in effect (glibc only)."""
    if _state["retaining"]:
        return True
    libc = _libc()
    if libc is None:
        return False
    ok = libc.mallopt(_M_MMAP_MAX, 0) == 1 and libc.mallopt(_M_TRIM_THRESHOLD, ctypes.c_int(2**31 - 1)) == 1
    _state["retaining"] = ok
    return ok


def release_freed_memory() -> None:
    """Return free heap memory to the system (after a batch); harmless anywhere."""
    libc = _libc()
    if libc is not None and _state["retaining"]:
        libc.malloc_trim(0)
