"""Measures how responsive the event loop is: a 10 ms timer records the longest gap between
its ticks. A gap far above 10 ms means the GUI thread was busy (a stall the user feels)."""

from __future__ import annotations

import time

from PySide6.QtCore import QObject, Qt, QTimer

TICK_MS = 10


class StallMeter(QObject):
    def __init__(self, parent: QObject | None = None, interval_ms: int = TICK_MS):
        super().__init__(parent)
        self.interval_ms = interval_ms
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._last: float | None = None
        self.longest_ms = 0.0
        self.ticks = 0
        self.gaps_over_50ms = 0

    def start(self) -> None:
        self._last = time.perf_counter()
        self.longest_ms = 0.0
        self.ticks = 0
        self.gaps_over_50ms = 0
        self._timer.start()

    def stop(self) -> float:
        self._timer.stop()
        return self.longest_ms

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            gap = (now - self._last) * 1000
            self.longest_ms = max(self.longest_ms, gap)
            self.gaps_over_50ms += gap > 50
        self._last = now
        self.ticks += 1
