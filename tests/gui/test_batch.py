"""Running the queue in the real window: outputs, failures listed while the batch goes on,
cancel mid-batch without partial files."""

from pathlib import Path

from gui_helpers import make_image, make_model, queue_and_wait
from PIL import Image
from PySide6.QtCore import Qt


def _run(qtbot, win, timeout=120000):
    with qtbot.waitSignal(win.batch_finished, timeout=timeout) as blocker:
        assert win.start_batch()
    return blocker.args[0]


def test_batch_writes_outputs(qtbot, model_window, images, tmp_path, monkeypatch):
    win = model_window
    out = tmp_path / "out"
    win.panel.outdir_edit.setText(str(out))
    queue_and_wait(qtbot, win, images)
    results = _run(qtbot, win)

    assert [r.status for r in results] == ["done"] * 3
    for src in images:
        written = out / src.name
        assert written.is_file()
        w, h = Image.open(src).size
        assert Image.open(written).size == (2 * w, 2 * h)
        assert win.queue.status_of(str(src)) == "Done"
    assert "3 written" in win.summary_label.text()
    assert win.open_output_button.isVisibleTo(win)
    assert win.overall_bar.value() == 1000
    assert win.start_button.isEnabled() and not win.cancel_button.isEnabled()

    opened = []
    monkeypatch.setattr("sr_desktop.gui.main_window.QDesktopServices.openUrl", lambda url: opened.append(url))
    win.open_output_button.click()
    assert [u.toLocalFile() for u in opened] == [str(out)]

    # a second run skips what is there
    results = _run(qtbot, win)
    assert [r.status for r in results] == ["skipped"] * 3


def test_default_output_folder_beside_first_input(qtbot, model_window, images):
    win = model_window
    queue_and_wait(qtbot, win, images[:1])
    assert win.panel.outdir() == str(images[0].parent / "upscaled")
    _run(qtbot, win)
    assert (images[0].parent / "upscaled" / images[0].name).is_file()


def test_failed_file_is_listed_and_others_finish(qtbot, model_window, images, tmp_path):
    win = model_window
    bad = tmp_path / "in" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not really a png")
    out = tmp_path / "out"
    win.panel.outdir_edit.setText(str(out))
    queue_and_wait(qtbot, win, [images[0], bad, images[1]])
    results = _run(qtbot, win)

    by_name = {Path(r.input).name: r for r in results}
    assert by_name["broken.png"].status == "failed"
    assert by_name["img0.png"].status == "done" and by_name["img1.png"].status == "done"
    assert (out / "img0.png").is_file() and (out / "img1.png").is_file()
    assert not (out / "broken.png").exists()
    assert win.queue.status_of(str(bad)) == "Failed"
    assert win.queue.row(str(bad)).toolTip(3)  # the reason
    assert win.failures.isVisibleTo(win) and win.failures.count() == 1
    assert win.failures.item(0).text().startswith("broken.png — ")
    assert "1 failed" in win.summary_label.text()


def test_cancel_mid_batch_leaves_no_partial_file(qtbot, window, tmp_path):
    make_model(Path(tmp_path / "data_models"), "slow-x2", n_resblocks=2, n_feats=16)
    win = window
    win.show_model_manager().import_file(str(tmp_path / "data_models" / "slow-x2.safetensors"))
    qtbot.waitUntil(
        lambda: (
            "slow-x2" in [win.panel.model_combo.itemData(i) for i in range(win.panel.model_combo.count())]
        ),
        timeout=30000,
    )
    win.panel.model_combo.setCurrentIndex(win.panel.model_combo.findData("slow-x2"))
    win.panel._select(win.panel.tile_combo, "128")
    src = [make_image(tmp_path / "big" / f"p{i}.png", 160, 160, seed=i) for i in range(3)]
    out = tmp_path / "out"
    win.panel.outdir_edit.setText(str(out))
    queue_and_wait(qtbot, win, src)

    state = {}

    def hook(worker):  # before the thread starts, so no progress event is missed
        def pause_on_first_tile(event):  # runs in the worker thread: pauses before the next tile
            if "file_index" in event.info and "paused" not in state:
                state["paused"] = True
                worker.pause()

        worker.progress.connect(pause_on_first_tile, Qt.ConnectionType.DirectConnection)

    win.batch_starting.connect(hook)
    with qtbot.waitSignal(win.batch_finished, timeout=120000) as blocker:
        assert win.start_batch()
        qtbot.waitUntil(lambda: win.file_label.text().startswith("File 1 of 3"), timeout=60000)
        assert win.cancel_button.isEnabled()
        win.cancel_button.click()
    results = blocker.args[0]

    assert state.get("paused")
    assert all(r.status != "done" for r in results)
    written = list(out.rglob("*")) if out.exists() else []
    assert written == [], f"partial output left: {written}"
    assert win.queue.status_of(str(src[0])) == "Cancelled"
    assert win.summary_label.text().startswith("Cancelled")
    assert win.start_button.isEnabled()


def test_pause_and_resume(qtbot, model_window, images, tmp_path):
    win = model_window
    out = tmp_path / "out"
    win.panel.outdir_edit.setText(str(out))
    queue_and_wait(qtbot, win, images)
    # pressed before the worker thread starts, so the batch cannot finish first
    win.batch_starting.connect(lambda worker: win.pause_button.click())
    with qtbot.waitSignal(win.batch_finished, timeout=120000) as blocker:
        assert win.start_batch()
        qtbot.waitUntil(lambda: win.overall_label.text().startswith("Paused"), timeout=30000)
        assert win.pause_button.text() == "Resume"
        assert not out.exists() or not any(out.iterdir())
        assert win._batch.context.progress.paused
        win.pause_button.click()
    assert [r.status for r in blocker.args[0]] == ["done"] * 3
    assert win.pause_button.text() == "Pause" and not win.pause_button.isChecked()


def test_desktop_notification_when_the_window_is_in_the_background(
    qtbot, model_window, images, tmp_path, monkeypatch
):
    from PySide6.QtWidgets import QSystemTrayIcon

    win = model_window
    win.panel.outdir_edit.setText(str(tmp_path / "out"))
    queue_and_wait(qtbot, win, images)
    shown = []
    monkeypatch.setattr(QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True))
    monkeypatch.setattr(
        QSystemTrayIcon, "showMessage", lambda self, title, text, *a: shown.append((title, text))
    )

    monkeypatch.setattr(win, "isActiveWindow", lambda: True)  # the user is looking: the summary is enough
    _run(qtbot, win)
    assert shown == [] and win.tray is None

    monkeypatch.setattr(win, "isActiveWindow", lambda: False)
    win.panel.outdir_edit.setText(str(tmp_path / "out2"))
    _run(qtbot, win)
    assert shown == [("Upscaling finished", "3 written")]
    assert win.tray is not None and win.tray.isVisible()
