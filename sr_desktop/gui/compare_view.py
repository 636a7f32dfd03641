"""Before/after comparison: a split view with a draggable line, or two panes side by side,
sharing one zoom and pan. Coordinates are output pixels: the 'before' image is drawn enlarged
to the output size, the upscaled preview patch at 1:1 over it."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPainterPath, QPen, QPixmap, QWheelEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

SPLIT, SIDE = "split", "side"
MIN_ZOOM, MAX_ZOOM = 0.02, 32.0
GRAB_PX = 8
PIXEL_ZOOM = 3.0  # from this zoom on, pixels are drawn as blocks (nearest neighbour)


class CompareView(QWidget):
    view_changed = Signal()  # zoom, pan or size changed (the visible region moved)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("compareView")
        self.setMinimumSize(240, 200)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.mode = SPLIT
        self.split = 0.5
        self.zoom = 1.0
        self.center = QPointF(0, 0)
        self.scale = 1
        self._before: QPixmap | None = None
        self._src_size = (0, 0)
        self._after: QPixmap | None = None
        self._after_region: tuple[int, int, int, int] | None = None
        self._message = "Add images to the queue to compare them here"
        self._drag: str | None = None
        self._last = QPointF()
        self._fit = True

    # --- content -------------------------------------------------------------------------------

    def set_message(self, text: str) -> None:
        """Shown when there is no image (empty queue, loading, errors)."""
        self._message = text
        self._before = None
        self._after = None
        self.update()

    def set_image(self, display: QImage, width: int, height: int, scale: int) -> None:
        """The 'before' image (maybe downscaled for display) of a width x height input."""
        self._before = QPixmap.fromImage(display)
        self._src_size = (width, height)
        self.scale = max(1, int(scale))
        self._after = None
        self._after_region = None
        self.fit()

    def set_scale(self, scale: int) -> None:
        if scale and scale != self.scale and self._before is not None:
            self.scale = int(scale)
            self._after = None
            self._after_region = None
            self.fit()

    def set_after(self, image: QImage, region: tuple[int, int, int, int]) -> None:
        self._after = QPixmap.fromImage(image)
        self._after_region = region
        self.update()

    def clear_after(self) -> None:
        self._after = None
        self._after_region = None
        self.update()

    @property
    def has_image(self) -> bool:
        return self._before is not None

    @property
    def has_after(self) -> bool:
        return self._after is not None

    def set_mode(self, mode: str) -> None:
        fit = self._fit
        self.mode = mode
        if fit:
            self.fit()
        self.update()
        self.view_changed.emit()

    # --- geometry ------------------------------------------------------------------------------

    def _out_size(self) -> tuple[float, float]:
        return self._src_size[0] * self.scale, self._src_size[1] * self.scale

    def panes(self) -> list[QRectF]:
        r = QRectF(self.rect())
        if self.mode == SIDE:
            half = r.width() / 2
            return [
                QRectF(r.left(), r.top(), half - 1, r.height()),
                QRectF(r.left() + half + 1, r.top(), half - 1, r.height()),
            ]
        return [r]

    def fit(self) -> None:
        w, h = self._out_size()
        if w <= 0 or h <= 0:
            return
        pane = self.panes()[0]
        self.zoom = max(MIN_ZOOM, min(MAX_ZOOM, min(pane.width() / w, pane.height() / h) * 0.98))
        self.center = QPointF(w / 2, h / 2)
        self._fit = True
        self.update()
        self.view_changed.emit()

    def actual_pixels(self) -> None:
        """1:1: one output pixel per screen pixel."""
        self.set_zoom(1.0)

    def set_zoom(self, zoom: float, anchor: QPointF | None = None) -> None:
        zoom = max(MIN_ZOOM, min(MAX_ZOOM, zoom))
        if anchor is not None:
            pane = self._pane_at(anchor)
            before = self.to_output(anchor, pane)
            self.zoom = zoom
            after = self.to_output(anchor, pane)
            self.center += before - after
        else:
            self.zoom = zoom
        self._fit = False
        self._clamp_center()
        self.update()
        self.view_changed.emit()

    def _clamp_center(self) -> None:
        w, h = self._out_size()
        self.center = QPointF(min(max(self.center.x(), 0), w), min(max(self.center.y(), 0), h))

    def _pane_at(self, pos: QPointF) -> QRectF:
        for pane in self.panes():
            if pane.contains(pos):
                return pane
        return self.panes()[0]

    def to_output(self, pos: QPointF, pane: QRectF) -> QPointF:
        return self.center + (pos - pane.center()) / self.zoom

    def visible_region(self) -> tuple[int, int, int, int] | None:
        """The part of the input image visible in one pane, in input pixels (x, y, w, h)."""
        if self._before is None:
            return None
        pane = self.panes()[0]
        tl = self.to_output(pane.topLeft(), pane)
        br = self.to_output(pane.bottomRight(), pane)
        s = self.scale
        sw, sh = self._src_size
        x0, y0 = max(0, int(tl.x() // s)), max(0, int(tl.y() // s))
        x1, y1 = min(sw, int(-(-br.x() // s))), min(sh, int(-(-br.y() // s)))
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1 - x0, y1 - y0

    def split_x(self) -> float:
        return self.rect().width() * self.split

    # --- painting ------------------------------------------------------------------------------

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), self.palette().color(self.backgroundRole()).darker(108))
        if self._before is None:
            p.setPen(self.palette().color(self.foregroundRole()))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self._message)
            return
        if self.mode == SPLIT:
            pane = self.panes()[0]
            x = self.split_x()
            p.save()
            p.setClipRect(QRectF(0, 0, x, self.height()))
            self._paint_pane(p, pane, after=False)
            p.restore()
            p.save()
            p.setClipRect(QRectF(x, 0, self.width() - x, self.height()))
            self._paint_pane(p, pane, after=True)
            p.restore()
            self._paint_split_line(p, x)
            self._label(p, QPointF(8, 8), "Before", left=True)
            self._label(p, QPointF(self.width() - 8, 8), "After", left=False)
        else:
            left, right = self.panes()
            for pane, after in ((left, False), (right, True)):
                p.save()
                p.setClipRect(pane)
                self._paint_pane(p, pane, after)
                p.restore()
            p.fillRect(QRectF(left.right(), 0, 2, self.height()), QColor(255, 255, 255, 180))
            self._label(p, left.topLeft() + QPointF(8, 8), "Before", left=True)
            self._label(p, right.topLeft() + QPointF(8, 8), "After", left=True)
        self._label(p, QPointF(self.width() - 8, self.height() - 30), f"{self.zoom * 100:.0f}%", left=False)

    def _paint_pane(self, p: QPainter, pane: QRectF, after: bool) -> None:
        w, h = self._out_size()
        p.save()
        p.translate(pane.center())
        p.scale(self.zoom, self.zoom)
        p.translate(-self.center)
        # the same display interpolation on both sides: smooth up to PIXEL_ZOOM, then pixels
        smooth = self.zoom < PIXEL_ZOOM
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True if self.zoom < 1 else smooth)
        p.drawPixmap(QRectF(0, 0, w, h), self._before, QRectF(self._before.rect()))
        if after and self._after is not None and self._after_region is not None:
            x, y, rw, rh = self._after_region
            s = self.scale
            target = QRectF(x * s, y * s, rw * s, rh * s)
            p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
            p.drawPixmap(target, self._after, QRectF(self._after.rect()))
            pen = QPen(QColor(255, 255, 255, 140), 0, Qt.PenStyle.DashLine)
            p.setPen(pen)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRect(target)
        p.restore()

    def _paint_split_line(self, p: QPainter, x: float) -> None:
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(QPen(QColor(255, 255, 255, 230), 2))
        p.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        c = QPointF(x, self.height() / 2)
        p.setBrush(QColor(40, 40, 40, 200))
        p.drawEllipse(c, 12, 12)
        path = QPainterPath()
        for d in (-1, 1):
            path.moveTo(c + QPointF(d * 3, -5))
            path.lineTo(c + QPointF(d * 8, 0))
            path.lineTo(c + QPointF(d * 3, 5))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawPath(path)
        p.restore()

    def _label(self, p: QPainter, at: QPointF, text: str, left: bool) -> None:
        metrics = p.fontMetrics()
        w, h = metrics.horizontalAdvance(text) + 12, metrics.height() + 6
        rect = QRectF(at.x() if left else at.x() - w, at.y(), w, h)
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor(0, 0, 0, 150))
        p.drawRoundedRect(rect, 4, 4)
        p.setPen(QColor("white"))
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)
        p.restore()

    # --- interaction ---------------------------------------------------------------------------

    def _near_split(self, pos: QPointF) -> bool:
        return self.mode == SPLIT and abs(pos.x() - self.split_x()) <= GRAB_PX

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() != Qt.MouseButton.LeftButton or self._before is None:
            return
        pos = event.position()
        self._drag = "split" if self._near_split(pos) else "pan"
        self._last = pos
        self.setCursor(
            Qt.CursorShape.SplitHCursor if self._drag == "split" else Qt.CursorShape.ClosedHandCursor
        )

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        if self._drag == "split":
            self.set_split(pos.x() / max(1, self.width()))
        elif self._drag == "pan":
            self.center -= (pos - self._last) / self.zoom
            self._last = pos
            self._fit = False
            self._clamp_center()
            self.update()
            self.view_changed.emit()
        elif self._before is not None:
            self.setCursor(
                Qt.CursorShape.SplitHCursor if self._near_split(pos) else Qt.CursorShape.OpenHandCursor
            )

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._drag = None
        self.setCursor(
            Qt.CursorShape.OpenHandCursor if self._before is not None else Qt.CursorShape.ArrowCursor
        )

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self._fit:
            self.set_zoom(1.0, event.position())
        else:
            self.fit()

    def set_split(self, fraction: float) -> None:
        self.split = min(1.0, max(0.0, fraction))
        self.update()

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self._before is None:
            return
        steps = event.angleDelta().y() / 120
        self.set_zoom(self.zoom * (1.25**steps), event.position())

    def resizeEvent(self, event) -> None:
        if self._fit:
            self.fit()
        else:
            self.view_changed.emit()
        super().resizeEvent(event)


class ComparePanel(QWidget):
    """The view with its controls: mode, Fit, 1:1, Preview, and a status line."""

    preview_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.view = CompareView()
        self.split_button = QToolButton()
        self.split_button.setText("Split")
        self.split_button.setToolTip("Before and after in one view, divided by a line you can drag")
        self.side_button = QToolButton()
        self.side_button.setText("Side by side")
        self.side_button.setToolTip("Before and after next to each other, zoomed and panned together")
        group = QButtonGroup(self)
        for b in (self.split_button, self.side_button):
            b.setCheckable(True)
            b.setAutoRaise(True)
            group.addButton(b)
        self.split_button.setChecked(True)
        self.split_button.clicked.connect(lambda: self.view.set_mode(SPLIT))
        self.side_button.clicked.connect(lambda: self.view.set_mode(SIDE))
        self.fit_button = QToolButton()
        self.fit_button.setText("Fit")
        self.fit_button.setToolTip("Fit the whole image in the view (double-click toggles Fit / 1:1)")
        self.fit_button.clicked.connect(self.view.fit)
        self.one_button = QToolButton()
        self.one_button.setText("1:1")
        self.one_button.setToolTip("One output pixel per screen pixel")
        self.one_button.clicked.connect(self.view.actual_pixels)
        for b in (self.fit_button, self.one_button):
            b.setAutoRaise(True)
        self.preview_button = QPushButton("Preview")
        self.preview_button.setObjectName("previewButton")
        self.preview_button.setToolTip("Upscale the visible part of the image with the chosen model (P)")
        self.preview_button.setShortcut("P")
        self.preview_button.clicked.connect(lambda: self.preview_requested.emit())
        self.status = QLabel()
        self.status.setObjectName("previewStatus")
        self.status.setStyleSheet("color: palette(mid);")
        # long messages must not widen the panel (that would resize the view and re-preview)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status.setMinimumWidth(40)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.split_button)
        bar.addWidget(self.side_button)
        bar.addSpacing(12)
        bar.addWidget(self.fit_button)
        bar.addWidget(self.one_button)
        bar.addSpacing(12)
        bar.addWidget(self.status, 1)
        bar.addWidget(self.preview_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
