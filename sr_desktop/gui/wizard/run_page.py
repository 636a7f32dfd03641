"""Page 4: training runs in its own process; this page follows its ``events.jsonl``: live loss
and PSNR charts, a before/after sample at each validation, speed and time left, Pause/Resume
(a checkpointed stop and a ``--resume``), Finish now, and the trainer's errors."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from ..compare_view import CompareView
from . import jobs
from .chart import LineChart
from .common import ERROR_STYLE, help_label, run_job, to_qimage, wrap_label
from .plan import format_duration, new_run_dir
from .trainer_process import EXIT_INTERRUPTED, TrainerProcess

IDLE, RUNNING, STOPPING, PAUSED, DONE, FAILED = "idle", "running", "stopping", "paused", "done", "failed"
STAGE_NAMES = {"pretrain": "faithful stage", "gan": "SRGAN stage", "": ""}
# Chart labels for the loss terms the trainer reports
LOSS_NAMES = {"l1": "L1 (pixel)", "mse": "MSE (pixel)", "g": "generator", "content": "VGG content",
              "adv": "adversarial", "d": "discriminator"}  # fmt: skip


def _format_event(e: dict) -> str:
    from training.events import format_event

    try:
        return format_event(e)
    except Exception:  # noqa: BLE001 - a log line must never break the page
        return str(e)


class RunPage(QWizardPage):
    def __init__(self, trainer: TrainerProcess, parent: QWidget | None = None):
        super().__init__(parent)
        self.setTitle("4. Training")
        self.setSubTitle("Training runs in the background process; this window stays usable.")
        self.trainer = trainer
        self.state = IDLE
        self.run_dir: Path | None = None
        self.export_path: Path | None = None
        self.iteration = 0
        self.planned = 0
        self.stage = ""
        self.gan_offset = 0  # x offset of the SRGAN stage on the charts (pretrain's last iteration)
        self.error_text = ""
        self._finish_now = False
        self._sample_busy = False
        self._sample_pending = ""
        self.sample_iteration = -1
        self._sample_size = (0, 0)
        self.events_seen = 0

        trainer.event.connect(self._on_event)
        trainer.output.connect(self._on_output)
        trainer.download_progress.connect(self._on_download)
        trainer.finished.connect(self._on_finished)

        big = QFont(self.font())
        big.setPointSizeF(big.pointSizeF() * 1.15)
        big.setBold(True)
        self.status = QLabel("Starting…")
        self.status.setObjectName("runStatus")
        self.status.setFont(big)
        self.details = QLabel("")
        self.details.setObjectName("runDetails")
        self.progress = QProgressBar()
        self.progress.setObjectName("runProgress")
        self.progress.setRange(0, 1000)
        self.error = wrap_label()
        self.error.setObjectName("runError")
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()

        self.pause_button = QPushButton("Pause")
        self.pause_button.setObjectName("pauseButton")
        self.pause_button.clicked.connect(self.toggle_pause)
        self.finish_button = QPushButton("Finish now")
        self.finish_button.setObjectName("finishNowButton")
        self.finish_button.setToolTip("End training at the current step and save the model as it is")
        self.finish_button.clicked.connect(self.finish_now)
        buttons = QHBoxLayout()
        buttons.addWidget(self.pause_button)
        buttons.addWidget(self.finish_button)
        buttons.addWidget(
            help_label(
                "Pause saves a checkpoint and ends the training process; Resume continues exactly where it "
                "stopped (also after closing the app: choose the run on the first page). Finish now saves "
                "the model as it is."
            ),
            1,
        )

        self.loss_chart = LineChart("Training loss (lower is better)", "step", "loss", log_y=True)
        self.loss_chart.setObjectName("lossChart")
        self.loss_chart.empty_text = "The loss appears after the first steps"
        self.psnr_chart = LineChart("Validation PSNR (higher is better)", "step", "PSNR, dB")
        self.psnr_chart.setObjectName("psnrChart")
        self.psnr_chart.empty_text = "Measured on the set-aside images at each check"
        self.sample = CompareView()
        self.sample.setObjectName("sampleView")
        self.sample.set_message("A before/after sample appears\nat the first check")
        self.sample.setMinimumSize(220, 200)
        self.sample_caption = help_label("Left of the line: the small image; right: the model's result.")
        self.log = QPlainTextEdit()
        self.log.setObjectName("runLog")
        self.log.setReadOnly(True)
        self.log.setMaximumBlockCount(400)
        self.log.setMaximumHeight(90)
        self.log.setFont(QFont("monospace", max(8, self.font().pointSize() - 1)))

        charts = QHBoxLayout()
        charts.addWidget(self.loss_chart, 1)
        charts.addWidget(self.psnr_chart, 1)
        side = QVBoxLayout()
        side.addWidget(self.sample, 1)
        side.addWidget(self.sample_caption)
        charts.addLayout(side, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.details)
        layout.addWidget(self.progress)
        layout.addWidget(self.error)
        layout.addLayout(buttons)
        layout.addLayout(charts, 1)
        layout.addWidget(self.log)

    # --- starting ----------------------------------------------------------------------------------
    def initializePage(self) -> None:
        wiz = self.wizard()
        if self.state in (RUNNING, STOPPING):
            return
        if wiz.resume_info is not None:
            self.run_dir = Path(wiz.resume_info.path)
            self._reset_view()
            self._start(["--resume", str(self.run_dir)])
        else:
            plan = wiz.plan
            plan.run_dir = str(new_run_dir(plan.model_name))
            self.run_dir = Path(plan.run_dir)
            self._reset_view()
            self._start(plan.to_args(wiz.rate))
        self.export_path = wiz.plan.export_path()

    def _reset_view(self) -> None:
        self.loss_chart.clear()
        self.psnr_chart.clear()
        self.log.clear()
        self.iteration = self.planned = self.gan_offset = 0
        self.events_seen = 0

    def _start(self, args: list[str]) -> None:
        self.error.hide()
        self.error_text = ""
        self.state = RUNNING
        self.status.setText("Starting the trainer…")
        self.details.setText("Loading the images into memory and preparing the network")
        self.progress.setRange(0, 0)  # busy until the first step
        self._append_log("$ sr-train " + " ".join(args))
        self.trainer.start(args, self.run_dir)
        self._update_buttons()
        self.completeChanged.emit()

    def resume(self, iters: int | None = None) -> None:
        if self.run_dir is None or self.trainer.running:
            return
        has_ckpt = any((self.run_dir / sub / "checkpoint.pt").is_file() for sub in ("", "pretrain", "gan"))
        if not has_ckpt:  # stopped before the first checkpoint: start the same run again
            self._start(self.wizard().plan.to_args(self.wizard().rate))
            return
        args = ["--resume", str(self.run_dir)]
        if iters is not None:
            args += ["--iters", str(iters)]
        self._start(args)

    # --- controls ------------------------------------------------------------------------------------
    def toggle_pause(self) -> None:
        if self.state == RUNNING:
            self.pause()
        elif self.state in (PAUSED, FAILED):
            self.resume()

    def pause(self) -> None:
        if self.trainer.running:
            self.state = STOPPING
            self.status.setText("Pausing: saving a checkpoint…")
            self.trainer.stop()
            self._update_buttons()

    def finish_now(self) -> None:
        """Stop, then resume with the step budget set to the current step: the trainer then only
        validates and exports (for a two-stage run during the faithful stage, it goes on to SRGAN)."""
        if self.state == RUNNING:
            self._finish_now = True
            self.pause()
            self.status.setText("Finishing: saving a checkpoint, then the model…")
        elif self.state == PAUSED:
            self.resume(iters=max(1, self.iteration))

    def _update_buttons(self) -> None:
        running = self.state == RUNNING
        self.pause_button.setText("Pause" if running or self.state == STOPPING else "Resume")
        self.pause_button.setEnabled(self.state in (RUNNING, PAUSED, FAILED))
        self.finish_button.setEnabled(self.state in (RUNNING, PAUSED) and self.iteration > 0)

    # --- events ------------------------------------------------------------------------------------
    def _on_event(self, e: dict) -> None:
        self.events_seen += 1
        kind = e.get("type")
        stage = e.get("stage", "")
        if stage != self.stage and stage:
            self.stage = stage
        it = int(e.get("iteration", 0))
        x = it + (self.gan_offset if stage == "gan" else 0)
        if kind not in ("train",):
            self._append_log(_format_event(e))
        if kind == "start":
            self.planned = int(e.get("planned_iters") or 0)
            self.iteration = it
            self.status.setText(
                ("Resumed" if e.get("resumed") else "Training")
                + (f" ({STAGE_NAMES.get(stage, stage)})" if stage else "")
                + f" from step {it}"
            )
        elif kind == "info" and e.get("planned_iters"):
            self.planned = int(e["planned_iters"])
        elif kind == "train":
            self.iteration = it
            for name, value in (e.get("losses") or {}).items():
                if isinstance(value, (int, float)):
                    label = LOSS_NAMES.get(name, name)
                    if stage == "gan":
                        label = f"{label} (SRGAN)"
                    self.loss_chart.add_point(label, x, value)
            self._show_progress(e)
        elif kind == "val":
            label = "model" if stage != "gan" else "model (SRGAN)"
            self.psnr_chart.add_point(label, x, float(e.get("psnr", 0)))
            self.psnr_chart.add_point(
                "bicubic (plain enlargement)", x, float(e.get("bicubic_psnr", 0)), dashed=True
            )
        elif kind == "checkpoint" and e.get("path"):
            self._request_sample(str(e["path"]))
        elif kind == "done":
            if stage == "pretrain":
                self.gan_offset = it
            elif e.get("export"):
                self.export_path = Path(e["export"])
        elif kind == "error":
            self._show_error(str(e.get("message", "")))
        self._update_buttons()

    def _show_progress(self, e: dict) -> None:
        it = self.iteration
        two_stage = self.wizard() is not None and self.wizard().plan.stage == "both"
        if self.planned > 0:
            frac = min(1.0, it / self.planned)
            if two_stage:
                frac = frac / 2 + (0.5 if self.stage == "gan" else 0.0)
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(frac * 1000))
            where = f"step {it:,} of {self.planned:,}"
        else:
            where = f"step {it:,}"
        stage = ""
        if two_stage:
            stage = " — stage 1 of 2 (faithful)" if self.stage != "gan" else " — stage 2 of 2 (SRGAN)"
        self.status.setText(f"Training: {where}{stage}")
        rate = e.get("it_per_s") or 0
        eta = e.get("eta_s")
        parts = [f"{rate:.3g} steps/s"]
        if isinstance(eta, (int, float)):
            parts.append(f"about {format_duration(eta)} left" + (" in this stage" if two_stage else ""))
        self.details.setText(" · ".join(parts))

    def _on_output(self, line: str) -> None:
        if line.startswith("["):  # progress lines duplicate the events
            return
        self._append_log(line)

    def _on_download(self, percent: int) -> None:
        self.status.setText(f"Downloading the VGG19 weights: {percent} %")
        self.progress.setRange(0, 100)
        self.progress.setValue(percent)

    def _append_log(self, line: str) -> None:
        self.log.appendPlainText(line)

    def _show_error(self, text: str) -> None:
        self.error_text = text
        self.error.setText(f"Training stopped with an error:\n{text}")
        self.error.show()

    def _on_finished(self, code: int, text: str) -> None:
        self.progress.setRange(0, 1000)
        if code == 0:
            self.state = DONE
            self.progress.setValue(1000)
            self.status.setText("Training finished")
            self.details.setText(f"The model was saved as {self.export_path}")
        elif code == EXIT_INTERRUPTED:
            self.state = PAUSED
            self.status.setText(f"Paused at step {self.iteration:,}")
            self.details.setText(
                "A checkpoint was saved: press Resume to continue, or close the window and resume later"
            )
            if self._finish_now:
                self._finish_now = False
                self.resume(iters=max(1, self.iteration))
                return
        else:
            self.state = FAILED
            self._finish_now = False
            self.status.setText("Training stopped with an error")
            self.details.setText("Fix the cause, then press Resume (it continues from the last checkpoint).")
            self._show_error(text or self.error_text or f"the trainer exited with code {code}")
        self._update_buttons()
        self.completeChanged.emit()

    # --- live sample ---------------------------------------------------------------------------------
    def _request_sample(self, checkpoint: str) -> None:
        if self._sample_busy:
            self._sample_pending = checkpoint
            return
        self._sample_busy = True
        worker = run_job(self, jobs.render_sample, checkpoint, on_done=self._show_sample, name="sample")
        worker.finished.connect(self._sample_done)

    def _sample_done(self) -> None:
        self._sample_busy = False
        if self._sample_pending:
            pending, self._sample_pending = self._sample_pending, ""
            self._request_sample(pending)

    def _show_sample(self, s: jobs.Sample) -> None:
        h, w = s.lr.shape[:2]
        scale = s.sr.shape[0] // max(1, h)
        if not self.sample.has_image or self._sample_size != (w, h):
            self.sample.set_image(to_qimage(s.lr), w, h, scale)
            self._sample_size = (w, h)
        self.sample.set_after(to_qimage(s.sr), (0, 0, w, h))  # region in input pixels
        self.sample_iteration = s.iteration
        self.sample_caption.setText(
            f"{s.name} at step {s.iteration:,}. Left of the line: the small image; right: the model's result."
        )

    # --- wizard ----------------------------------------------------------------------------------------
    def isComplete(self) -> bool:
        return self.state == DONE

    def busy(self) -> bool:
        return self.state in (RUNNING, STOPPING)
