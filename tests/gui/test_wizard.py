"""The training wizard, driven like a user would: a tiny dataset, a tiny network, a real
``sr-train`` subprocess, and the events it writes."""

import os
from pathlib import Path

import numpy as np
import pytest
from gui_helpers import make_model
from PySide6.QtWidgets import QWizard

from sr_desktop.gui.stall import StallMeter
from sr_desktop.gui.wizard import TrainingWizard
from sr_desktop.gui.wizard.wizard import BUDGET_PAGE, FINISH_PAGE, MODEL_PAGE, RUN_PAGE
from training.events import read_events

TRAIN_WAIT_MS = 180_000
SCAN_WAIT_MS = 60_000


def make_dataset(folder: Path, n: int = 5, size: int = 64) -> Path:
    """Smooth-ish random images (gradients plus noise), so there is something to learn."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    for i in range(n):
        rng = np.random.default_rng(i)
        base = np.stack([xx * (i + 1) % 1, yy, (xx + yy) / 2], axis=2) * 200
        img = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"photo{i}.png")
    return folder


def wizard_at_dataset(qtbot, folder: Path, ready=None) -> TrainingWizard:
    wiz = TrainingWizard(None, on_model_ready=(ready.append if ready is not None else None))
    wiz.confirm_stop = lambda: True
    qtbot.addWidget(wiz)
    wiz.resize(1100, 760)
    wiz.show()
    wiz.dataset_page.set_folder(str(folder))
    qtbot.waitUntil(lambda: wiz.dataset_page.report is not None, timeout=SCAN_WAIT_MS)
    return wiz


def to_budget_page(qtbot, wiz: TrainingWizard, name: str) -> None:
    """Dataset -> model (tiny EDSR) -> budget with a tiny batch, waiting for the speed estimate."""
    assert wiz.dataset_page.isComplete(), wiz.dataset_page.report.problems
    wiz.next()
    assert wiz.currentId() == MODEL_PAGE
    page = wiz.model_page
    page.blocks.setValue(1)
    page.feats.setValue(8)
    wiz.next()
    assert wiz.currentId() == BUDGET_PAGE
    budget = wiz.budget_page
    wiz.plan.threads = 1
    budget.by_iters.setChecked(True)
    budget.batch.setValue(2)
    budget.patch.setValue(16)
    budget.name_edit.setText(name)
    budget.measure()  # again, with the tiny settings
    qtbot.waitUntil(lambda: not budget.measuring, timeout=TRAIN_WAIT_MS)
    assert budget.rate and budget.rate > 0, budget.estimate.text()


def events_of(run_dir: Path) -> list[dict]:
    return read_events(Path(run_dir) / "events.jsonl")


def test_wizard_trains_a_model_that_upscales(qtbot, tmp_path, monkeypatch):
    from sr_desktop.core import store

    bundled = tmp_path / "bundled"
    make_model(bundled, name="edsr-x2", scale=2)
    monkeypatch.setattr(store, "bundled_model_dir", lambda: bundled)
    ready: list[str] = []
    wiz = wizard_at_dataset(qtbot, make_dataset(tmp_path / "photos"), ready)
    status = wiz.dataset_page.status.text()
    assert "5 images" in status and "64×64" in status
    assert wiz.dataset_page.samples.count() > 1  # thumbnails (plus the stretch)
    to_budget_page(qtbot, wiz, "tiny-trained")
    assert "steps per second" in wiz.budget_page.estimate.text()
    wiz.budget_page.iters.setValue(10)

    wiz.next()  # Start training
    assert wiz.currentId() == RUN_PAGE
    meter = StallMeter()  # the event loop while the trainer runs (page switch excluded)
    meter.start()
    run = wiz.run_page
    qtbot.waitUntil(lambda: run.state in ("done", "failed"), timeout=TRAIN_WAIT_MS)
    stall_ms = meter.stop()
    assert run.state == "done", run.error_text
    print(
        f"\nwizard GUI stall during training: longest event-loop gap {stall_ms:.0f} ms over {meter.ticks} ticks"
    )
    (Path(os.environ.get("WIZARD_STALL_REPORT", tmp_path / "stall.txt"))).write_text(f"{stall_ms:.1f}\n")
    assert run.loss_chart.point_count() >= 5
    assert run.psnr_chart.point_count() >= 2  # model and bicubic at step 5 and 10
    qtbot.waitUntil(lambda: run.sample_iteration >= 5, timeout=SCAN_WAIT_MS)
    assert run.sample.has_after
    assert wiz.button(QWizard.WizardButton.NextButton).isEnabled()

    wiz.next()
    assert wiz.currentId() == FINISH_PAGE
    assert ready == ["tiny-trained"]
    finish = wiz.finish_page
    qtbot.waitUntil(lambda: finish.comparison is not None, timeout=SCAN_WAIT_MS)
    titles = [finish.table.horizontalHeaderItem(c).text() for c in range(finish.table.columnCount())]
    assert titles == ["Image", "Bicubic", "Your model", "edsr-x2 (bundled)"]
    assert finish.table.rowCount() == len(finish.comparison.names) + 1 >= 2
    assert "Validation PSNR" in finish.card.text()
    assert finish.compare.view.has_after

    # registered in the store, and it upscales
    from sr_desktop.core.engine import Upscaler
    from sr_desktop.core.modelfile import load_model

    entry = store.resolve_model("tiny-trained")
    assert not entry.bundled
    model = load_model(entry.path)
    assert model.card["iterations"] == "10"
    out = Upscaler(model, device="cpu", precision="fp32").upscale_array(
        np.random.rand(12, 16, 3).astype(np.float32)
    )
    assert out.shape == (24, 32, 3) and np.isfinite(out).all()
    wiz.accept()


def _wait_event(qtbot, run_dir, predicate, timeout=60_000):
    found = []

    def check():
        found[:] = [e for e in events_of(run_dir) if predicate(e)]
        return bool(found)

    qtbot.waitUntil(check, timeout=timeout)
    return found


def test_pause_resume_and_resume_from_a_new_wizard(qtbot, tmp_path):
    wiz = wizard_at_dataset(qtbot, make_dataset(tmp_path / "photos"))
    to_budget_page(qtbot, wiz, "paused-model")
    wiz.budget_page.iters.setValue(100_000)  # far more than the test waits for
    wiz.plan.val_every = 4
    wiz.plan.extra_args = ["--log-every", "1"]  # every step in events.jsonl
    wiz.next()
    run = wiz.run_page
    run_dir = run.run_dir
    qtbot.waitUntil(lambda: run.iteration >= 9, timeout=TRAIN_WAIT_MS)

    run.pause_button.click()  # Pause = checkpoint + exit 130
    qtbot.waitUntil(lambda: run.state == "paused", timeout=TRAIN_WAIT_MS)
    assert run.pause_button.text() == "Resume"
    stopped = [e for e in events_of(run_dir) if e["type"] == "interrupted"][-1]["iteration"]
    assert stopped >= 9

    run.pause_button.click()  # Resume = --resume RUN_DIR
    starts = _wait_event(qtbot, run_dir, lambda e: e["type"] == "start" and e.get("resumed"))
    assert starts[0]["iteration"] == stopped
    _wait_event(qtbot, run_dir, lambda e: e["type"] == "train" and e["iteration"] == stopped + 1)
    qtbot.waitUntil(lambda: run.iteration > stopped, timeout=TRAIN_WAIT_MS)

    # closing while training asks (answered yes here) and leaves a resumable run
    asked = []
    wiz.confirm_stop = lambda: asked.append(1) or True
    wiz.reject()
    assert asked and not wiz.trainer.running and not wiz.isVisible()
    second_stop = [e for e in events_of(run_dir) if e["type"] == "interrupted"][-1]["iteration"]
    assert second_stop > stopped

    # a new wizard lists the paused run and continues it from the first page
    wiz2 = TrainingWizard(None)
    wiz2.confirm_stop = lambda: True
    qtbot.addWidget(wiz2)
    wiz2.show()
    qtbot.waitUntil(lambda: wiz2.dataset_page.select_run(str(run_dir)), timeout=SCAN_WAIT_MS)
    assert wiz2.dataset_page.isComplete()
    wiz2.next()
    assert wiz2.currentId() == RUN_PAGE
    starts = _wait_event(qtbot, run_dir, lambda e: e["type"] == "start" and e["iteration"] == second_stop)
    assert starts[0]["resumed"]
    _wait_event(qtbot, run_dir, lambda e: e["type"] == "train" and e["iteration"] == second_stop + 1)
    # "Finish now" ends at the current step and exports the model
    qtbot.waitUntil(lambda: wiz2.run_page.finish_button.isEnabled(), timeout=TRAIN_WAIT_MS)
    wiz2.run_page.finish_button.click()
    qtbot.waitUntil(lambda: wiz2.run_page.state in ("done", "failed"), timeout=TRAIN_WAIT_MS)
    assert wiz2.run_page.state == "done", wiz2.run_page.error_text
    assert (Path(os.environ["SR_DESKTOP_DATA_DIR"]) / "models" / "paused-model.safetensors").is_file()
    wiz2.next()
    qtbot.waitUntil(lambda: wiz2.finish_page.comparison is not None, timeout=SCAN_WAIT_MS)
    wiz2.accept()


def test_bad_dataset_lists_problems_and_blocks_next(qtbot, tmp_path):
    from PIL import Image

    root = tmp_path / "bad"
    make_dataset(root / "HR", n=4)
    (root / "LR").mkdir()
    for i in range(3):
        size = 32 if i != 1 else 20  # photo1: wrong size ratio
        Image.new("RGB", (size, size), (i * 40, 0, 0)).save(root / "LR" / f"photo{i}.png")
    # photo3 has no LR partner; an LR file without HR; a truncated HR image
    Image.new("RGB", (32, 32)).save(root / "LR" / "orphan.png")
    (root / "HR" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    wiz = wizard_at_dataset(qtbot, root)
    page = wiz.dataset_page
    problems = [page.problems.item(i).text() for i in range(page.problems.count())]
    text = "\n".join(problems)
    for name in ("photo1.png", "photo3", "orphan.png", "broken.png"):
        assert name in text, text
    assert not page.isComplete()
    assert not wiz.button(QWizard.WizardButton.NextButton).isEnabled()
    assert page.hr_only_button.isVisible()

    # the offer to use the HR images alone: still the broken file, then fine once it is gone
    page.hr_only_button.click()
    qtbot.waitUntil(lambda: page.report is not None, timeout=SCAN_WAIT_MS)
    assert page.path_edit.text().endswith("HR") and not page.isComplete()
    (root / "HR" / "broken.png").unlink()
    page.check()
    qtbot.waitUntil(lambda: page.report is not None, timeout=SCAN_WAIT_MS)
    assert page.isComplete() and "plain" == page.report.kind
    assert wiz.button(QWizard.WizardButton.NextButton).isEnabled()


def test_too_few_images_and_missing_folder(qtbot, tmp_path):
    wiz = wizard_at_dataset(qtbot, make_dataset(tmp_path / "two", n=2))
    assert any("at least 3" in p for p in wiz.dataset_page.report.problems)
    assert not wiz.dataset_page.isComplete()
    wiz.dataset_page.set_folder(str(tmp_path / "nowhere"))
    qtbot.waitUntil(lambda: wiz.dataset_page.report is not None, timeout=SCAN_WAIT_MS)
    assert "not a folder" in wiz.dataset_page.report.problems[0]
    assert not wiz.dataset_page.isComplete()


def test_trainer_crash_is_shown_and_the_app_survives(qtbot, tmp_path):
    import shutil

    folder = make_dataset(tmp_path / "photos")
    wiz = wizard_at_dataset(qtbot, folder)
    to_budget_page(qtbot, wiz, "never")
    wiz.budget_page.iters.setValue(10)
    shutil.rmtree(folder)  # the dataset disappears before training starts
    wiz.next()
    run = wiz.run_page
    qtbot.waitUntil(lambda: run.state in ("done", "failed"), timeout=TRAIN_WAIT_MS)
    assert run.state == "failed"
    assert run.error.isVisible()
    assert "not a folder" in run.error.text() and str(folder) in run.error.text()
    assert not wiz.button(QWizard.WizardButton.NextButton).isEnabled()
    assert wiz.isVisible() and not wiz.trainer.running
    # a trainer that dies without a message (bad option) is reported too
    wiz.plan.extra_args = ["--no-such-option"]
    run._start(wiz.plan.to_args())
    qtbot.waitUntil(lambda: run.state == "failed" and not wiz.trainer.running, timeout=TRAIN_WAIT_MS)
    assert "no-such-option" in run.error.text()
    wiz.reject()
    assert not wiz.isVisible()


@pytest.mark.parametrize("stage", ["both"])
def test_srgan_choice_needs_vgg_weights(qtbot, tmp_path, stage):
    wiz = wizard_at_dataset(qtbot, make_dataset(tmp_path / "photos"))
    wiz.next()
    page = wiz.model_page
    assert not page.stage_buttons["gan"].isEnabled()  # SRGAN only needs a model to start from
    page.stage_buttons[stage].setChecked(True)
    assert not page.isComplete() and "VGG" in page.problem.text()
    page.vgg19_download.setChecked(True)
    if page.consent.isVisible():
        assert not page.isComplete()
        page.consent.setChecked(True)
    assert page.isComplete()
    page.vgg16_file.setChecked(True)
    assert not page.isComplete()
    page.vgg16_path.setText("/somewhere/vgg16.ckpt")
    assert page.isComplete()
    page.validatePage()
    assert wiz.plan.vgg_args() == ["--vgg16-file", "/somewhere/vgg16.ckpt"]
    assert wiz.plan.stage == stage
