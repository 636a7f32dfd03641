"""Persistence, self-test, lazy torch, log and about."""

import os
import subprocess
import sys
from pathlib import Path

from sr_desktop.gui import settings as state

REPO = Path(__file__).resolve().parents[2]


def test_settings_restored_after_restart(qtbot, window, tmp_path):
    from sr_desktop.gui.main_window import MainWindow

    p = window.panel
    p.scale_spin.setValue(3.0)
    p.outdir_edit.setText(str(tmp_path / "chosen"))
    p._select(p.format_combo, "jpg")
    p.quality_spin.setValue(80)
    p.name_edit.setText("{stem}_x{scale}")
    p._select(p.exists_combo, "rename")
    p._select(p.precision_combo, "bf16")
    p._select(p.tile_combo, "256")
    p.tta_check.setChecked(True)
    window.resize(1000, 650)
    window.close()

    again = MainWindow()
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.models_loaded, timeout=60000):
        again.show()
    v = again.panel.values()
    assert v["outscale"] == 3.0
    assert v["outdir"] == str(tmp_path / "chosen")
    assert (v["format"], v["quality"], v["name_template"], v["on_exists"]) == (
        "jpg",
        80,
        "{stem}_x{scale}",
        "rename",
    )
    assert (v["precision"], v["tile"], v["tta"]) == ("bf16", "256", True)
    # the offscreen screen is 800 px wide, so Qt clamps the restored width; the height is kept
    assert again.height() == 650
    assert not again.settings.value("window/splitter").isEmpty()
    assert (Path(os.environ["SR_DESKTOP_CONFIG_DIR"]) / "settings.ini").is_file()
    again.close()


def test_run_app_self_test_returns_zero(qapp, capsys):
    from sr_desktop.gui.app import run_app

    assert run_app([], self_test=True) == 0
    assert "self-test OK" in capsys.readouterr().out


def test_window_opens_before_torch_is_loaded(tmp_path):
    code = (
        "import sys\n"
        "from sr_desktop.gui.app import create_app\n"
        "app = create_app()\n"
        "from sr_desktop.gui.main_window import MainWindow\n"
        "w = MainWindow(); w.show()\n"
        "print('TORCH', 'torch' in sys.modules)\n"
        "w.shutdown()\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "TORCH False" in proc.stdout


def test_cli_self_test_in_subprocess(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run(
        [sys.executable, "-m", "sr_desktop", "--self-test"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    assert "self-test OK" in proc.stdout
    assert "torch loaded at window creation: no" in proc.stdout


def test_log_view_and_about(qtbot, window):
    state.setup_logging()
    import logging

    logging.getLogger("sr_desktop.test").info("hello from the test")
    for h in logging.getLogger("sr_desktop").handlers:
        h.flush()
    dialog = window.show_log()
    assert "hello from the test" in dialog.text.toPlainText()
    about = window.about_text()
    for needle in ("sr-desktop", "Python", "PyTorch", "Qt", "CPU"):
        assert needle in about
    box = window.show_about()
    box.close()
    dialog.close()
