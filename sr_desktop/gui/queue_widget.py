"""The queue: files and folders dropped, added or pasted; one row per image with thumbnail,
name, input size, output size and status. Folder walks and thumbnails run in workers."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QDragEnterEvent, QDropEvent, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from . import jobs
from .workers import Worker, start_pooled

log = logging.getLogger(__name__)

PATH_ROLE = Qt.ItemDataRole.UserRole
COL_NAME, COL_IN, COL_OUT, COL_STATUS = range(4)
FAILED_COLOUR = QColor("#b3261e")
DONE_COLOUR = QColor("#1e6b34")


def paths_from_mime(mime: QMimeData) -> list[str]:
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


def norm(path: str | os.PathLike) -> str:
    return str(Path(path))


class QueueWidget(QWidget):
    changed = Signal()  # rows added or removed
    selected = Signal(str)  # path, or "" when nothing is selected
    message = Signal(str)  # a note for the status bar (skipped files...)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self._rows: dict[str, QTreeWidgetItem] = {}
        self._sizes: dict[str, tuple[int, int] | None] = {}
        self._workers: set[Worker] = set()
        self._factor: float | None = None

        self.tree = QTreeWidget()
        self.tree.setObjectName("queueList")
        self.tree.setColumnCount(4)
        self.tree.setHeaderLabels(["Image", "Input", "Output", "Status"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setIconSize(QSize(40, 40))
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setAlternatingRowColors(True)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.tree.setAcceptDrops(False)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        for col in (COL_IN, COL_OUT, COL_STATUS):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemSelectionChanged.connect(self._selection_changed)

        self.empty = QLabel(
            "Drop images or folders here\n\nor use Add files / Add folder.\nCtrl+V pastes files or an image."
        )
        self.empty.setObjectName("queueEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet(
            "color: palette(mid); font-size: 13px; border: 2px dashed palette(mid); border-radius: 8px; padding: 16px;"
        )

        self.stack = QStackedWidget()
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.tree)

        self.count_label = QLabel()
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected images from the queue (Delete)")
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Remove every image from the queue")
        self.remove_button.clicked.connect(self.remove_selected)
        self.clear_button.clicked.connect(self.clear)

        buttons = QHBoxLayout()
        buttons.addWidget(self.count_label, 1)
        buttons.addWidget(self.remove_button)
        buttons.addWidget(self.clear_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack, 1)
        layout.addLayout(buttons)
        self._update_state()

    # --- adding --------------------------------------------------------------------------------

    def add_paths(self, paths: list[str]) -> None:
        """Queue files and folders (folders walked recursively, in a worker)."""
        paths = [p for p in paths if p]
        if not paths:
            return
        worker = Worker(jobs.expand_paths, list(paths), name="expand")
        worker.returned.connect(self._add_expanded)
        worker.errored.connect(self.message)
        self._track(worker)
        start_pooled(worker)

    def _add_expanded(self, expanded: jobs.Expanded) -> None:
        added = 0
        for path in expanded.files:
            key = norm(path)
            if key in self._rows:
                continue
            item = QTreeWidgetItem(["", "…", "…", "Queued"])
            item.setText(COL_NAME, Path(key).name)
            item.setToolTip(COL_NAME, key)
            item.setData(COL_NAME, PATH_ROLE, key)
            self.tree.addTopLevelItem(item)
            self._rows[key] = item
            self._sizes[key] = None
            added += 1
            probe = Worker(jobs.probe_image, key, name="probe")
            probe.returned.connect(self._probed)
            self._track(probe)
            start_pooled(probe)
        notes = list(expanded.notes)
        if added:
            notes.insert(0, f"Added {added} image(s)")
        elif expanded.files:
            notes.insert(0, "Those images are already queued")
        elif not notes:
            notes.append("No images found there")
        if notes:
            self.message.emit("; ".join(notes))
        if added:
            self._update_state()
            self.changed.emit()
            if not self.tree.selectedItems():
                self.tree.setCurrentItem(self.tree.topLevelItem(0))

    def _probed(self, probe: jobs.Probe) -> None:
        item = self._rows.get(probe.path)
        if item is None:
            return  # removed meanwhile
        self._sizes[probe.path] = probe.size
        if probe.thumbnail is not None:
            item.setIcon(COL_NAME, QIcon(QPixmap.fromImage(probe.thumbnail)))
        if probe.size is None:
            item.setText(COL_IN, "?")
            item.setText(COL_OUT, "?")
            item.setText(COL_STATUS, "Unreadable?")
            item.setToolTip(COL_STATUS, probe.error or "")
            item.setForeground(COL_STATUS, QBrush(FAILED_COLOUR))
        else:
            item.setText(COL_IN, f"{probe.size[0]}×{probe.size[1]}")
            self._update_output(probe.path)

    def _track(self, worker: Worker) -> None:
        self._workers.add(worker)
        worker.finished.connect(lambda w=worker: self._workers.discard(w))

    @property
    def busy(self) -> bool:
        """True while folders are walked or thumbnails made."""
        return bool(self._workers)

    # --- drag and drop -------------------------------------------------------------------------

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if paths_from_mime(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if paths_from_mime(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = paths_from_mime(event.mimeData())
        if paths:
            event.acceptProposedAction()
            self.add_paths(paths)
        else:
            event.ignore()

    # --- removing ------------------------------------------------------------------------------

    def remove_selected(self) -> None:
        for item in self.tree.selectedItems():
            key = item.data(COL_NAME, PATH_ROLE)
            self._rows.pop(key, None)
            self._sizes.pop(key, None)
            self.tree.takeTopLevelItem(self.tree.indexOfTopLevelItem(item))
        self._update_state()
        self.changed.emit()

    def clear(self) -> None:
        self.tree.clear()
        self._rows.clear()
        self._sizes.clear()
        self._update_state()
        self.changed.emit()
        self.selected.emit("")

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
            self.remove_selected()
        else:
            super().keyPressEvent(event)

    # --- state ---------------------------------------------------------------------------------

    def files(self) -> list[str]:
        return [
            self.tree.topLevelItem(i).data(COL_NAME, PATH_ROLE) for i in range(self.tree.topLevelItemCount())
        ]

    def size_of(self, path: str) -> tuple[int, int] | None:
        return self._sizes.get(norm(path))

    def row(self, path: str) -> QTreeWidgetItem | None:
        return self._rows.get(norm(path))

    def status_of(self, path: str) -> str:
        item = self.row(path)
        return item.text(COL_STATUS) if item else ""

    def set_scale(self, factor: float | None) -> None:
        """Output size = input size x factor (the model's scale or the chosen output scale)."""
        self._factor = factor
        for key in self._rows:
            self._update_output(key)

    def _update_output(self, key: str) -> None:
        item, size = self._rows.get(key), self._sizes.get(key)
        if item is None or size is None:
            return
        if not self._factor:
            item.setText(COL_OUT, "—")
        else:
            item.setText(COL_OUT, f"{round(size[0] * self._factor)}×{round(size[1] * self._factor)}")

    def set_status(self, path: str, status: str, detail: str = "", colour: QColor | None = None) -> None:
        item = self.row(path)
        if item is None:
            return
        item.setText(COL_STATUS, status)
        item.setToolTip(COL_STATUS, detail)
        item.setForeground(COL_STATUS, QBrush(colour) if colour else QBrush())

    def reset_statuses(self) -> None:
        for key, _item in self._rows.items():
            if self._sizes.get(key) is not None:
                self.set_status(key, "Queued")

    def current_path(self) -> str | None:
        items = self.tree.selectedItems()
        return items[0].data(COL_NAME, PATH_ROLE) if items else None

    def select(self, path: str) -> None:
        item = self.row(path)
        if item is not None:
            self.tree.setCurrentItem(item)

    def _selection_changed(self) -> None:
        self.remove_button.setEnabled(bool(self.tree.selectedItems()))
        self.selected.emit(self.current_path() or "")

    def _update_state(self) -> None:
        n = self.tree.topLevelItemCount()
        self.stack.setCurrentWidget(self.tree if n else self.empty)
        self.count_label.setText(f"{n} image{'s' if n != 1 else ''}" if n else "")
        self.clear_button.setEnabled(bool(n))
        self.remove_button.setEnabled(bool(self.tree.selectedItems()))

    def set_editable(self, editable: bool) -> None:
        """While a batch runs the queue is fixed."""
        self.setAcceptDrops(editable)
        self.remove_button.setEnabled(editable and bool(self.tree.selectedItems()))
        self.clear_button.setEnabled(editable and bool(self._rows))
