"""Page 1: the training images. Scanning and decoding run in a worker; Next stays disabled
until the folder is usable, and every problem is listed with its file name."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from . import jobs
from .common import ERROR_STYLE, OK_STYLE, hline, run_job, to_qimage, wrap_label
from .plan import list_runs

INTRO = (
    "Choose a folder of example images of the kind you want to upscale. Two layouts work:<br>"
    "• <b>Any folder of photos</b>: they are used as the high-resolution originals (HR), and the "
    "small low-resolution versions (LR) the model learns from are made automatically;<br>"
    "• a folder with <b>HR/</b> (originals) and <b>LR/</b> (the same pictures made smaller by your "
    "own process, e.g. a camera or scanner), matched by file name."
)


class DatasetPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setTitle("1. Training images")
        self.setSubTitle("The model learns from pairs of small and large versions of these images.")
        self.report: jobs.DatasetReport | None = None
        self._worker = None
        self._token = 0
        self.resume_choice = None  # RunInfo picked for "continue an earlier run"

        intro = wrap_label(INTRO)
        intro.setTextFormat(Qt.TextFormat.RichText)
        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("datasetPath")
        self.path_edit.setPlaceholderText("Folder with your images")
        self.path_edit.returnPressed.connect(self.check)
        browse = QPushButton("Choose folder…")
        browse.clicked.connect(self.browse)
        self.check_button = QPushButton("Check again")
        self.check_button.clicked.connect(self.check)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        row.addWidget(self.check_button)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress.hide()
        self.status = wrap_label()
        self.status.setObjectName("datasetStatus")
        self.status.setTextFormat(Qt.TextFormat.RichText)

        self.samples = QHBoxLayout()
        self.samples.setSpacing(12)
        samples_box = QWidget()
        samples_box.setLayout(self.samples)

        self.problems = QListWidget()
        self.problems.setObjectName("datasetProblems")
        self.problems.setWordWrap(True)
        self.problems.hide()
        self.hr_only_button = QPushButton("Use only the HR/ images (make the small versions automatically)")
        self.hr_only_button.clicked.connect(self.use_hr_only)
        self.hr_only_button.hide()

        self.runs_combo = QComboBox()
        self.runs_combo.setObjectName("runsCombo")
        self.runs_combo.currentIndexChanged.connect(self._resume_changed)
        resume_row = QHBoxLayout()
        resume_row.addWidget(QLabel("Or continue a paused run:"))
        resume_row.addWidget(self.runs_combo, 1)
        self.resume_box = QWidget()
        self.resume_box.setLayout(resume_row)
        resume_row.setContentsMargins(0, 0, 0, 0)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addSpacing(6)
        layout.addLayout(row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(samples_box)
        layout.addWidget(self.problems, 1)
        layout.addWidget(self.hr_only_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addStretch(0)
        layout.addWidget(hline())
        layout.addWidget(self.resume_box)

    # --- folder ------------------------------------------------------------------------------
    def browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of training images", self.path_edit.text())
        if folder:
            self.set_folder(folder)

    def set_folder(self, folder: str) -> None:
        self.path_edit.setText(folder)
        self.check()

    def check(self) -> None:
        folder = self.path_edit.text().strip()
        self.report = None
        self._clear_samples()
        self.problems.clear()
        self.problems.hide()
        self.hr_only_button.hide()
        if self._worker is not None:
            self._worker.cancel()
        self._token += 1
        if not folder:
            self.status.setText("")
            self.completeChanged.emit()
            return
        token = self._token
        self.status.setText(f"Checking {Path(folder).name}…")
        self.progress.setValue(0)
        self.progress.show()
        self._worker = run_job(
            self,
            jobs.scan_dataset_folder,
            folder,
            on_done=lambda r: self._scanned(token, r),
            on_error=lambda text: self._failed(token, text),
            on_progress=lambda e: self._progress(token, e),
            name="dataset-scan",
        )
        self._worker.finished.connect(lambda: self._finished(token))
        self.completeChanged.emit()

    def _progress(self, token: int, event) -> None:
        if token == self._token:
            self.progress.setValue(int(event.fraction * 1000))
            if event.message:
                self.status.setText(event.message)

    def _finished(self, token: int) -> None:
        if token == self._token:
            self.progress.hide()
            self._worker = None

    def _failed(self, token: int, text: str) -> None:
        if token == self._token:
            self.status.setText(f"<span style='{ERROR_STYLE}'>Cannot check this folder: {text}</span>")

    def _scanned(self, token: int, report: jobs.DatasetReport) -> None:
        if token != self._token:
            return
        self.report = report
        kinds = {
            "paired": "pairs of originals (HR/) and small versions (LR/)",
            "hr": "originals only (HR/); the small versions will be made automatically",
            "plain": "a folder of photos, used as originals; the small versions will be made automatically",
        }
        lines = []
        if report.kind:
            lines.append(f"Found <b>{report.count} images</b>: {kinds[report.kind]}.")
            if report.kind == "paired":
                lines.append(f"Scale of the pairs: ×{', ×'.join(map(str, report.scales))}.")
            if report.sizes:
                lines.append(f"Sizes: {report.size_summary()}.")
            n_val = max(1, round(report.count * 0.1))
            lines.append(
                "The images listed in val.txt are kept aside to measure progress (validation)."
                if report.has_val_txt
                else f"{n_val} of the {report.count} images {'is' if n_val == 1 else 'are'} kept aside, "
                "never trained on, to measure progress (validation)."
            )
        if report.ok:
            lines.append(f"<span style='{OK_STYLE}'>✔ Ready to train.</span>")
        else:
            n = len(report.problems)
            lines.append(
                f"<span style='{ERROR_STYLE}'>✘ {n} problem{'s' if n != 1 else ''} to fix before training "
                "(below); then press Check again.</span>"
            )
            self.problems.addItems(report.problems)
            self.problems.show()
            self.hr_only_button.setVisible(bool(report.hr_only_alternative))
        self.status.setText("<br>".join(lines))
        self._show_samples(report)
        self.completeChanged.emit()

    def use_hr_only(self) -> None:
        if self.report and self.report.hr_only_alternative:
            self.set_folder(self.report.hr_only_alternative)

    # --- thumbnails ----------------------------------------------------------------------------
    def _clear_samples(self) -> None:
        while self.samples.count():
            item = self.samples.takeAt(0)
            if item.widget():
                item.widget().deleteLater()

    def _show_samples(self, report: jobs.DatasetReport) -> None:
        self._clear_samples()
        for name, hr, lr in report.samples:
            box = QFrame()
            box.setFrameShape(QFrame.Shape.StyledPanel)
            v = QVBoxLayout(box)
            v.setContentsMargins(6, 6, 6, 6)
            pics = QHBoxLayout()
            for img, tag in ((lr, "LR"), (hr, "HR")):
                if img is None:
                    continue
                label = QLabel()
                label.setPixmap(QPixmap.fromImage(to_qimage(img)))
                label.setToolTip(f"{tag}: {name}")
                pics.addWidget(label, 0, Qt.AlignmentFlag.AlignBottom)
            v.addLayout(pics)
            caption = QLabel(name if lr is None else f"{name} (LR → HR)")
            caption.setStyleSheet("font-size: 11px;")
            v.addWidget(caption, 0, Qt.AlignmentFlag.AlignHCenter)
            self.samples.addWidget(box)
        self.samples.addStretch(1)

    # --- earlier runs ---------------------------------------------------------------------------
    def initializePage(self) -> None:
        self.refresh_runs()

    def refresh_runs(self) -> None:
        run_job(
            self, lambda ctx: [r for r in list_runs() if r.resumable], on_done=self._runs_listed, name="runs"
        )

    def _runs_listed(self, runs) -> None:
        self.runs_combo.blockSignals(True)
        self.runs_combo.clear()
        self.runs_combo.addItem("— no, start a new training —", None)
        for r in runs:
            self.runs_combo.addItem(r.title, r)
        self.runs_combo.blockSignals(False)
        self.resume_box.setVisible(bool(runs))
        self._resume_changed()

    def _resume_changed(self, *_args) -> None:
        self.resume_choice = self.runs_combo.currentData()
        self.setCommitPage(self.resume_choice is not None)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Resume training")
        self.completeChanged.emit()

    def select_run(self, run_dir: str) -> bool:
        for i in range(self.runs_combo.count()):
            r = self.runs_combo.itemData(i)
            if r is not None and str(r.path) == str(run_dir):
                self.runs_combo.setCurrentIndex(i)
                return True
        return False

    def isComplete(self) -> bool:
        if self.resume_choice is not None:
            return True
        r = self.report
        return bool(r and r.ok and r.folder == self.path_edit.text().strip())

    def validatePage(self) -> bool:
        wiz = self.wizard()
        if self.resume_choice is not None:
            wiz.prepare_resume(self.resume_choice)
        else:
            wiz.plan.dataset = self.report.folder
        return True

    def nextId(self) -> int:
        from .wizard import MODEL_PAGE, RUN_PAGE

        return RUN_PAGE if self.resume_choice is not None else MODEL_PAGE
