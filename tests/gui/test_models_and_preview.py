"""Model manager (import, bad file, delete), empty state, preview and the compare view."""

from gui_helpers import make_image, make_model, queue_and_wait
from PySide6.QtCore import QPoint, QPointF, Qt

from sr_desktop.gui.compare_view import SIDE
from sr_desktop.gui.settings_panel import NO_MODELS_TEXT


def test_empty_state_when_no_model(window):
    assert window.panel.model_combo.count() == 0
    assert "No models installed yet" in window.panel.card.text()
    assert NO_MODELS_TEXT.split("—")[0].strip() in window.panel.card.text()


def test_import_bad_model_shows_error(qtbot, window, tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"definitely not a model")
    manager = window.show_model_manager()
    manager.import_file(str(bad))
    qtbot.waitUntil(lambda: not manager.busy, timeout=30000)
    assert manager.error_label.isVisibleTo(manager)
    assert "not a readable model file" in manager.error_label.text()
    assert window.isVisible() and manager.isVisible()
    assert manager.model_names() == []


def test_import_and_delete_user_model(qtbot, window, tmp_path):
    src = make_model(tmp_path / "elsewhere", "mine-x2")
    manager = window.show_model_manager()
    manager.import_file(str(src))
    qtbot.waitUntil(lambda: "mine-x2" in manager.model_names() and not manager.busy, timeout=30000)
    assert window.panel.model_name() == "mine-x2"
    assert "EDSR" in window.panel.card.text() and "×2" in window.panel.card.text()
    assert "12.345" in window.panel.card.text()  # measured PSNR from the card
    # its credits: a pointer in the narrow side panel, in full on hover and in the Models dialog
    credit = "Photos by A. Tester (CC BY 4.0)"
    assert "credits" in window.panel.card.text() and credit not in window.panel.card.text()
    assert credit in window.panel.card.toolTip()
    assert "source:" not in window.panel.card.toolTip()  # empty fields are left out

    manager.list.setCurrentRow(manager.model_names().index("mine-x2"))
    assert credit in manager.card.text()
    assert manager.delete_button.isEnabled()
    manager.delete("mine-x2")
    qtbot.waitUntil(lambda: manager.model_names() == [] and not manager.busy, timeout=30000)
    assert window.panel.model_combo.count() == 0


def test_preview_of_visible_region(qtbot, model_window, tmp_path):
    win = model_window
    src = make_image(tmp_path / "p.png", 60, 40)
    queue_and_wait(qtbot, win, [src])
    win.queue.select(str(src))
    qtbot.waitUntil(lambda: win.compare.view.has_image, timeout=20000)
    assert win.compare.view.scale == 2
    with qtbot.waitSignal(win.preview_ready, timeout=60000):
        win.compare.preview_button.click()
    view = win.compare.view
    x, y, w, h = view._after_region
    assert (view._after.width(), view._after.height()) == (2 * w, 2 * h)
    assert (w, h) == (60, 40)  # fitted: the whole image is visible

    # zoom in to 1:1 on a corner: a live preview follows with a smaller region
    view.set_zoom(16.0, QPointF(5, 5))
    with qtbot.waitSignal(win.preview_ready, timeout=60000):
        pass
    assert view._after_region[2] < 60


def test_newer_preview_replaces_older(qtbot, model_window, tmp_path):
    win = model_window
    src = make_image(tmp_path / "p.png", 40, 30)
    queue_and_wait(qtbot, win, [src])
    qtbot.waitUntil(lambda: win.compare.view.has_image, timeout=20000)
    first = None
    win.request_preview()
    first = win._preview_worker
    win.request_preview()
    assert first.cancelled
    with qtbot.waitSignal(win.preview_ready, timeout=60000):
        pass
    assert win._preview_request == 2


def test_compare_view_split_and_side_by_side(qtbot, model_window, tmp_path):
    win = model_window
    src = make_image(tmp_path / "p.png", 40, 30)
    queue_and_wait(qtbot, win, [src])
    qtbot.waitUntil(lambda: win.compare.view.has_image, timeout=20000)
    view = win.compare.view
    view.resize(400, 300)
    x = int(view.split_x())
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(x, 150))
    qtbot.mouseMove(view, QPoint(100, 150))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(100, 150))
    assert abs(view.split - 0.25) < 0.02

    win.compare.side_button.click()
    assert view.mode == SIDE and len(view.panes()) == 2
    view.set_zoom(1.0)
    left, right = view.panes()
    # one zoom and pan for both panes: the same output pixel sits at each pane's centre
    assert view.to_output(left.center(), left) == view.to_output(right.center(), right)
    center = QPointF(view.center)
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=QPoint(100, 100))
    qtbot.mouseMove(view, QPoint(90, 100))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=QPoint(90, 100))
    assert view.center.x() > center.x()
    image = view.grab().toImage()
    assert not image.isNull()


def test_engine_auto_shows_device_and_tile(qtbot, model_window):
    panel = model_window.panel
    qtbot.waitUntil(lambda: panel.engine_label.text().startswith("Runs on the CPU"), timeout=30000)
    assert panel.tile_combo.itemText(0).startswith("Auto (") and panel.tile_combo.itemText(0).endswith(" px)")
    assert "augmentation" not in panel.engine_label.text()
    panel.tta_check.setChecked(True)
    qtbot.waitUntil(lambda: "(test-time augmentation)" in panel.engine_label.text(), timeout=30000)
    from sr_desktop.gui import jobs

    assert jobs.get_upscaler(model_window._engine_choice()).tta is True
    panel.tta_check.setChecked(False)
    # a choice the device cannot do is reported before any run
    panel._select(panel.precision_combo, "fp16")
    qtbot.waitUntil(
        lambda: "fp16" in panel.engine_label.text() and "CPU" in panel.engine_label.text(), timeout=30000
    )
