"""A Qt-free progress and cancel object that long jobs check at safe points (between tiles,
between files). The GUI wraps it in signals; tests use it directly."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


class Cancelled(Exception):
    """Raised by :meth:`Progress.check` once :meth:`Progress.cancel` was called."""


@dataclass
class ProgressEvent:
    """What a job reports. ``fraction`` is overall progress in [0, 1]; ``eta_s`` is None
    until there is enough history to estimate it."""

    fraction: float
    message: str = ""
    eta_s: float | None = None
    elapsed_s: float = 0.0
    info: dict = field(default_factory=dict)


class Progress:
    def __init__(self, on_update: Callable[[ProgressEvent], None] | None = None):
        self._on_update = on_update
        self._cancel = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._start = time.monotonic()
        self._paused_total = 0.0
        self._paused_at: float | None = None

    # control, from any thread
    def cancel(self) -> None:
        self._cancel.set()
        self._running.set()  # a paused job must wake up to see the cancel

    def pause(self) -> None:
        """Hold the job at its next safe point. Does nothing once cancelled (a cancelled job
        must be free to reach its next check and stop)."""
        if self._running.is_set() and not self._cancel.is_set():
            self._paused_at = time.monotonic()
            self._running.clear()

    def resume(self) -> None:
        if not self._running.is_set():
            if self._paused_at is not None:
                self._paused_total += time.monotonic() - self._paused_at
                self._paused_at = None
            self._running.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    # from the job
    def check(self) -> None:
        """A safe point: blocks while paused, raises :class:`Cancelled` after a cancel."""
        self._running.wait()
        if self._cancel.is_set():
            raise Cancelled()

    def elapsed(self) -> float:
        paused = self._paused_total + (time.monotonic() - self._paused_at if self._paused_at else 0.0)
        return time.monotonic() - self._start - paused

    def update(self, fraction: float, message: str = "", **info) -> None:
        fraction = min(1.0, max(0.0, fraction))
        elapsed = self.elapsed()
        eta = elapsed * (1 - fraction) / fraction if fraction > 0.01 and elapsed > 0.5 else None
        if self._on_update is not None:
            self._on_update(ProgressEvent(fraction, message, eta, elapsed, info))
