"""Entry point of the desktop app: ``sr-desktop [PATH...]`` and ``sr-desktop --self-test``."""

from __future__ import annotations

import logging
import os
import sys
import time

from ..core.store import resource_dir

log = logging.getLogger(__name__)

SELF_TEST_CATALOG_TIMEOUT_S = 120


def _headless() -> bool:
    return sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM")
    )


def create_app():
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
    app.setApplicationName("sr-desktop")
    app.setApplicationDisplayName("sr-desktop")
    app.setOrganizationName("sr-desktop")
    app.setDesktopFileName("sr-desktop")  # lets Wayland match packaging/sr-desktop.desktop
    icon = resource_dir() / "icons" / "sr-desktop.png"
    if icon.is_file():
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(icon)))
    return app


def run_app(paths: list[str], self_test: bool = False) -> int:
    if _headless():
        if not self_test:
            print(
                "sr-desktop: no display found (DISPLAY is not set). Run it on a desktop, or use the "
                "headless commands (sr-desktop upscale --help).",
                file=sys.stderr,
            )
            return 2
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from . import settings as state

    launched = time.perf_counter()
    log_file = state.setup_logging()
    _log_uncaught()
    app = create_app()
    from .main_window import MainWindow

    window = MainWindow()
    if paths:
        window.queue.add_paths([os.path.abspath(p) for p in paths])
    if self_test:
        return self_test_window(window, app)
    window.show()
    log.info("window shown in %.2f s (log: %s)", time.perf_counter() - launched, log_file)
    return app.exec()


def _log_uncaught() -> None:
    """Exceptions that reach the event loop go to the log file too, not only to stderr."""
    previous = sys.excepthook

    def hook(kind, value, tb):
        log.error("uncaught exception", exc_info=(kind, value, tb))
        previous(kind, value, tb)

    if getattr(sys.excepthook, "__name__", "") != "hook":
        sys.excepthook = hook


def check_parts(window) -> list[str]:
    """Names of the main window's parts that are missing (empty: all there)."""
    from PySide6.QtWidgets import QComboBox, QPushButton, QTreeWidget, QWidget

    wanted = {
        "queue": (QTreeWidget, "queueList"),
        "settings": (QWidget, "outdir"),
        "preview": (QWidget, "compareView"),
        "run button": (QPushButton, "startButton"),
        "models combo": (QComboBox, "modelCombo"),
        "preview button": (QPushButton, "previewButton"),
        "progress": (QWidget, "overallProgress"),
    }
    return [name for name, (kind, obj) in wanted.items() if window.findChild(kind, obj) is None]


def self_test_window(window, app) -> int:
    """Open the window, check its parts, list models (this loads torch), then close."""
    from PySide6.QtCore import QEventLoop, QTimer

    torch_at_open = "torch" in sys.modules
    window.show()
    app.processEvents()
    missing = check_parts(window)
    if missing:
        print(f"sr-desktop self-test FAILED: missing {', '.join(missing)}", file=sys.stderr)
        window.shutdown()
        return 1
    loop = QEventLoop()
    window.models_loaded.connect(loop.quit)
    QTimer.singleShot(SELF_TEST_CATALOG_TIMEOUT_S * 1000, loop.quit)
    if window.catalog is None:
        loop.exec()
    window.shutdown()
    if window.catalog is None:
        print("sr-desktop self-test FAILED: the model list did not load (see the log)", file=sys.stderr)
        return 1
    n = len(window.catalog.models)
    devices = ", ".join(name for spec, name in window.catalog.devices if spec != "auto")
    print(
        f"sr-desktop self-test OK: window with queue, settings, preview, run button, models combo; "
        f"{n} model(s); devices: {devices}; torch loaded at window creation: {'yes' if torch_at_open else 'no'}"
    )
    window.hide()
    window.deleteLater()
    return 0
