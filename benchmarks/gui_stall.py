"""How responsive is the window? Launch time, and the longest event-loop stall while a CPU batch
runs in the real main window (offscreen unless a display is given).

    python benchmarks/gui_stall.py [--images 6] [--size 384] [--resblocks 4] [--feats 32]

Prints the launch-to-usable-window time (process start to the first painted window; target
under 3 s) and the longest gap between 10 ms timer ticks while images are queued, previewed
and upscaled. Everything is written to a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _isolate(folder: Path) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen" if not os.environ.get("DISPLAY") else "xcb")
    os.environ["SR_DESKTOP_DATA_DIR"] = str(folder / "data")
    os.environ["SR_DESKTOP_CONFIG_DIR"] = str(folder / "config")
    os.environ["SR_DESKTOP_LOG_DIR"] = str(folder / "log")
    os.environ["SR_DESKTOP_CONFIRM_CLOSE"] = "0"


def child_launch() -> None:
    """Runs in a fresh process: time from process start (T0 from the parent) to a painted window."""
    t0 = float(os.environ["GUI_STALL_T0"])
    from PySide6.QtCore import QEventLoop, QTimer

    from sr_desktop.gui.app import create_app

    create_app()
    from sr_desktop.gui.main_window import MainWindow

    window = MainWindow()
    torch_loaded = "torch" in sys.modules  # before any event runs the model-list worker
    window.show()
    window.repaint()  # the first full paint: the window is usable now
    shown = time.time() - t0
    loop = QEventLoop()
    window.models_loaded.connect(loop.quit)
    QTimer.singleShot(60000, loop.quit)
    loop.exec()
    models = time.time() - t0
    window.shutdown()
    print(f"LAUNCH {shown:.3f} {models:.3f} {int(torch_loaded)}")


def measure_launch(folder: Path) -> tuple[float, float, bool]:
    env = dict(os.environ, GUI_STALL_T0=repr(time.time()))
    proc = subprocess.run(
        [sys.executable, __file__, "--child-launch"],
        env=env,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("LAUNCH")), None)
    if line is None:
        raise SystemExit(f"launch child failed:\n{proc.stderr}")
    _, shown, models, torch_loaded = line.split()
    return float(shown), float(models), torch_loaded == "1"


def measure_stall(folder: Path, n_images: int, size: int, resblocks: int, feats: int) -> None:
    import numpy as np
    import torch
    from PIL import Image
    from PySide6.QtCore import QEventLoop, QTimer

    from sr_desktop.core.archs import EDSR, EDSRConfig
    from sr_desktop.core.modelfile import save_model
    from sr_desktop.gui.app import create_app
    from sr_desktop.gui.main_window import MainWindow
    from sr_desktop.gui.stall import StallMeter

    torch.manual_seed(0)
    module = EDSR(EDSRConfig(scale=2, n_resblocks=resblocks, n_feats=feats))
    save_model(
        folder / "data" / "models" / "bench-x2.safetensors",
        module,
        "edsr",
        module.config,
        {"description": "benchmark"},
    )
    rng = np.random.default_rng(0)
    inputs = []
    for i in range(n_images):
        path = folder / "in" / f"img{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
        inputs.append(str(path))

    app = create_app()
    window = MainWindow()
    window.show()

    def wait(signal, timeout_s: float) -> None:
        loop = QEventLoop()
        signal.connect(loop.quit)
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        loop.exec()

    wait(window.models_loaded, 60)
    meter = StallMeter()
    meter.start()
    window.queue.add_paths(inputs)
    while window.queue.busy or len(window.queue.files()) < n_images:
        app.processEvents()
    window.queue.select(inputs[0])
    while not window.compare.view.has_image:
        app.processEvents()
    window.request_preview()
    wait(window.preview_ready, 120)
    queue_stall = meter.longest_ms
    window.panel.outdir_edit.setText(str(folder / "out"))
    start = time.perf_counter()
    assert window.start_batch()
    wait(window.batch_finished, 600)
    seconds = time.perf_counter() - start
    longest = meter.stop()
    written = len(list((folder / "out").glob("*.png")))
    window.shutdown()
    print(
        f"batch: {written}/{n_images} images {size}x{size} -> x2 on the CPU (EDSR {resblocks} blocks, {feats} feats) "
        f"in {seconds:.1f} s"
    )
    print(
        f"longest event-loop stall: {longest:.1f} ms (queue + thumbnails + preview: {queue_stall:.1f} ms; "
        f"{meter.gaps_over_50ms} gaps over 50 ms in {meter.ticks} ticks)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--resblocks", type=int, default=4)
    parser.add_argument("--feats", type=int, default=32)
    parser.add_argument("--child-launch", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gui-stall-") as tmp:
        folder = Path(tmp)
        _isolate(folder)
        if args.child_launch:
            child_launch()
            return
        shown, models, torch_loaded = measure_launch(folder)
        print(
            f"launch to usable window: {shown:.2f} s (target < 3 s; torch loaded by then: {'yes' if torch_loaded else 'no'}); "
            f"model list ready: {models:.2f} s"
        )
        measure_stall(folder, args.images, args.size, args.resblocks, args.feats)


if __name__ == "__main__":
    main()
