"""Page 3: device, batch and patch presets, a time or iteration budget, the model's name, and an
estimate of the duration from a short real training run on this machine (in a subprocess)."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from . import jobs
from .common import ERROR_STYLE, help_label, run_job, wrap_label
from .plan import (
    GAN_SLOWDOWN,
    NAME_RE,
    PRESETS,
    TrainingPlan,
    calibration_args,
    estimate_seconds,
    format_duration,
    rate_from_events,
)
from .trainer_process import TrainerProcess


class BudgetPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setTitle("3. Time and hardware")
        self.setSubTitle("How long to train, on which device, and what to call the model.")
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Start training")
        self.devices: list[tuple[str, str]] = [("auto", "Auto"), ("cpu", "CPU")]
        self.rate: float | None = None
        self.startup_s = 0.0
        self._measured_for: tuple | None = None
        self._calib_dir: Path | None = None
        self._calib_events: list[dict] = []
        self._calib_started = 0.0
        self._first_train_at: float | None = None
        self.calibration = TrainerProcess(self)
        self.calibration.event.connect(self._calib_event)
        self.calibration.finished.connect(self._calib_finished)

        # hardware
        hw = QGroupBox("Hardware")
        f = QFormLayout(hw)
        self.device_combo = QComboBox()
        self.device_combo.setObjectName("deviceCombo")
        self.device_combo.currentIndexChanged.connect(self._device_changed)
        f.addRow("Device", self.device_combo)
        self.preset_combo = QComboBox()
        self.preset_combo.setObjectName("presetCombo")
        for key, p in PRESETS.items():
            self.preset_combo.addItem(p["title"], key)
        self.preset_combo.addItem("Custom", "custom")
        self.preset_combo.currentIndexChanged.connect(self._preset_changed)
        f.addRow("Batch", self.preset_combo)
        self.batch = QSpinBox()
        self.batch.setObjectName("batchSpin")
        self.batch.setRange(1, 256)
        self.patch = QSpinBox()
        self.patch.setObjectName("patchSpin")
        self.patch.setRange(8, 256)
        row = QHBoxLayout()
        row.addWidget(QLabel("patches per step"))
        row.addWidget(self.batch)
        row.addSpacing(12)
        row.addWidget(QLabel("patch side (small image, px)"))
        row.addWidget(self.patch)
        row.addStretch(1)
        f.addRow("", row)
        f.addRow(
            help_label(
                "Each training step looks at a few small pieces (patches) of your images. More and larger "
                "patches learn better per step but need more memory and time: the small preset keeps a CPU "
                "responsive; a GPU handles the paper's setting."
            ),
        )
        self.batch.valueChanged.connect(self._custom)
        self.patch.valueChanged.connect(self._custom)

        # budget
        bud = QGroupBox("Training length")
        g = QVBoxLayout(bud)
        self.budget_group = QButtonGroup(self)
        self.by_time = QRadioButton("Train for")
        self.by_time.setObjectName("byTime")
        self.by_iters = QRadioButton("Train for")
        self.by_iters.setObjectName("byIters")
        self.budget_group.addButton(self.by_time)
        self.budget_group.addButton(self.by_iters)
        self.minutes = QDoubleSpinBox()
        self.minutes.setObjectName("minutesSpin")
        self.minutes.setRange(1, 60 * 24 * 14)
        self.minutes.setDecimals(0)
        self.minutes.setValue(60)
        self.minutes.setSuffix(" minutes")
        self.iters = QSpinBox()
        self.iters.setObjectName("itersSpin")
        self.iters.setRange(1, 5_000_000)
        self.iters.setSingleStep(1000)
        self.iters.setValue(10000)
        self.iters.setSuffix(" steps")
        r1 = QHBoxLayout()
        r1.addWidget(self.by_time)
        r1.addWidget(self.minutes)
        r1.addStretch(1)
        r2 = QHBoxLayout()
        r2.addWidget(self.by_iters)
        r2.addWidget(self.iters)
        r2.addStretch(1)
        g.addLayout(r1)
        g.addLayout(r2)
        g.addWidget(
            help_label(
                "A step (iteration) is one update of the network. The EDSR paper used 300,000 steps on a GPU; "
                "a few thousand already beat plain enlargement, fine-tuning needs far fewer. You can pause "
                "and continue later."
            )
        )
        self.by_time.setChecked(True)
        for w in (self.minutes, self.iters):
            w.valueChanged.connect(self._update)
        self.budget_group.buttonToggled.connect(self._update)

        # estimate
        est = QGroupBox("Estimated duration")
        ge = QVBoxLayout(est)
        self.estimate = wrap_label("")
        self.estimate.setObjectName("estimateLabel")
        self.estimate.setTextFormat(Qt.TextFormat.RichText)
        self.measure_button = QPushButton("Measure the speed")
        self.measure_button.setObjectName("measureButton")
        self.measure_button.setToolTip("Runs a few seconds of real training with these settings")
        self.measure_button.clicked.connect(self.measure)
        ge.addWidget(self.estimate)
        ge.addWidget(self.measure_button, 0, Qt.AlignmentFlag.AlignLeft)

        # name
        nm = QGroupBox("Model name")
        fn = QFormLayout(nm)
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("modelName")
        self.name_edit.textChanged.connect(self._update)
        fn.addRow("Name", self.name_edit)
        fn.addRow(help_label("The name it gets in the app's model list (letters, digits, - _ . +)."))
        self.problem = QLabel()
        self.problem.setStyleSheet(ERROR_STYLE)
        self.problem.setWordWrap(True)

        left = QVBoxLayout()
        left.addWidget(hw)
        left.addWidget(nm)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(bud)
        right.addWidget(est)
        right.addStretch(1)
        cols = QHBoxLayout()
        cols.addLayout(left, 1)
        cols.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(cols, 1)
        layout.addWidget(self.problem)
        self._fill_devices()
        self._preset_changed()

    # --- devices and presets -----------------------------------------------------------------
    def _fill_devices(self) -> None:
        keep = self.device_combo.currentData() or "auto"
        self.device_combo.blockSignals(True)
        self.device_combo.clear()
        for spec, name in self.devices:
            label = {"auto": "Automatic (a GPU if there is one, else the CPU)"}.get(spec, f"{name} ({spec})")
            self.device_combo.addItem(label, spec)
        self.device_combo.setCurrentIndex(max(0, self.device_combo.findData(keep)))
        self.device_combo.blockSignals(False)
        self._device_changed()

    def _devices_listed(self, devices) -> None:
        self.devices = list(devices)
        self._fill_devices()

    def has_gpu(self) -> bool:
        return any(spec.startswith("cuda") for spec, _ in self.devices)

    def _device_changed(self, *_a) -> None:
        spec = self.device_combo.currentData() or "auto"
        gpu = spec.startswith("cuda") or (spec == "auto" and self.has_gpu())
        if self.preset_combo.currentData() != "custom":
            self.preset_combo.setCurrentIndex(self.preset_combo.findData("paper" if gpu else "small"))
        self._update()

    def _preset_changed(self, *_a) -> None:
        key = self.preset_combo.currentData()
        if key in PRESETS:
            for w, v in ((self.batch, PRESETS[key]["batch"]), (self.patch, PRESETS[key]["patch"])):
                w.blockSignals(True)
                w.setValue(v)
                w.blockSignals(False)
        self._update()

    def _custom(self, *_a) -> None:
        key = self.preset_combo.currentData()
        if key in PRESETS and (self.batch.value(), self.patch.value()) != (
            PRESETS[key]["batch"],
            PRESETS[key]["patch"],
        ):
            self.preset_combo.blockSignals(True)
            self.preset_combo.setCurrentIndex(self.preset_combo.findData("custom"))
            self.preset_combo.blockSignals(False)
        self._update()

    # --- page ------------------------------------------------------------------------------------
    def initializePage(self) -> None:
        wiz = self.wizard()
        run_job(self, jobs.list_devices, on_done=self._devices_listed, name="devices")
        if not self.name_edit.text():
            plan = wiz.plan
            base = Path(plan.dataset).name or "mydata"
            base = "".join(c if c.isalnum() or c in "-_." else "-" for c in base).strip("-.") or "mydata"
            name = f"{plan.arch}-x{plan.scale}-{base}"
            taken = {m.name for m in wiz.installed_models}
            n, candidate = 1, name
            while candidate in taken or TrainingPlan(model_name=candidate).export_path().exists():
                n += 1
                candidate = f"{name}-{n}"
            self.name_edit.setText(candidate)
        self._limit_patch()
        self._update()
        self.measure()

    def _limit_patch(self) -> None:
        """The HR patch (patch x scale) must fit in the smallest image."""
        wiz = self.wizard()
        report = wiz.dataset_report
        if report and report.min_side:
            self.patch.setMaximum(max(8, report.min_side // wiz.plan.scale))

    def cleanupPage(self) -> None:
        self.stop_measuring()

    def apply_to(self, plan) -> None:
        plan.device = self.device_combo.currentData() or "auto"
        plan.batch, plan.patch = self.batch.value(), self.patch.value()
        plan.budget_kind = "minutes" if self.by_time.isChecked() else "iters"
        plan.minutes = float(self.minutes.value())
        plan.iters = int(self.iters.value())
        plan.model_name = self.name_edit.text().strip()

    def problems(self) -> list[str]:
        wiz = self.wizard()
        if wiz is None:
            return []
        name = self.name_edit.text().strip()
        out = []
        if not NAME_RE.match(name):
            out.append("Give the model a name: letters, digits, '-', '_', '.', '+', no spaces.")
        elif (
            name in {m.name for m in wiz.installed_models}
            or TrainingPlan(model_name=name).export_path().exists()
        ):
            out.append(f"A model named {name!r} already exists: choose another name.")
        return out

    def _update(self, *_a) -> None:
        self.problem.setText(" ".join(self.problems()))
        self._show_estimate()
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return not self.problems()

    def validatePage(self) -> bool:
        self.stop_measuring()
        wiz = self.wizard()
        self.apply_to(wiz.plan)
        wiz.rate = self.rate
        return True

    # --- speed measurement ------------------------------------------------------------------------
    def _settings_key(self) -> tuple:
        return (self.device_combo.currentData(), self.batch.value(), self.patch.value())

    def measure(self) -> None:
        wiz = self.wizard()
        if wiz is None or not wiz.plan.dataset:
            return
        self.stop_measuring()
        plan = dataclasses.replace(wiz.plan)
        self.apply_to(plan)
        self._calib_dir = Path(tempfile.mkdtemp(prefix="sr-calibrate-"))
        self._calib_events = []
        self._first_train_at = None
        self._calib_started = time.monotonic()
        self._measured_for = self._settings_key()
        self.rate = None
        self.measure_button.setEnabled(False)
        self.estimate.setText("Measuring the speed on this computer: a few seconds of real training…")
        self.calibration.start(
            calibration_args(plan, self._calib_dir / "run", self._calib_dir / "m.safetensors"),
            self._calib_dir / "run",
        )

    @property
    def measuring(self) -> bool:
        return self.calibration.running

    def stop_measuring(self) -> None:
        if self.calibration.running:
            self.calibration.kill()
            self.calibration.wait(5000)
        self._remove_calib_dir()

    def _remove_calib_dir(self) -> None:
        if self._calib_dir is not None:
            shutil.rmtree(self._calib_dir, ignore_errors=True)
            self._calib_dir = None

    def _calib_event(self, event: dict) -> None:
        self._calib_events.append(event)
        if event.get("type") == "train" and self._first_train_at is None:
            self._first_train_at = time.monotonic()
            self.startup_s = self._first_train_at - self._calib_started
        rate = rate_from_events(self._calib_events)
        if rate:
            self.rate = rate
            self._show_estimate()

    def _calib_finished(self, code: int, text: str) -> None:
        self.measure_button.setEnabled(True)
        self.measure_button.setText("Measure again")
        self._remove_calib_dir()
        if code != 0 and not self.rate:
            first = (text or "unknown error").splitlines()[0]
            self.estimate.setText(
                f"<span style='{ERROR_STYLE}'>The speed could not be measured: {first}</span>"
            )
            return
        self._show_estimate()

    def _show_estimate(self) -> None:
        wiz = self.wizard()
        if wiz is None or self.rate is None:
            return
        plan = dataclasses.replace(wiz.plan)
        self.apply_to(plan)
        lines = [f"This computer does about <b>{self.rate:.3g} steps per second</b> with these settings."]
        seconds = estimate_seconds(plan, self.rate, self.startup_s)
        if plan.budget_kind == "iters":
            lines.append(f"{plan.iters:,} steps will take about <b>{format_duration(seconds)}</b>.")
        else:
            steps = int(plan.stage_minutes() * 60 * self.rate / (GAN_SLOWDOWN if plan.stage == "gan" else 1))
            lines.append(
                f"In {format_duration(plan.minutes * 60)} that is about <b>{steps:,} steps</b>"
                + (" per stage." if plan.stage == "both" else ".")
            )
        if plan.stage in ("both", "gan"):
            lines.append(f"SRGAN steps are slower (about {GAN_SLOWDOWN:g}× by rule of thumb, not measured).")
        if self._measured_for != self._settings_key():
            lines.append("<i>Settings changed since the measurement: press Measure again.</i>")
        self.estimate.setText(" ".join(lines))
