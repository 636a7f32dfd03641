"""Page 5: the new model, already in the user's model store: its card, a PSNR/SSIM table against
plain enlargement and the bundled model of the same scale on the validation images, and a
before/after view. The main window is told the model's name so it can select it."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from ..compare_view import ComparePanel
from . import jobs
from .common import ERROR_STYLE, help_label, run_job, to_qimage, wrap_label

CARD_FIELDS = [
    ("arch", "Network"),
    ("scale", "Scale"),
    ("iterations", "Training steps"),
    ("val_psnr", "Validation PSNR (dB)"),
    ("bicubic_psnr", "Plain enlargement PSNR (dB)"),
    ("training_data", "Trained on"),
    ("perceptual_features", "SRGAN texture judge"),
    ("trained", "Date"),
]


class FinishPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setTitle("5. Your model is ready")
        self.setSubTitle("It is installed in the app's model list and selected in the main window.")
        self.model_name = ""
        self.comparison: jobs.Comparison | None = None
        self._announced = ""

        self.card = wrap_label()
        self.card.setObjectName("modelCard")
        self.card.setTextFormat(Qt.TextFormat.RichText)
        self.card.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.card.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.table = QTableWidget()
        self.table.setObjectName("comparisonTable")
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.setMinimumHeight(140)
        self.table_status = wrap_label("Comparing on the validation images…")
        self.table_status.setTextFormat(Qt.TextFormat.RichText)
        self.table_status.setObjectName("comparisonStatus")
        self.table_progress = QProgressBar()
        self.table_progress.setRange(0, 1000)
        self.table_progress.setMaximumHeight(8)
        self.table_progress.setTextVisible(False)
        self.compare = ComparePanel()
        self.compare.preview_button.hide()
        self.compare.view.set_message("The before/after view appears\nonce the comparison is done")

        left = QVBoxLayout()
        left.addWidget(self.card)
        left.addWidget(QLabel("<b>Scores on your validation images</b>"))
        left.addWidget(self.table_status)
        left.addWidget(self.table_progress)
        left.addWidget(self.table)
        left.addWidget(
            help_label(
                "PSNR (dB) and SSIM measure how close the result is to the original; higher is better and "
                "+0.3 dB is a visible gain. SRGAN models score lower by design: they trade faithfulness for texture."
            )
        )
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(
            QLabel("<b>Before / after</b> (left of the line: the small image; right: your model's result)")
        )
        right.addWidget(self.compare, 1)
        layout = QHBoxLayout(self)
        layout.addLayout(left, 1)
        layout.addLayout(right, 1)

    def initializePage(self) -> None:
        wiz = self.wizard()
        run_page = wiz.run_page
        path = Path(run_page.export_path or wiz.plan.export_path())
        self.model_name = path.stem
        self._show_card(path)
        # the trainer wrote the file into the user model folder: it is registered already
        if self._announced != self.model_name:
            self._announced = self.model_name
            wiz.announce_model(self.model_name)
        self.table_status.setText("Comparing on the validation images…")
        self.table_progress.show()
        run_job(
            self,
            jobs.compare_models,
            str(run_page.run_dir),
            str(path),
            on_done=self._compared,
            on_error=self._compare_failed,
            on_progress=lambda e: self.table_progress.setValue(int(e.fraction * 1000)),
            name="compare",
        )

    def _show_card(self, path: Path) -> None:
        try:
            from safetensors import safe_open

            with safe_open(str(path), "np") as f:
                card = dict(f.metadata() or {})
        except Exception as exc:  # noqa: BLE001
            self.card.setText(f"<span style='{ERROR_STYLE}'>Cannot read {path}: {exc}</span>")
            return
        rows = (
            "".join(
                f"<tr><td style='padding-right:12px; color: palette(placeholder-text)'>{title}</td><td>{card[key]}</td></tr>"
                for key, title in CARD_FIELDS
                if card.get(key)
            )
            .replace("<td>edsr</td>", "<td>EDSR</td>")
            .replace("<td>srresnet</td>", "<td>SRResNet</td>")
        )
        self.card.setText(
            f"<p style='font-size: large'><b>{path.stem}</b></p>"
            f"<table>{rows}</table><p style='color: palette(placeholder-text)'>File: {path}</p>"
        )

    def _compared(self, result: jobs.Comparison) -> None:
        self.comparison = result
        self.table_progress.hide()
        self.table_status.setText(
            f"{len(result.names)} validation image(s), Y channel, {self.wizard().plan.scale} px border ignored "
            "(the usual research protocol)."
        )
        headers = ["Image"] + [title for title, _p, _s in result.columns]
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setRowCount(len(result.names) + 1)
        best = {}
        for r, name in enumerate(result.names + ["Average"]):
            item = QTableWidgetItem(name)
            if r == len(result.names):
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.table.setItem(r, 0, item)
            for c, (_title, psnrs, ssims) in enumerate(result.columns, start=1):
                if r < len(result.names):
                    p, s = psnrs[r], ssims[r]
                else:
                    p = sum(psnrs) / len(psnrs) if psnrs else math.nan
                    s = sum(ssims) / len(ssims) if ssims else math.nan
                cell = QTableWidgetItem(f"{p:.2f} dB / {s:.3f}")
                cell.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                cell.setData(Qt.ItemDataRole.UserRole, p)
                if r == len(result.names):
                    font = cell.font()
                    font.setBold(True)
                    cell.setFont(font)
                self.table.setItem(r, c, cell)
                best[r] = max(best.get(r, -math.inf), p)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.table.resizeRowsToContents()
        rows = sum(self.table.rowHeight(r) for r in range(self.table.rowCount()))
        self.table.setMinimumHeight(0)
        self.table.setMaximumHeight(header.sizeHint().height() + rows + 2 * self.table.frameWidth() + 2)
        notes = []
        if len(result.columns) <= 2:
            notes.append(f"No bundled ×{self.wizard().plan.scale} model is installed to compare with.")
        means = {t: (sum(p) / len(p) if p else math.nan) for t, p, _s in result.columns}
        mine, bicubic = means.get("Your model", math.nan), means.get("Bicubic", math.nan)
        if mine < bicubic:
            notes.append(
                "Your model is still below plain (bicubic) enlargement: train for longer, or start from an "
                "installed model (fine-tuning)."
            )
        elif mine >= bicubic:
            notes.append(f"Your model is {mine - bicubic:+.2f} dB better than plain (bicubic) enlargement.")
        self.table_status.setText(self.table_status.text() + " " + " ".join(notes))
        if result.preview_lr is not None and result.preview_sr is not None:
            h, w = result.preview_lr.shape[:2]
            scale = result.preview_sr.shape[0] // max(1, h)
            self.compare.view.set_image(to_qimage(result.preview_lr), w, h, scale)
            self.compare.view.set_after(to_qimage(result.preview_sr), (0, 0, w, h))  # input pixels
            self.compare.status.setText(result.preview_name)

    def _compare_failed(self, text: str) -> None:
        self.table_progress.hide()
        self.table_status.setText(f"<span style='{ERROR_STYLE}'>The comparison failed: {text}</span>")
