"""Models → Manage: the installed models with their cards; import a model file into the user
store (checked first, in a worker) and delete user models. Errors are shown in the dialog."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from . import jobs
from .settings_panel import NO_MODELS_TEXT, card_html
from .workers import Worker, start_pooled

INFO_TEXT = (
    "Import our .safetensors models or official EDSR-PyTorch checkpoints (.pt). "
    "Files are checked before they are copied into your model folder."
)
MODEL_FILTER = "Model files (*.safetensors *.pt *.pth);;All files (*)"


class ModelManager(QDialog):
    models_changed = Signal(object)  # list[ModelInfo]
    busy_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.setObjectName("modelManager")
        self.resize(720, 420)
        self._models: list[jobs.ModelInfo] = []
        self._worker: Worker | None = None
        self._next = None

        self.list = QListWidget()
        self.list.setObjectName("modelList")
        self.list.currentRowChanged.connect(self._show_current)
        self.card = QLabel()
        self.card.setWordWrap(True)
        self.card.setTextFormat(Qt.TextFormat.RichText)
        self.card.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.card.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.card.setMinimumWidth(320)
        self.error_label = QLabel()
        self.error_label.setObjectName("modelError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #b3261e;")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        self.info_label = QLabel(INFO_TEXT)
        self.info_label.setWordWrap(True)
        self.info_label.setStyleSheet("color: palette(mid);")

        self.import_button = QPushButton("Import…")
        self.import_button.setObjectName("importModel")
        self.import_button.clicked.connect(self._choose_file)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setObjectName("deleteModel")
        self.delete_button.setEnabled(False)
        self.delete_button.clicked.connect(self._confirm_delete)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)

        body = QHBoxLayout()
        body.addWidget(self.list, 2)
        body.addWidget(self.card, 3)
        actions = QHBoxLayout()
        actions.addWidget(self.import_button)
        actions.addWidget(self.delete_button)
        actions.addStretch(1)
        actions.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.info_label)
        layout.addLayout(body, 1)
        layout.addWidget(self.error_label)
        layout.addLayout(actions)

    # --- list ----------------------------------------------------------------------------------

    def set_models(self, models: list[jobs.ModelInfo]) -> None:
        current = self.list.currentItem().data(Qt.ItemDataRole.UserRole) if self.list.currentItem() else None
        self._models = list(models)
        self.list.clear()
        for info in self._models:
            tag = "bundled" if info.bundled else "yours"
            item = QListWidgetItem(f"{info.name}   ({tag})")
            item.setData(Qt.ItemDataRole.UserRole, info.name)
            self.list.addItem(item)
        names = [m.name for m in self._models]
        if names:
            self.list.setCurrentRow(names.index(current) if current in names else 0)
        self._show_current()

    def model_names(self) -> list[str]:
        return [m.name for m in self._models]

    def _current(self) -> jobs.ModelInfo | None:
        row = self.list.currentRow()
        return self._models[row] if 0 <= row < len(self._models) else None

    def _show_current(self, *_: object) -> None:
        info = self._current()
        if info is None:
            self.card.setText(f"<span style='color:palette(mid)'>{NO_MODELS_TEXT}</span>")
        else:
            self.card.setText(f"<b>{info.name}</b><br>{card_html(info)}<br><small>{info.path}</small>")
        self.delete_button.setEnabled(info is not None and not info.bundled and self._worker is None)

    def refresh(self) -> None:
        self._start(Worker(jobs.load_catalog, False, name="catalog"), self._catalog_loaded)

    def _catalog_loaded(self, catalog: jobs.Catalog) -> None:
        self.set_models(catalog.models)
        self.models_changed.emit(catalog.models)

    # --- import / delete -----------------------------------------------------------------------

    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a model", str(Path.home()), MODEL_FILTER)
        if path:
            self.import_file(path)

    def import_file(self, path: str) -> None:
        """Check and copy a model file into the user store (in a worker)."""
        self.show_error("")
        self._start(
            Worker(jobs.import_model_file, path, name="import-model"),
            self._imported,
            f"Importing {Path(path).name}…",
        )

    def _imported(self, info: jobs.ModelInfo) -> None:
        self.info_label.setText(f"Imported “{info.name}”.")
        self._next = self.refresh

    def _confirm_delete(self) -> None:
        info = self._current()
        if info is None or info.bundled:
            return
        answer = QMessageBox.question(
            self, "Delete model", f"Delete the model “{info.name}”?\n{info.path}\n\nThis cannot be undone."
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.delete(info.name)

    def delete(self, name: str) -> None:
        self.show_error("")
        self._start(Worker(jobs.delete_model, name, name="delete-model"), self._deleted)

    def _deleted(self, name: str) -> None:
        self.info_label.setText(f"Deleted “{name}”.")
        self._next = self.refresh

    def _start(self, worker: Worker, on_done, note: str = "") -> None:
        if self._worker is not None:
            return
        self._worker = worker
        worker.returned.connect(on_done)
        worker.errored.connect(self.show_error)
        worker.finished.connect(self._finished)
        self.import_button.setEnabled(False)
        self.delete_button.setEnabled(False)
        if note:
            self.info_label.setText(note)
        self.busy_changed.emit(True)
        start_pooled(worker)

    def _finished(self) -> None:
        self._worker = None
        self.import_button.setEnabled(True)
        self._show_current()
        self.busy_changed.emit(False)
        follow_up, self._next = self._next, None
        if follow_up is not None:
            follow_up()  # e.g. list the models again after an import

    @property
    def busy(self) -> bool:
        return self._worker is not None or self._next is not None

    def show_error(self, text: str) -> None:
        if text:
            self.info_label.setText(INFO_TEXT)
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))
