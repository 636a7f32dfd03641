"""The training wizard: dataset -> model -> budget -> training -> result.

Training runs in a separate ``sr-train`` process (see :mod:`.trainer_process`); closing the wizard
or quitting the app while it runs asks first and leaves a checkpointed, resumable run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from PySide6.QtCore import QSize
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget, QWizard

from .budget_page import BudgetPage
from .dataset_page import DatasetPage
from .finish_page import FinishPage
from .model_page import ModelPage
from .plan import RunInfo, TrainingPlan, plan_from_run
from .run_page import RunPage
from .trainer_process import TrainerProcess

log = logging.getLogger(__name__)

DATASET_PAGE, MODEL_PAGE, BUDGET_PAGE, RUN_PAGE, FINISH_PAGE = range(5)
STOP_WAIT_MS = 60_000  # how long closing waits for the trainer's checkpoint


class TrainingWizard(QWizard):
    def __init__(self, parent: QWidget | None = None, on_model_ready: Callable[[str], None] | None = None):
        super().__init__(parent)
        self.setObjectName("trainingWizard")
        self.setWindowTitle("Train a model")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.setButtonText(QWizard.WizardButton.CancelButton, "Close")
        self.on_model_ready = on_model_ready
        self.plan = TrainingPlan()
        self.rate: float | None = None
        self.resume_info: RunInfo | None = None
        self.installed_models: list = []
        self.model_announced = ""
        # ask before stopping a run on close; tests and the screenshot script replace it
        self.confirm_stop: Callable[[], bool] = self._ask_stop
        self.trainer = TrainerProcess(self)
        self.dataset_page = DatasetPage()
        self.model_page = ModelPage()
        self.budget_page = BudgetPage()
        self.run_page = RunPage(self.trainer)
        self.finish_page = FinishPage()
        for pid, page in enumerate(
            (self.dataset_page, self.model_page, self.budget_page, self.run_page, self.finish_page)
        ):
            self.setPage(pid, page)
        self.setStartId(DATASET_PAGE)
        app = QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    def sizeHint(self) -> QSize:
        return QSize(1180, 800)

    @property
    def dataset_report(self):
        return self.dataset_page.report

    # --- flow --------------------------------------------------------------------------------------
    def prepare_resume(self, info: RunInfo) -> None:
        self.resume_info = info
        self.plan = plan_from_run(info)

    def announce_model(self, name: str) -> None:
        self.model_announced = name
        if self.on_model_ready is not None:
            try:
                self.on_model_ready(name)
            except Exception:  # noqa: BLE001 - the main window's problem must not end the wizard
                log.exception("on_model_ready(%r) failed", name)

    # --- closing ---------------------------------------------------------------------------------------
    @property
    def training(self) -> bool:
        return self.trainer.running

    def _ask_stop(self) -> bool:
        if os.environ.get("SR_DESKTOP_CONFIRM_CLOSE") == "0":
            return True
        answer = QMessageBox.question(
            self,
            "Training is running",
            "Stop the training now?\n\nA checkpoint is saved first, so you can continue later: open "
            "“Train a model…” again and pick the run under “Or continue a paused run”.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def may_close(self) -> bool:
        """Ask when training runs; on yes, stop it with a checkpoint (waits for it)."""
        if not self.training:
            return True
        if not self.confirm_stop():
            return False
        self.shutdown()
        return True

    def shutdown(self) -> None:
        """Stop the trainer (checkpoint + exit 130) and the speed measurement; blocks until done."""
        self.budget_page.stop_measuring()
        if self.trainer.running:
            self.trainer.stop()
            if not self.trainer.wait(STOP_WAIT_MS):
                log.warning("the trainer did not stop in %d s; killing it", STOP_WAIT_MS // 1000)
                self.trainer.kill()
                self.trainer.wait(5000)

    def reject(self) -> None:
        if self.may_close():
            super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.may_close():
            self.budget_page.stop_measuring()
            super().closeEvent(event)
        else:
            event.ignore()

    def done(self, result: int) -> None:
        if result == QWizard.DialogCode.Accepted or self.may_close():
            self.budget_page.stop_measuring()
            super().done(result)


def open_training_wizard(
    parent: QWidget | None, on_model_ready: Callable[[str], None] | None = None
) -> QWizard:
    """Create and show the wizard (non-modal, so the main window stays usable while it trains);
    ``on_model_ready(name)`` is called with the new model's store name when it is ready."""
    wizard = TrainingWizard(parent, on_model_ready)
    wizard.resize(wizard.sizeHint())
    wizard.show()
    return wizard
