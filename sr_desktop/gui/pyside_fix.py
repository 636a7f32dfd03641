"""A guard against a reference-count bug of PySide6 6.12 on Python 3.10/3.11.

Its bindings return ``None`` (from every void method: ``update()``, ``setText()``...) and ``True``
(from ``Signal.emit``) without taking a reference. Python 3.12+ makes these objects immortal,
which hides the bug; on 3.11 each call lowers their count by one and after some thousands of
calls the interpreter aborts ("deallocating None"). We give the three singletons a count so
large that no session can use it up, which is what 3.12 does for them.
"""

from __future__ import annotations

import ctypes
import sys

_MARGIN = 1 << 40


def immortalize_singletons() -> bool:
    """Raise the reference counts of None, True and False far out of reach; idempotent."""
    if sys.version_info >= (3, 12) or hasattr(sys, "gettotalrefcount"):  # immortal already / debug build
        return False
    done = False
    for obj in (None, True, False):
        count = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt is a PyObject's first field
        if count.value < _MARGIN // 2:
            count.value += _MARGIN
            done = True
    return done
