"""Drive the training wizard through its five pages and save a screenshot of each.

    xvfb-run -s '-screen 0 1400x900x24' python -m sr_desktop.gui.wizard.screenshots \
        --dataset ../shared/datasets/Set5/x2 --out docs

Uses a private, temporary data folder (no model is added to the user's store) and a small
network so the whole tour takes about a minute on a CPU.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", required=True, help="dataset folder to show and train on")
    p.add_argument("--out", default="docs", help="folder for wizard-1-dataset.png ... wizard-5-finish.png")
    p.add_argument("--iters", type=int, default=400)
    p.add_argument("--blocks", type=int, default=4)
    p.add_argument("--feats", type=int, default=32)
    args = p.parse_args(argv)
    os.environ["SR_DESKTOP_DATA_DIR"] = tempfile.mkdtemp(prefix="sr-wizard-shots-")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import QEventLoop, QTimer

    from ..app import create_app
    from .wizard import TrainingWizard

    app = create_app()
    wiz = TrainingWizard(None, on_model_ready=lambda name: print(f"model ready: {name}"))
    wiz.confirm_stop = lambda: True
    wiz.resize(1200, 820)
    wiz.show()

    def wait(cond, timeout_s: float = 300, settle_ms: int = 300) -> None:
        end = time.monotonic() + timeout_s
        loop = QEventLoop()
        while not cond():
            if time.monotonic() > end:
                raise SystemExit(f"timed out waiting on page {wiz.currentId()}")
            QTimer.singleShot(50, loop.quit)
            loop.exec()
        QTimer.singleShot(settle_ms, loop.quit)
        loop.exec()

    def shot(name: str) -> None:
        path = out / name
        wiz.grab().save(str(path))
        print(f"wrote {path}")

    wiz.dataset_page.set_folder(str(Path(args.dataset).resolve()))
    wait(lambda: wiz.dataset_page.report is not None)
    shot("wizard-1-dataset.png")

    wiz.next()
    wiz.model_page.blocks.setValue(args.blocks)
    wiz.model_page.feats.setValue(args.feats)
    wait(lambda: not getattr(wiz.model_page, "_wizard_jobs", None))
    shot("wizard-2-model.png")

    wiz.next()
    budget = wiz.budget_page
    budget.by_iters.setChecked(True)
    budget.iters.setValue(args.iters)
    budget.name_edit.setText("edsr-x2-set5-demo")
    budget.measure()
    wait(lambda: not budget.measuring and budget.rate is not None)
    shot("wizard-3-budget.png")

    wiz.plan.val_every = max(5, args.iters // 12)
    wiz.next()
    run = wiz.run_page
    wait(
        lambda: (
            run.psnr_chart.point_count() >= 8 and run.sample_iteration > 0 or run.state in ("done", "failed")
        )
    )
    shot("wizard-4-run.png")
    wait(lambda: run.state in ("done", "failed"), timeout_s=900)
    if run.state != "done":
        print(f"training failed: {run.error_text}", file=sys.stderr)
        return 1

    wiz.next()
    wait(lambda: wiz.finish_page.comparison is not None, settle_ms=600)
    shot("wizard-5-finish.png")
    wiz.accept()
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
