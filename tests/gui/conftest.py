"""GUI tests: offscreen Qt, a private data/config/log folder per test, tiny models and images,
and a check that no test leaves a worker thread running."""

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["SR_DESKTOP_CONFIRM_CLOSE"] = "0"


import pytest  # noqa: E402

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

# gui_helpers sits beside this file (pytest's importlib mode does not put test folders on sys.path)
sys.path.insert(0, str(Path(__file__).resolve().parent))

from gui_helpers import make_image, make_model  # noqa: E402
from PySide6.QtCore import QThreadPool  # noqa: E402

from sr_desktop.gui import workers  # noqa: E402

WORKER_WAIT_MS = 20000


@pytest.fixture(autouse=True)
def _private_state(tmp_path, monkeypatch):
    """Settings and logs in the test's own folder (the data folder is set by tests/conftest.py),
    and no bundled models: each test installs the tiny models it needs."""
    from sr_desktop.core import store

    monkeypatch.setenv("SR_DESKTOP_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("SR_DESKTOP_LOG_DIR", str(tmp_path / "log"))
    monkeypatch.setattr(store, "bundled_model_dir", lambda: tmp_path / "no-bundled-models")


@pytest.fixture(autouse=True)
def _no_worker_left_running(qapp):
    """Fails a test that leaves a worker (QThread or pooled job) running."""
    yield
    assert workers.wait_all(WORKER_WAIT_MS / 1000), (
        f"{workers.running_count()} worker(s) still running after the test"
    )
    pool = QThreadPool.globalInstance()
    deadline = time.monotonic() + 5
    while pool.activeThreadCount() and time.monotonic() < deadline:  # a pooled job's last cleanup
        time.sleep(0.01)
    assert pool.activeThreadCount() == 0, "a pooled job is still running after the test"
    qapp.processEvents()


@pytest.fixture
def tiny_model() -> Path:
    """A tiny x2 EDSR in the user model folder."""
    return make_model(Path(os.environ["SR_DESKTOP_DATA_DIR"]) / "models")


@pytest.fixture
def images(tmp_path) -> list[Path]:
    folder = tmp_path / "in"
    return [make_image(folder / f"img{i}.png", 24 + 4 * i, 16, seed=i) for i in range(3)]


@pytest.fixture
def window(qtbot):
    """The real main window, shown offscreen, with its model list loaded."""
    from sr_desktop.gui.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.models_loaded, timeout=60000):
        win.show()
    yield win
    if win.running:
        win.cancel_batch()
        qtbot.waitUntil(lambda: not win.running, timeout=WORKER_WAIT_MS)
    win.close()


@pytest.fixture
def model_window(tiny_model, window):
    """The main window with the tiny model installed (before the window listed models)."""
    assert window.panel.model_name() == "tiny-x2"
    return window
