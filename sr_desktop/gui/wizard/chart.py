"""A small line chart drawn with QPainter (PySide6-Essentials has no QtCharts): a title, labelled
axes with round tick values, optional log scale, a legend, and a message while it is empty."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
MAX_POINTS = 4000  # older points are thinned (every other one) beyond this


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2, 5 x 10^n steps) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    ticks = []
    t = first
    while t <= hi + step * 1e-9:
        ticks.append(round(t, 12))
        t += step
    return ticks


def log_ticks(lo: float, hi: float) -> list[float]:
    """Round values (1, 2, 5 x 10^n, thinned to at most 6) between 10^lo and 10^hi."""
    for mantissas in ((1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9), (1,)):
        ticks = [
            m * 10.0**e
            for e in range(math.floor(lo) - 1, math.ceil(hi) + 1)
            for m in mantissas
            if lo <= math.log10(m * 10.0**e) <= hi
        ]
        if 2 <= len(ticks) <= 6:
            return ticks
    ticks = [10.0**e for e in range(math.floor(lo), math.ceil(hi) + 1) if lo <= e <= hi]
    return ticks[:: max(1, len(ticks) // 5)] or [10**lo]


def tick_label(value: float) -> str:
    if value == 0:
        return "0"
    a = abs(value)
    if a >= 10000:
        return f"{value / 1000:g}k"
    if a >= 1:
        return f"{value:g}"
    return f"{value:.3g}"


class Series:
    def __init__(self, name: str, color: str, dashed: bool = False):
        self.name, self.color, self.dashed = name, color, dashed
        self.points: list[tuple[float, float]] = []

    def add(self, x: float, y: float) -> None:
        if not (math.isfinite(x) and math.isfinite(y)):
            return
        self.points.append((x, y))
        if len(self.points) > MAX_POINTS:
            self.points = self.points[::2]


class LineChart(QWidget):
    def __init__(self, title: str, x_label: str, y_label: str, log_y: bool = False, parent=None):
        super().__init__(parent)
        self.title, self.x_label, self.y_label, self.log_y = title, x_label, y_label, log_y
        self.series: dict[str, Series] = {}
        self.empty_text = "No data yet"
        self.setMinimumSize(260, 180)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def clear(self) -> None:
        self.series.clear()
        self.update()

    def add_point(self, name: str, x: float, y: float, dashed: bool = False) -> None:
        if self.log_y and y <= 0:
            return
        s = self.series.get(name)
        if s is None:
            s = self.series[name] = Series(name, PALETTE[len(self.series) % len(PALETTE)], dashed)
        s.add(float(x), float(y))
        self.update()

    def point_count(self) -> int:
        return sum(len(s.points) for s in self.series.values())

    # --- drawing -----------------------------------------------------------------------------
    def _ty(self, y: float) -> float:
        return math.log10(y) if self.log_y else y

    def _bounds(self) -> tuple[float, float, float, float] | None:
        pts = [p for s in self.series.values() for p in s.points]
        if not pts:
            return None
        xs = [p[0] for p in pts]
        ys = [self._ty(p[1]) for p in pts]
        x0, x1 = min(xs), max(xs)
        y0, y1 = min(ys), max(ys)
        if x1 <= x0:
            x0, x1 = x0 - 1, x1 + 1
        if y1 - y0 < 1e-9:
            pad = abs(y0) * 0.05 or 0.5
            y0, y1 = y0 - pad, y1 + pad
        else:
            pad = (y1 - y0) * 0.08
            y0, y1 = y0 - pad, y1 + pad
        return max(0.0, x0) if min(xs) >= 0 else x0, x1, y0, y1

    def paintEvent(self, event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        p.fillRect(self.rect(), pal.base())
        fm = QFontMetrics(self.font())
        title_font = QFont(self.font())
        title_font.setBold(True)
        p.setFont(title_font)
        p.setPen(pal.text().color())
        p.drawText(QRectF(0, 4, self.width(), fm.height() + 2), Qt.AlignmentFlag.AlignHCenter, self.title)
        p.setFont(self.font())
        left = fm.horizontalAdvance("00.000") + fm.height() + 10
        plot = QRectF(
            left, fm.height() * 2 + 10, self.width() - left - 12, self.height() - fm.height() * 4 - 18
        )
        if plot.width() < 20 or plot.height() < 20:
            return
        axis_pen = QPen(pal.mid().color())
        p.setPen(axis_pen)
        p.drawRect(plot)
        # axis labels
        p.setPen(pal.text().color())
        p.drawText(
            QRectF(plot.left(), self.height() - fm.height() - 4, plot.width(), fm.height()),
            Qt.AlignmentFlag.AlignHCenter,
            self.x_label,
        )
        p.save()
        p.translate(4, plot.center().y())
        p.rotate(-90)
        label = self.y_label + (" (log scale)" if self.log_y else "")
        p.drawText(
            QRectF(-plot.height() / 2, 0, plot.height(), fm.height()), Qt.AlignmentFlag.AlignHCenter, label
        )
        p.restore()
        bounds = self._bounds()
        if bounds is None:
            p.setPen(pal.placeholderText().color())
            p.drawText(plot, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.empty_text)
            return
        x0, x1, y0, y1 = bounds

        def to_px(x: float, y: float) -> QPointF:
            return QPointF(
                plot.left() + (x - x0) / (x1 - x0) * plot.width(),
                plot.bottom() - (self._ty(y) - y0) / (y1 - y0) * plot.height(),
            )

        grid = QPen(pal.mid().color())
        grid.setStyle(Qt.PenStyle.DotLine)
        # y ticks
        if self.log_y:
            yvals = [(t, math.log10(t)) for t in log_ticks(y0, y1)]
        else:
            yvals = [(t, t) for t in nice_ticks(y0, y1, 4)]
        for value, ty in yvals:
            if not (y0 <= ty <= y1):
                continue
            py = plot.bottom() - (ty - y0) / (y1 - y0) * plot.height()
            p.setPen(grid)
            p.drawLine(QPointF(plot.left(), py), QPointF(plot.right(), py))
            p.setPen(pal.text().color())
            text = tick_label(value)
            p.drawText(
                QRectF(fm.height() + 2, py - fm.height() / 2, left - fm.height() - 6, fm.height()),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                text,
            )
        for t in nice_ticks(x0, x1, 5):
            if not (x0 <= t <= x1) or (t != int(t)):
                continue
            px = plot.left() + (t - x0) / (x1 - x0) * plot.width()
            p.setPen(grid)
            p.drawLine(QPointF(px, plot.top()), QPointF(px, plot.bottom()))
            p.setPen(pal.text().color())
            p.drawText(
                QRectF(px - 40, plot.bottom() + 2, 80, fm.height()),
                Qt.AlignmentFlag.AlignHCenter,
                tick_label(t),
            )
        # lines
        p.setClipRect(plot.adjusted(-2, -2, 2, 2))
        for s in self.series.values():
            pen = QPen(QColor(s.color), 1.6)
            if s.dashed:
                pen.setStyle(Qt.PenStyle.DashLine)
            p.setPen(pen)
            if len(s.points) == 1:
                p.setBrush(QColor(s.color))
                p.drawEllipse(to_px(*s.points[0]), 3, 3)
                continue
            path = QPainterPath(to_px(*s.points[0]))
            for x, y in s.points[1:]:
                path.lineTo(to_px(x, y))
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawPath(path)
            if len(s.points) < 30:
                p.setBrush(QColor(s.color))
                for pt in s.points:
                    p.drawEllipse(to_px(*pt), 2.2, 2.2)
        p.setClipping(False)
        # legend: one row between the title and the plot, right-aligned
        x = plot.right()
        y = plot.top() - fm.height() - 3
        for s in reversed(list(self.series.values())):
            last = s.points[-1][1] if s.points else None
            text = f"{s.name} {tick_label(last) if last is not None else ''}".strip()
            w = fm.horizontalAdvance(text)
            box = QRectF(x - w - 22, y, w + 22, fm.height())
            p.fillRect(box.adjusted(-3, -1, 3, 1), pal.base())
            pen = QPen(QColor(s.color), 2)
            if s.dashed:
                pen.setStyle(Qt.PenStyle.DashLine)
            p.setPen(pen)
            p.drawLine(QPointF(box.left(), box.center().y()), QPointF(box.left() + 16, box.center().y()))
            p.setPen(pal.text().color())
            p.drawText(box.adjusted(20, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, text)
            x = box.left() - 14
