"""The main window: actions on top, queue left, compare centre, settings right, progress at the
bottom. It only wires widgets to workers; the work itself is in :mod:`.jobs`."""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QByteArray, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStyle,
    QSystemTrayIcon,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from .. import __version__
from . import jobs
from . import settings as state
from .compare_view import ComparePanel
from .log_view import LogDialog
from .model_manager import ModelManager
from .queue_widget import DONE_COLOUR, FAILED_COLOUR, QueueWidget, paths_from_mime
from .settings_panel import SettingsPanel
from .workers import Worker, running_count, start_pooled, start_thread, wait_all

log = logging.getLogger(__name__)

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.bmp);;All files (*)"
LIVE_PREVIEW_DELAY_MS = 350
EMPTY_QUEUE_TEXT = (
    "Add images to the queue (drop them on the left)\nto compare them before and after upscaling here"
)


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _engine_choice_for(info: jobs.ModelInfo, values: dict) -> jobs.EngineChoice:
    """The engine the settings panel's ``values`` ask for, with the model ``info``."""
    return jobs.EngineChoice(
        info.path, info.name, values["device"], values["precision"], values["tile"], values["tta"]
    )


class MainWindow(QMainWindow):
    models_loaded = Signal()  # the model list and devices arrived
    preview_ready = Signal()  # a preview patch is shown
    batch_starting = Signal(object)  # the batch Worker, before its thread starts
    batch_finished = Signal(object)  # list[FileResult] (done, cancelled or setup error: [])

    def __init__(self, settings=None):
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("sr-desktop — super-resolution")
        self.setAcceptDrops(True)
        self.settings = settings or state.open_settings()
        self.catalog: jobs.Catalog | None = None
        self._wizards: list = []  # open training wizards (they may own a running trainer)
        self._catalog_worker: Worker | None = None
        self._source: jobs.PreviewSource | None = None
        self._source_worker: Worker | None = None
        self._preview_worker: Worker | None = None
        self._preview_request = 0
        self._preview_on = False
        self._preview_key = None
        self._batch: Worker | None = None
        self._engine_worker: Worker | None = None
        self._engine_dirty = False
        self._batch_started = 0.0
        self._batch_outdir = ""
        self.results: list = []
        self.tray: QSystemTrayIcon | None = None
        self.model_manager: ModelManager | None = None
        self._dialogs: list[QWidget] = []

        self.queue = QueueWidget()
        self.compare = ComparePanel()
        self.panel = SettingsPanel()
        self._build_actions()
        self._build_layout()
        self._connect()
        self.panel.restore(self.settings)
        self._restore_geometry()
        self._queue_changed()
        QTimer.singleShot(0, self.reload_catalog)  # after the window is up: this imports torch

    # --- building ------------------------------------------------------------------------------

    def _icon(self, name: str):
        return self.style().standardIcon(getattr(QStyle.StandardPixmap, name))

    def _build_actions(self) -> None:
        self.add_files_action = QAction(self._icon("SP_FileIcon"), "Add files…", self)
        self.add_files_action.setShortcut(QKeySequence.StandardKey.Open)
        self.add_files_action.triggered.connect(self.choose_files)
        self.add_folder_action = QAction(self._icon("SP_DirIcon"), "Add folder…", self)
        self.add_folder_action.triggered.connect(self.choose_folder)
        self.paste_action = QAction("Paste", self)
        self.paste_action.setShortcut(QKeySequence.StandardKey.Paste)
        self.paste_action.triggered.connect(self.paste)
        self.models_action = QAction("Manage models…", self)
        self.models_action.triggered.connect(self.show_model_manager)
        self.train_action = QAction("Train a model…", self)
        self.train_action.triggered.connect(self.open_training_wizard)
        self.import_model_action = QAction("Import model…", self)
        self.import_model_action.triggered.connect(self.import_model_dialog)
        self.log_action = QAction("Show log", self)
        self.log_action.triggered.connect(self.show_log)
        self.about_action = QAction("About sr-desktop", self)
        self.about_action.triggered.connect(self.show_about)
        quit_action = QAction("Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)

        bar = self.menuBar()
        file_menu = bar.addMenu("&File")
        for a in (self.add_files_action, self.add_folder_action, self.paste_action):
            file_menu.addAction(a)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        models_menu = bar.addMenu("&Models")
        models_menu.addAction(self.train_action)
        models_menu.addSeparator()
        models_menu.addAction(self.import_model_action)
        models_menu.addAction(self.models_action)
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.log_action)
        help_menu.addAction(self.about_action)

        tools = QToolBar("Actions")
        tools.setObjectName("mainToolbar")
        tools.setMovable(False)
        tools.setIconSize(QSize(18, 18))
        tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tools.addAction(self.add_files_action)
        tools.addAction(self.add_folder_action)
        tools.addSeparator()
        tools.addAction(self.models_action)
        tools.addAction(self.train_action)
        self.addToolBar(tools)

    def _build_layout(self) -> None:
        # left: queue
        queue_box = QWidget()
        q = QVBoxLayout(queue_box)
        q.setContentsMargins(8, 8, 4, 0)
        title = QLabel("<b>Queue</b>")
        q.addWidget(title)
        q.addWidget(self.queue, 1)
        queue_box.setMinimumWidth(260)

        # centre: compare
        centre = QWidget()
        c = QVBoxLayout(centre)
        c.setContentsMargins(4, 8, 4, 0)
        c.addWidget(self.compare, 1)

        # right: settings (scrolls if the window is short)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        holder = QWidget()
        h = QVBoxLayout(holder)
        h.setContentsMargins(4, 8, 8, 0)
        h.addWidget(self.panel)
        scroll.setWidget(holder)
        scroll.setMinimumWidth(300)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(queue_box)
        self.splitter.addWidget(centre)
        self.splitter.addWidget(scroll)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.splitter.setSizes([380, 570, 330])
        self.splitter.setChildrenCollapsible(False)

        # bottom: run controls and progress
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("startButton")
        self.start_button.setDefault(True)
        self.start_button.setMinimumWidth(110)
        self.start_button.setToolTip("Upscale every image in the queue (Ctrl+Return)")
        self.start_button.setShortcut("Ctrl+Return")
        self.start_button.setStyleSheet("QPushButton#startButton { font-weight: bold; padding: 6px 14px; }")
        self.pause_button = QPushButton("Pause")
        self.pause_button.setObjectName("pauseButton")
        self.pause_button.setCheckable(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.overall_bar = QProgressBar()
        self.overall_bar.setObjectName("overallProgress")
        self.overall_bar.setRange(0, 1000)
        self.overall_bar.setTextVisible(False)
        self.file_bar = QProgressBar()
        self.file_bar.setObjectName("fileProgress")
        self.file_bar.setRange(0, 1000)
        self.file_bar.setTextVisible(False)
        self.overall_label = QLabel("Overall")
        self.file_label = QLabel("Current file")
        for label in (self.overall_label, self.file_label):
            label.setMinimumWidth(280)
        self.summary_label = QLabel()
        self.summary_label.setObjectName("summary")
        self.summary_label.setWordWrap(True)
        self.open_output_button = QPushButton("Open output folder")
        self.open_output_button.setObjectName("openOutput")
        self.open_output_button.hide()
        self.failures = QListWidget()
        self.failures.setObjectName("failures")
        self.failures.setMaximumHeight(80)
        self.failures.setStyleSheet("QListWidget { color: #b3261e; }")
        self.failures.hide()

        grid = QGridLayout()
        grid.setHorizontalSpacing(10)
        grid.addWidget(self.overall_label, 0, 0)
        grid.addWidget(self.overall_bar, 0, 1)
        grid.addWidget(self.file_label, 1, 0)
        grid.addWidget(self.file_bar, 1, 1)
        grid.setColumnStretch(1, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.pause_button)
        buttons.addWidget(self.cancel_button)
        top = QHBoxLayout()
        top.addLayout(grid, 1)
        top.addSpacing(12)
        top.addLayout(buttons)
        summary = QHBoxLayout()
        summary.addWidget(self.summary_label, 1)
        summary.addWidget(self.open_output_button)
        bottom = QFrame()
        bottom.setObjectName("progressArea")
        bottom.setFrameShape(QFrame.Shape.StyledPanel)
        b = QVBoxLayout(bottom)
        b.setContentsMargins(10, 8, 10, 8)
        b.addLayout(top)
        b.addLayout(summary)
        b.addWidget(self.failures)

        central = QWidget()
        v = QVBoxLayout(central)
        v.setContentsMargins(0, 0, 0, 8)
        v.addWidget(self.splitter, 1)
        bl = QHBoxLayout()
        bl.setContentsMargins(8, 0, 8, 0)
        bl.addWidget(bottom)
        v.addLayout(bl)
        self.setCentralWidget(central)
        self.statusBar().showMessage("Ready")
        self._set_running(False)

    def _connect(self) -> None:
        self.queue.changed.connect(self._queue_changed)
        self.queue.selected.connect(self._show_source)
        self.queue.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.panel.changed.connect(self._settings_changed)
        self.panel.model_changed.connect(self._model_changed)
        self.panel.manage_models.connect(self.show_model_manager)
        self.compare.preview_requested.connect(self.request_preview)
        self.compare.view.view_changed.connect(self._view_moved)
        self._live_timer = QTimer(self)
        self._live_timer.setSingleShot(True)
        self._live_timer.setInterval(LIVE_PREVIEW_DELAY_MS)
        self._live_timer.timeout.connect(self.request_preview)
        self._engine_timer = QTimer(self)
        self._engine_timer.setSingleShot(True)
        self._engine_timer.setInterval(200)
        self._engine_timer.timeout.connect(self.check_engine)
        self.start_button.clicked.connect(self.start_batch)
        self.pause_button.toggled.connect(self._pause_toggled)
        self.cancel_button.clicked.connect(self.cancel_batch)
        self.open_output_button.clicked.connect(self.open_output_folder)

    # --- models and devices --------------------------------------------------------------------

    def reload_catalog(self) -> None:
        if self._catalog_worker is not None:
            return
        worker = Worker(jobs.load_catalog, True, name="catalog")
        worker.returned.connect(self._catalog_loaded)
        worker.errored.connect(lambda text: self.statusBar().showMessage(f"Could not list models: {text}"))
        worker.finished.connect(self._catalog_finished)
        self._catalog_worker = worker
        start_pooled(worker)

    def _catalog_finished(self) -> None:
        self._catalog_worker = None

    def _catalog_loaded(self, catalog: jobs.Catalog) -> None:
        self.catalog = catalog
        self.panel.set_devices(catalog.devices)
        self.panel.set_models(catalog.models)
        if self.model_manager is not None:
            self.model_manager.set_models(catalog.models)
        self.models_loaded.emit()

    def open_training_wizard(self):
        """The training wizard, non-modal: the window stays usable while a model trains."""
        from .wizard import open_training_wizard

        wizard = open_training_wizard(self, on_model_ready=self._trained_model_ready)
        self._wizards.append(wizard)
        wizard.finished.connect(
            lambda _result, w=wizard: self._wizards.remove(w) if w in self._wizards else None
        )
        return wizard

    def _trained_model_ready(self, name: str) -> None:
        self.panel.want_model(name)
        self.reload_catalog()

    def _models_changed_elsewhere(self, models: list) -> None:
        if self.catalog is not None:
            self.catalog.models = list(models)
        self.panel.set_models(models)

    def _model_changed(self) -> None:
        info = self.panel.model()
        self.compare.view.set_scale(info.scale if info and info.scale else 0)

    def show_model_manager(self) -> ModelManager:
        if self.model_manager is None:
            self.model_manager = ModelManager(self)
            self.model_manager.models_changed.connect(self._models_changed_elsewhere)
        if self.catalog is not None:
            self.model_manager.set_models(self.catalog.models)
        self.model_manager.show()
        self.model_manager.raise_()
        return self.model_manager

    def import_model_dialog(self) -> None:
        self.show_model_manager()._choose_file()

    # --- queue ---------------------------------------------------------------------------------

    def choose_files(self) -> None:
        start = state.read(self.settings, "dirs/input", str(Path.home()), str)
        paths, _ = QFileDialog.getOpenFileNames(self, "Add images", start, IMAGE_FILTER)
        if paths:
            self.settings.setValue("dirs/input", str(Path(paths[0]).parent))
            self.queue.add_paths(paths)

    def choose_folder(self) -> None:
        start = state.read(self.settings, "dirs/input", str(Path.home()), str)
        folder = QFileDialog.getExistingDirectory(
            self, "Add a folder of images (sub-folders included)", start
        )
        if folder:
            self.settings.setValue("dirs/input", folder)
            self.queue.add_paths([folder])

    def paste(self) -> None:
        """Clipboard file URLs are queued; image data is saved to a temporary PNG first."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            return
        paths = paths_from_mime(mime)
        if paths:
            self.queue.add_paths(paths)
        elif mime.hasImage():
            image = QGuiApplication.clipboard().image()
            if image.isNull():
                return
            worker = Worker(jobs.save_clipboard_image, image, name="paste")
            worker.returned.connect(lambda path: self.queue.add_paths([path]))
            worker.errored.connect(lambda text: self.statusBar().showMessage(text, 8000))
            self._keep(worker)
            start_pooled(worker)
        else:
            self.statusBar().showMessage("The clipboard holds no files or image", 5000)

    def _keep(self, worker: Worker) -> None:
        self._dialogs.append(worker)
        worker.finished.connect(lambda: self._dialogs.remove(worker) if worker in self._dialogs else None)

    def dragEnterEvent(self, event) -> None:
        if self._batch is None and paths_from_mime(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = paths_from_mime(event.mimeData())
        if paths and self._batch is None:
            event.acceptProposedAction()
            self.queue.add_paths(paths)

    def _queue_changed(self) -> None:
        files = self.queue.files()
        self.panel.set_auto_outdir(files[0] if files else None)
        self.start_button.setEnabled(bool(files) and self._batch is None)
        if not files:
            self._source = None
            self.compare.view.set_message(EMPTY_QUEUE_TEXT)
        self.compare.preview_button.setEnabled(bool(files))

    def _settings_changed(self) -> None:
        self.queue.set_scale(self.panel.output_factor())
        v = self.panel.values()
        engine = (v["model"], v["device"], v["precision"], v["tile"], v["tta"])
        if engine != getattr(self, "_engine_key", None):
            self._engine_key = engine
            self._engine_timer.start()
            if self._preview_on and self.compare.view.has_image and self._batch is None:
                self._live_timer.start()

    # --- engine --------------------------------------------------------------------------------

    def _engine_choice(self) -> jobs.EngineChoice | None:
        info = self.panel.model()
        if info is None or info.error:
            return None
        v = self.panel.values()
        return _engine_choice_for(info, v)

    def check_engine(self) -> None:
        """Resolve Auto (device, precision, tile) for the chosen model in a worker."""
        choice = self._engine_choice()
        if choice is None:
            self.panel.set_engine_info("")
            self.panel.set_auto_tile(None)
            return
        if self._engine_worker is not None:
            self._engine_dirty = True
            return
        worker = Worker(jobs.describe_engine, choice, name="engine")
        worker.returned.connect(self._engine_described)
        worker.errored.connect(lambda text: self.panel.set_engine_info(text, error=True))
        worker.finished.connect(self._engine_finished)
        self._engine_worker = worker
        self.panel.set_engine_info("Checking the device…")
        start_pooled(worker)

    def _engine_described(self, info: jobs.EngineInfo) -> None:
        if info.choice != self._engine_choice():
            return
        self.panel.set_auto_tile(info.auto_tile)
        tile = "whole images" if info.choice.tile == "none" else f"tiles of up to {info.auto_tile} px"
        names = dict(self.catalog.devices) if self.catalog else {}
        device = "the CPU" if info.device == "cpu" else names.get(info.device, info.device)
        precision = {"float32": "FP32", "float16": "FP16", "bfloat16": "BF16"}.get(
            info.precision, info.precision
        )
        tta = ", each tile 8 times (test-time augmentation)" if info.choice.tta else ""
        self.panel.set_engine_info(f"Runs on {device} in {precision}, {tile}{tta}")

    def _engine_finished(self) -> None:
        self._engine_worker = None
        if self._engine_dirty:
            self._engine_dirty = False
            self.check_engine()

    # --- preview -------------------------------------------------------------------------------

    def _show_source(self, path: str) -> None:
        self._preview_on = False
        self._preview_key = None
        self._cancel_preview()
        if self._source_worker is not None:
            self._source_worker.cancel()
        if not path:
            self._source = None
            self.compare.view.set_message("Select an image in the queue to see it here")
            return
        self.compare.view.set_message(f"Loading {Path(path).name}…")
        self.compare.status.setText("")
        worker = Worker(jobs.load_preview_source, path, name="decode")
        worker.returned.connect(self._source_loaded)
        worker.errored.connect(lambda text, p=path: self._source_failed(p, text))
        worker.finished.connect(lambda w=worker: self._forget_source_worker(w))
        self._source_worker = worker
        start_pooled(worker)

    def _forget_source_worker(self, worker: Worker) -> None:
        if self._source_worker is worker:
            self._source_worker = None

    def _source_loaded(self, source: jobs.PreviewSource) -> None:
        if source.path != self.queue.current_path():
            return  # the selection moved on
        self._source = source
        scale = self.panel.model_scale() or 1
        self.compare.view.set_image(source.display, source.width, source.height, scale)
        self.compare.status.setText(
            f"{source.width} × {source.height} — press Preview to upscale the visible part"
        )

    def _source_failed(self, path: str, text: str) -> None:
        if path == self.queue.current_path():
            self._source = None
            self.compare.view.set_message(f"Cannot show {Path(path).name}:\n{text}")

    def request_preview(self) -> None:
        """Upscale the visible region in a worker; a newer request cancels the older one."""
        info = self.panel.model()
        if self._source is None:
            self.compare.status.setText("Select an image first")
            return
        if info is None or info.error:
            self.compare.status.setText("Choose a model first (Models → Import if none is installed)")
            return
        region = self.compare.view.visible_region()
        if region is None:
            return
        v = self.panel.values()
        choice = _engine_choice_for(info, v)
        key = (self._source.path, jobs.clamp_region(region, self._source.width, self._source.height), choice)
        if key == self._preview_key and self.sender() is self._live_timer:
            return  # a live refresh of what is already shown (or coming)
        self._preview_key = key
        self._preview_on = True
        self._cancel_preview()
        self._preview_request += 1
        worker = Worker(
            jobs.upscale_region, self._preview_request, choice, self._source, region, name="preview"
        )
        worker.returned.connect(self._preview_done)
        worker.errored.connect(lambda text: self.compare.status.setText(f"Preview failed: {text}"))
        worker.finished.connect(lambda w=worker: self._forget_preview_worker(w))
        self._preview_worker = worker
        self.compare.status.setText("Upscaling the visible part…")
        start_pooled(worker)

    def _forget_preview_worker(self, worker: Worker) -> None:
        if self._preview_worker is worker:
            self._preview_worker = None

    def _cancel_preview(self) -> None:
        self._live_timer.stop()
        if self._preview_worker is not None:
            self._preview_worker.cancel()
            self._preview_worker = None

    def _preview_done(self, result: jobs.PreviewResult) -> None:
        if result.request != self._preview_request or self._source is None:
            return  # an older request finished late
        self.compare.view.set_after(result.image, result.region)
        x, y, w, h = result.region
        self.compare.status.setText(f"{w}×{h} px in {result.seconds:.1f} s")  # short: the bar is narrow
        self.compare.status.setToolTip(
            f"Preview of the visible {w} × {h} px at ×{result.scale}, {result.seconds:.1f} s"
        )
        self.preview_ready.emit()

    def _view_moved(self) -> None:
        if self._preview_on and self._batch is None:  # no live previews competing with a batch
            self._live_timer.start()

    # --- batch ---------------------------------------------------------------------------------

    def start_batch(self) -> bool:
        files = self.queue.files()
        info = self.panel.model()
        if self._batch is not None or not files:
            return False
        if info is None or info.error:
            self._show_summary(
                "Choose a model first. "
                + ("" if self.panel.model_combo.count() else "No models are installed yet: Models → Import."),
                error=True,
            )
            return False
        v = self.panel.values()
        request = jobs.BatchRequest(
            paths=files,
            choice=_engine_choice_for(info, v),
            outdir=v["outdir"],
            outscale=v["outscale"],
            format=v["format"],
            quality=v["quality"],
            name_template=v["name_template"],
            on_exists=v["on_exists"],
        )
        self._cancel_preview()
        self._preview_key = None
        self.compare.status.setText("")
        self.queue.reset_statuses()
        self.failures.clear()
        self.failures.hide()
        self.results = []
        self._batch_outdir = request.outdir
        self._batch_started = time.monotonic()
        self._show_summary("")
        self.open_output_button.hide()
        self.overall_bar.setValue(0)
        self.file_bar.setValue(0)
        worker = Worker(jobs.run_queue, request, name="batch")
        worker.progress.connect(self._batch_progress)
        worker.file_done.connect(self._file_done)
        worker.returned.connect(lambda results: self._batch_done(results, cancelled=False))
        worker.aborted.connect(lambda results: self._batch_done(results, cancelled=True))
        worker.errored.connect(self._batch_error)
        worker.finished.connect(self._batch_thread_done)
        self._batch = worker
        self._set_running(True)
        log.info("batch of %d file(s) with %s to %s", len(files), info.name, request.outdir)
        self.overall_label.setText("Starting…")
        self.batch_starting.emit(worker)
        start_thread(worker)
        return True

    @property
    def running(self) -> bool:
        return self._batch is not None

    def _set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running and bool(self.queue.files()))
        self.pause_button.setEnabled(running)
        self.cancel_button.setEnabled(running)
        if not running:
            self.pause_button.blockSignals(True)
            self.pause_button.setChecked(False)
            self.pause_button.setText("Pause")
            self.pause_button.blockSignals(False)
        self.queue.set_editable(not running)
        for a in (self.add_files_action, self.add_folder_action, self.paste_action):
            a.setEnabled(not running)

    def _batch_progress(self, event) -> None:
        if self._batch is None:
            return
        info = event.info or {}
        self.overall_bar.setValue(round(event.fraction * 1000))
        eta = f" · about {format_duration(event.eta_s)} left" if event.eta_s is not None else ""
        paused = " · paused" if self._batch.context.progress.paused else ""
        self.overall_label.setText(f"Overall {event.fraction * 100:.0f}%{eta}{paused}")
        if "file_index" in info:
            fraction = info.get("file_fraction", 0.0)
            self.file_bar.setValue(round(fraction * 1000))
            tile = f" (tile {info['tile']} px)" if info.get("tile") else ""
            self.file_label.setText(
                f"File {info['file_index'] + 1} of {info['file_count']}: {event.message}{tile}"
            )
            self._mark_working(info.get("path", ""), fraction)
        elif event.message:
            self.file_label.setText(event.message)

    def _mark_working(self, input_path: str, fraction: float) -> None:
        for path in self.queue.files():
            if str(Path(path)) == input_path:  # the batch reports str(Path(p)) of what it was given
                self.queue.set_status(path, f"Working {fraction * 100:.0f}%")
                return

    def _file_done(self, result) -> None:
        self.results.append(result)
        if result.status == "done":
            self.queue.set_status(result.input, "Done", result.output or "", DONE_COLOUR)
        elif result.status == "skipped":
            self.queue.set_status(result.input, "Skipped (exists)", result.output or "")
        else:
            self.queue.set_status(result.input, "Failed", result.error or "", FAILED_COLOUR)
            self.failures.addItem(f"{Path(result.input).name} — {result.error}")
            self.failures.show()

    def _batch_done(self, results, cancelled: bool) -> None:
        results = list(results or self.results)
        done = sum(r.status == "done" for r in results)
        skipped = sum(r.status == "skipped" for r in results)
        failed = sum(r.status == "failed" for r in results)
        elapsed = format_duration(time.monotonic() - self._batch_started)
        parts = [f"{done} written"]
        if skipped:
            parts.append(f"{skipped} skipped (already there)")
        if failed:
            parts.append(f"{failed} failed (listed below)")
        if cancelled:
            for path in self.queue.files():
                if self.queue.status_of(path).startswith(("Queued", "Working")):
                    self.queue.set_status(path, "Cancelled")
            text = (
                f"Cancelled after {elapsed}: " + ", ".join(parts) + ". Nothing half-written was left behind."
            )
        else:
            text = f"Finished in {elapsed}: " + ", ".join(parts) + f" → {self._batch_outdir}"
            self.overall_bar.setValue(1000)
            self.file_bar.setValue(1000)
        self.overall_label.setText("Cancelled" if cancelled else "Finished")
        self.file_label.setText(f"{done + skipped + failed} of {len(self.queue.files())} files handled")
        self._show_summary(text, error=bool(failed))
        self.open_output_button.setVisible(done > 0 or skipped > 0)
        self.results = results
        if not cancelled:
            self._notify("Upscaling finished", ", ".join(parts))
        log.info("batch %s: %s", "cancelled" if cancelled else "finished", ", ".join(parts))

    def _batch_error(self, text: str) -> None:
        self.overall_label.setText("Stopped")
        self._show_summary(f"The batch could not run: {text}", error=True)

    def _batch_thread_done(self) -> None:
        results = list(self.results)
        self._batch = None
        self._set_running(False)
        self.batch_finished.emit(results)

    def _pause_toggled(self, paused: bool) -> None:
        if self._batch is None:
            return
        if paused:
            self._batch.pause()
            self.pause_button.setText("Resume")
            self.overall_label.setText("Paused (after the current tile) — press Resume to go on")
        else:
            self._batch.resume()
            self.pause_button.setText("Pause")

    def cancel_batch(self) -> None:
        if self._batch is not None:
            self._batch.cancel()
            self.cancel_button.setEnabled(False)
            self.pause_button.setEnabled(False)
            self.overall_label.setText("Cancelling after the current tile…")

    def _show_summary(self, text: str, error: bool = False) -> None:
        self.summary_label.setText(text)
        self.summary_label.setStyleSheet("color: #b3261e;" if error else "")

    def open_output_folder(self) -> None:
        if self._batch_outdir:
            QDesktopServices.openUrl(QUrl.fromLocalFile(self._batch_outdir))

    def _notify(self, title: str, text: str) -> None:
        """A desktop notification where the desktop has a tray; the summary is always shown."""
        if self.isActiveWindow() or not QSystemTrayIcon.isSystemTrayAvailable():
            return
        if self.tray is None:
            self.tray = QSystemTrayIcon(
                self.windowIcon() if not self.windowIcon().isNull() else self._icon("SP_ComputerIcon"), self
            )
            self.tray.show()
        self.tray.showMessage(title, text, QSystemTrayIcon.MessageIcon.Information, 8000)

    # --- help ----------------------------------------------------------------------------------

    def show_log(self) -> LogDialog:
        dialog = LogDialog(state.log_path(), self)
        dialog.show()
        self._dialogs.append(dialog)
        return dialog

    def about_text(self) -> str:
        from importlib.metadata import PackageNotFoundError, version

        from PySide6 import __version__ as pyside_version
        from PySide6.QtCore import qVersion

        try:
            torch_version = (self.catalog and self.catalog.torch_version) or version("torch")
        except PackageNotFoundError:
            torch_version = "not installed"
        devices = ", ".join(
            name for spec, name in (self.catalog.devices if self.catalog else []) if spec != "auto"
        )
        auto = (
            "CUDA GPU"
            if any(s.startswith("cuda") for s, _ in (self.catalog.devices if self.catalog else []))
            else "CPU"
        )
        return (
            f"<h3>sr-desktop {__version__}</h3>"
            "<p>Super-resolution for photographs, scans and scientific images (EDSR, SRResNet, SRGAN).</p>"
            "<table>"
            f"<tr><td>Python</td><td>{sys.version.split()[0]}</td></tr>"
            f"<tr><td>PyTorch</td><td>{torch_version}</td></tr>"
            f"<tr><td>Qt</td><td>{qVersion()} (PySide6 {pyside_version})</td></tr>"
            f"<tr><td>Compute devices</td><td>{devices or 'still looking…'}</td></tr>"
            f"<tr><td>Auto uses</td><td>{auto if self.catalog else '—'}</td></tr>"
            f"<tr><td>Settings</td><td>{state.config_dir()}</td></tr>"
            f"<tr><td>Log</td><td>{state.log_path()}</td></tr>"
            "</table>"
        )

    def show_about(self) -> QMessageBox:
        box = QMessageBox(self)
        box.setWindowTitle("About sr-desktop")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(self.about_text())
        box.setStandardButtons(QMessageBox.StandardButton.Close)
        box.setModal(False)
        box.show()
        self._dialogs.append(box)
        return box

    # --- persistence and shutdown --------------------------------------------------------------

    def _restore_geometry(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 800)
        splitter = self.settings.value("window/splitter")
        if isinstance(splitter, QByteArray) and not splitter.isEmpty():
            self.splitter.restoreState(splitter)

    def save_state(self) -> None:
        self.panel.save(self.settings)
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/splitter", self.splitter.saveState())
        self.settings.sync()

    def shutdown(self, timeout_ms: int = 30000) -> None:
        """Cancel work and wait for it (the batch stops at the next tile; nothing half-written)."""
        self._cancel_preview()
        if self._source_worker is not None:
            self._source_worker.cancel()
        if self._catalog_worker is not None:
            self._catalog_worker.cancel()
        if self._batch is not None:
            self._batch.cancel()
        if not wait_all(timeout_ms / 1000):  # the batch stops after its current tile
            log.warning("%d background job(s) still running at shutdown", running_count())
        QApplication.processEvents()
        if self.tray is not None:
            self.tray.hide()

    def closeEvent(self, event: QCloseEvent) -> None:
        for wizard in list(self._wizards):  # each asks, and stops its trainer with a checkpoint
            if not wizard.may_close():
                event.ignore()
                return
        if (
            self._batch is not None
            and os.environ.get("SR_DESKTOP_CONFIRM_CLOSE", "1") == "1"
            and self.isVisible()
        ):
            answer = QMessageBox.question(
                self,
                "Stop the batch?",
                "Images are still being upscaled. Stop after the current tile and quit?",
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.save_state()
        self.shutdown()
        super().closeEvent(event)
