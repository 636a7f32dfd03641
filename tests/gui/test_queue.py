"""Queue: drops of files and folders, paste, remove/clear, sizes and thumbnails from workers."""

from pathlib import Path

from gui_helpers import make_image, queue_and_wait
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication


def _mime(paths):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def _drop(widget, paths):
    mime = _mime(paths)
    enter = QDragEnterEvent(
        QPointF(20, 20),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(20, 20),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(widget, drop)
    return drop


def test_drop_files_and_folder(qtbot, window, tmp_path):
    a = make_image(tmp_path / "a.png", 20, 10)
    b = make_image(tmp_path / "b.jpg", 12, 30)
    folder = tmp_path / "shots"
    make_image(folder / "c.png", 8, 8)
    d = make_image(folder / "deeper" / "d.webp", 16, 8)
    (folder / "notes.txt").write_text("not an image")
    (folder / ".hidden.png").write_bytes(b"x")
    messages = []
    window.queue.message.connect(messages.append)

    drop = _drop(window.queue, [a, b, folder])
    assert drop.isAccepted()
    qtbot.waitUntil(lambda: len(window.queue.files()) == 4 and not window.queue.busy, timeout=20000)

    assert sorted(Path(p).name for p in window.queue.files()) == ["a.png", "b.jpg", "c.png", "d.webp"]
    assert window.queue.size_of(str(a)) == (20, 10)
    assert window.queue.size_of(str(d)) == (16, 8)
    row = window.queue.row(str(b))
    assert row.text(1) == "12×30"
    assert not row.icon(0).isNull(), "thumbnail missing"
    assert any("non-image" in m for m in messages), messages

    # the same drop again adds nothing
    _drop(window.queue, [a])
    qtbot.waitUntil(lambda: not window.queue.busy, timeout=10000)
    assert len(window.queue.files()) == 4


def test_output_size_follows_model_and_outscale(qtbot, model_window, tmp_path):
    win = model_window
    a = make_image(tmp_path / "a.png", 20, 10)
    queue_and_wait(qtbot, win, [a])
    assert win.queue.row(str(a)).text(2) == "40×20"
    win.panel.scale_spin.setValue(3.0)
    assert win.queue.row(str(a)).text(2) == "60×30"


def test_remove_and_clear(qtbot, window, images):
    queue_and_wait(qtbot, window, images)
    window.queue.select(str(images[0]))
    window.queue.remove_selected()
    assert str(images[0]) not in window.queue.files()
    assert len(window.queue.files()) == 2
    window.queue.clear()
    assert window.queue.files() == []
    assert window.queue.stack.currentWidget() is window.queue.empty
    assert not window.start_button.isEnabled()


def test_paste_file_urls_and_image_data(qtbot, window, tmp_path):
    a = make_image(tmp_path / "a.png", 20, 10)
    QGuiApplication.clipboard().setMimeData(_mime([a]))
    window.paste()
    qtbot.waitUntil(lambda: len(window.queue.files()) == 1 and not window.queue.busy, timeout=10000)

    image = QImage(7, 5, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.red)
    QGuiApplication.clipboard().setImage(image)
    window.paste()
    qtbot.waitUntil(lambda: len(window.queue.files()) == 2 and not window.queue.busy, timeout=10000)
    pasted = [p for p in window.queue.files() if Path(p).name.startswith("pasted-")]
    assert len(pasted) == 1 and Path(pasted[0]).is_file()
    assert window.queue.size_of(pasted[0]) == (7, 5)
    Path(pasted[0]).unlink()
