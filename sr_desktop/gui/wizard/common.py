"""Small widgets and helpers the wizard pages share."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QFrame, QLabel, QWidget

from ..workers import Worker, start_pooled

HELP_STYLE = "color: palette(placeholder-text);"
ERROR_STYLE = "color: #b00020;"
OK_STYLE = "color: #1b7f2a;"


def help_label(text: str, parent: QWidget | None = None) -> QLabel:
    """A grey sentence under a choice, saying what it means for the result."""
    label = QLabel(text, parent)
    label.setWordWrap(True)
    label.setStyleSheet(HELP_STYLE)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def wrap_label(text: str = "", parent: QWidget | None = None) -> QLabel:
    label = QLabel(text, parent)
    label.setWordWrap(True)
    return label


def hline() -> QFrame:
    line = QFrame()
    line.setFrameShape(QFrame.Shape.HLine)
    line.setFrameShadow(QFrame.Shadow.Sunken)
    return line


def to_qimage(pixels: np.ndarray) -> QImage:
    """HxWx3 uint8 -> an RGB888 QImage that owns its memory."""
    pixels = np.ascontiguousarray(pixels[..., :3], dtype=np.uint8)
    h, w = pixels.shape[:2]
    return QImage(pixels.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


def run_job(owner, job, *args, on_done=None, on_error=None, on_progress=None, name: str = "") -> Worker:
    """Start ``job(ctx, *args)`` on the shared pool; results come back on the GUI thread.
    ``owner`` keeps a reference so the worker lives until it finishes."""
    worker = Worker(job, *args, name=name or job.__name__)
    jobs = owner.__dict__.setdefault("_wizard_jobs", set())
    jobs.add(worker)
    worker.finished.connect(lambda: jobs.discard(worker))
    if on_done:
        worker.returned.connect(on_done)
    if on_error:
        worker.errored.connect(on_error)
    if on_progress:
        worker.progress.connect(on_progress)
    start_pooled(worker)
    return worker
