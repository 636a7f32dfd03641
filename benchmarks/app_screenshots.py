"""Screenshots of the main window for the README: after a finished batch, and the compare view.

    xvfb-run -s '-screen 0 1400x900x24' .venv/bin/python benchmarks/app_screenshots.py \
        [--photos ../shared/datasets/photos-hr] [--model edsr-x2] [--out docs]

Uses a private settings/data folder, so it never touches the user's; the model is a bundled one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def wait(app, condition, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there in time")
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--photos", type=Path, default=Path(__file__).resolve().parents[2] / "shared/datasets/photos-hr"
    )
    parser.add_argument("--model", default="edsr-x2")
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--count", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sr-shots-"))
    os.environ.update(SR_DESKTOP_DATA_DIR=str(tmp / "data"), SR_DESKTOP_CONFIG_DIR=str(tmp / "config"),
                      SR_DESKTOP_LOG_DIR=str(tmp / "log"), SR_DESKTOP_CONFIRM_CLOSE="0")  # fmt: skip

    from PIL import Image

    photos = tmp / "Photos"
    photos.mkdir()
    chosen = sorted(args.photos.glob("*.jpg"))[: args.count]
    if len(chosen) < 3:  # the compare view shows the third
        parser.error(f"--photos {args.photos} needs at least 3 .jpg photos, found {len(chosen)}")
    for p in chosen:  # small copies: a quick batch
        with Image.open(p) as im:
            im.convert("RGB").resize((640, round(640 * im.height / im.width))).save(
                photos / p.name, quality=92
            )

    from PySide6.QtCore import QPointF

    from sr_desktop.gui.app import create_app
    from sr_desktop.gui.main_window import MainWindow

    app = create_app()
    win = MainWindow()
    win.resize(1280, 800)
    win.show()
    wait(app, lambda: win.catalog is not None)
    win.panel.want_model(args.model)
    win.queue.add_paths([str(photos)])
    wait(app, lambda: len(win.queue.files()) == len(chosen) and not win.queue.busy)
    win.start_batch()
    wait(app, lambda: not win.running, timeout=900)
    win.queue.select(win.queue.files()[2])
    wait(app, lambda: win.compare.view.has_image)
    args.out.mkdir(parents=True, exist_ok=True)
    ready = []
    win.preview_ready.connect(lambda *a: ready.append(1))
    win.compare.preview_button.click()
    wait(app, lambda: ready)
    app.processEvents()
    win.grab().save(str(args.out / "screenshot-main.png"))
    view = win.compare.view
    view.set_zoom(2.0, QPointF(view.rect().center()))
    ready.clear()
    wait(app, lambda: ready)
    app.processEvents()
    win.grab().save(str(args.out / "screenshot-compare.png"))
    print(f"wrote {args.out / 'screenshot-main.png'} and {args.out / 'screenshot-compare.png'}")
    win.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
