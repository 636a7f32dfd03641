"""The settings on the right: model (with its card), output, and compute engine."""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from . import settings as state
from .jobs import FORMATS, ON_EXISTS, ModelInfo

NO_MODELS_TEXT = "No models installed yet — import one (Models → Import) or train one."
FORMAT_TITLES = {"same": "Same as input", "png": "PNG", "jpg": "JPEG", "webp": "WebP", "tiff": "TIFF"}
ON_EXISTS_TITLES = {"skip": "Skip (keep existing)", "overwrite": "Overwrite", "rename": "Rename new file"}
PRECISION_TITLES = {"auto": "Auto", "fp32": "FP32 (full)", "fp16": "FP16 (GPU)", "bf16": "BF16"}
TILE_CHOICES = ("auto", "none", "128", "256", "512", "1024")
DEFAULT_OUTDIR_NAME = "upscaled"


CREDITS_HINT = "Training photos' credits: hover here, or Manage…"


def card_html(info: ModelInfo, full_credits: bool = True) -> str:
    """A model card as a small table: what a user needs to pick a model.

    ``full_credits=False`` replaces the training photos' credits by one line pointing to them.
    """
    if info.error:
        return f"<b>{html.escape(info.name)}</b><br><span style='color:#b3261e'>Cannot be used: {html.escape(info.error)}</span>"
    card = info.card
    # each PSNR beside the bicubic figure measured on the same images
    if card.get("psnr_set5"):
        psnr = f"{card['psnr_set5']} dB on Set5"
        if card.get("bicubic_psnr_set5"):
            psnr += f" (bicubic {card['bicubic_psnr_set5']} dB)"
    elif card.get("val_psnr") or card.get("psnr"):
        psnr = f"{card.get('val_psnr') or card.get('psnr')} dB on its validation images"
        if card.get("bicubic_psnr"):
            psnr += f" (bicubic {card['bicubic_psnr']} dB)"
    else:
        psnr = ""
    rows = [
        ("Architecture", info.title),
        ("Scale", f"×{info.scale}"),
        (
            "Parameters",
            f"{info.parameters / 1e6:.2f} M" if info.parameters >= 1e5 else f"{info.parameters:,}",
        ),
        ("Training data", card.get("training_data") or card.get("dataset") or "not recorded"),
        ("Measured PSNR", psnr or "not measured"),
        ("Source", "bundled with the app" if info.bundled else "your models"),
    ]
    body = "".join(
        f"<tr><td style='color:palette(mid); padding-right:8px'>{k}</td><td>{html.escape(str(v))}</td></tr>"
        for k, v in rows
    )
    desc = card.get("description")
    head = f"<i>{html.escape(desc)}</i><br>" if desc else ""
    # the training images' authors, whom their licences (CC BY, CC BY-SA) ask to be named
    credit = card.get("attribution")
    # the side panel has no room for that paragraph: it shows a pointer (hover, or Manage…)
    foot_text = html.escape(credit) if full_credits else CREDITS_HINT
    foot = f"<br><small style='color:palette(mid)'>{foot_text}</small>" if credit else ""
    return f"{head}<table cellspacing=0 cellpadding=1>{body}</table>{foot}"


class SettingsPanel(QWidget):
    changed = Signal()  # anything that changes the planned output
    model_changed = Signal()  # read model() for the new choice
    manage_models = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._models: list[ModelInfo] = []
        self._wanted_model = ""
        self._auto_outdir = ""
        self._auto_tile: int | None = None

        # model
        self.model_combo = QComboBox()
        self.model_combo.setObjectName("modelCombo")
        self.model_combo.setPlaceholderText("Looking for models…")
        self.model_combo.currentIndexChanged.connect(self._model_picked)
        self.manage_button = QPushButton("Manage…")
        self.manage_button.setToolTip("Import or delete models")
        self.manage_button.clicked.connect(lambda: self.manage_models.emit())
        self.card = QLabel()
        self.card.setObjectName("modelCard")
        self.card.setWordWrap(True)
        self.card.setTextFormat(Qt.TextFormat.RichText)
        self.card.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.card.setMinimumHeight(60)
        self.card.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        row = QHBoxLayout()
        row.addWidget(self.model_combo, 1)
        row.addWidget(self.manage_button)
        model_box = QGroupBox("Model")
        v = QVBoxLayout(model_box)
        v.addLayout(row)
        v.addWidget(self.card)

        # output
        self.scale_spin = QDoubleSpinBox()
        self.scale_spin.setObjectName("outscale")
        self.scale_spin.setRange(0.0, 16.0)
        self.scale_spin.setSingleStep(0.5)
        self.scale_spin.setDecimals(2)
        self.scale_spin.setSpecialValueText("Model's scale")
        self.scale_spin.setPrefix("×")
        self.scale_spin.setToolTip(
            "The final size factor; other than the model's scale, the result is resized after upscaling"
        )
        self.scale_spin.valueChanged.connect(self._emit_changed)

        self.outdir_edit = QLineEdit()
        self.outdir_edit.setObjectName("outdir")
        self.outdir_edit.setClearButtonEnabled(True)
        self.outdir_edit.setToolTip(f"Empty: a folder “{DEFAULT_OUTDIR_NAME}” beside the first image")
        self.outdir_edit.textChanged.connect(self._emit_changed)
        browse = QToolButton()
        browse.setText("…")
        browse.setToolTip("Choose the output folder")
        browse.clicked.connect(self._browse_outdir)
        outdir_row = QHBoxLayout()
        outdir_row.setSpacing(4)
        outdir_row.addWidget(self.outdir_edit, 1)
        outdir_row.addWidget(browse)

        self.format_combo = QComboBox()
        for fmt in FORMATS:
            self.format_combo.addItem(FORMAT_TITLES.get(fmt, fmt), fmt)
        self.quality_spin = QSpinBox()
        self.quality_spin.setRange(1, 100)
        self.quality_spin.setValue(95)
        self.quality_spin.setToolTip("JPEG and WebP quality")
        self.format_combo.currentIndexChanged.connect(self._format_changed)
        self.quality_spin.valueChanged.connect(self._emit_changed)
        fmt_row = QHBoxLayout()
        fmt_row.setSpacing(4)
        fmt_row.addWidget(self.format_combo, 1)
        self.quality_label = QLabel("Quality")
        fmt_row.addWidget(self.quality_label)
        fmt_row.addWidget(self.quality_spin)

        self.name_edit = QLineEdit("{stem}")
        self.name_edit.setObjectName("nameTemplate")
        self.name_edit.setToolTip("Output file name without extension: {stem} input name, {scale}, {model}")
        self.name_edit.textChanged.connect(self._emit_changed)

        self.exists_combo = QComboBox()
        for policy in ON_EXISTS:
            self.exists_combo.addItem(ON_EXISTS_TITLES[policy], policy)
        self.exists_combo.currentIndexChanged.connect(self._emit_changed)

        out_box = QGroupBox("Output")
        form = QFormLayout(out_box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Scale", self.scale_spin)
        form.addRow("Folder", outdir_row)
        form.addRow("Format", fmt_row)
        form.addRow("File name", self.name_edit)
        form.addRow("If it exists", self.exists_combo)

        # engine
        self.device_combo = QComboBox()
        self.device_combo.setObjectName("device")
        self.set_devices([("auto", "Auto"), ("cpu", "CPU")])
        self.precision_combo = QComboBox()
        for p, title in PRECISION_TITLES.items():
            self.precision_combo.addItem(title, p)
        self.tile_combo = QComboBox()
        self.tile_combo.setObjectName("tile")
        for t in TILE_CHOICES:
            self.tile_combo.addItem({"auto": "Auto", "none": "Whole image"}.get(t, f"{t} px"), t)
        self.tile_combo.setToolTip(
            "Large images are upscaled in tiles that fit in memory; Auto picks the size"
        )
        for combo in (self.device_combo, self.precision_combo, self.tile_combo):
            combo.currentIndexChanged.connect(self._emit_changed)
        self.tta_check = QCheckBox("Test-time augmentation (8x slower)")
        self.tta_check.setObjectName("tta")
        self.tta_check.setToolTip(
            "Runs each tile through the model in its 8 flips and rotations and averages the results: "
            "slightly more faithful detail, eight times the time"
        )
        self.tta_check.toggled.connect(self._emit_changed)
        engine_box = QGroupBox("Engine")
        eform = QFormLayout(engine_box)
        eform.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        eform.addRow("Device", self.device_combo)
        eform.addRow("Precision", self.precision_combo)
        eform.addRow("Tile size", self.tile_combo)
        eform.addRow(self.tta_check)
        self.engine_label = QLabel()
        self.engine_label.setObjectName("engineInfo")
        self.engine_label.setWordWrap(True)
        eform.addRow(self.engine_label)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(model_box)
        layout.addWidget(out_box)
        layout.addWidget(engine_box)
        layout.addStretch(1)
        self._format_changed()
        self._show_card(None)

    def _emit_changed(self, *_: object) -> None:
        self.changed.emit()

    # --- models --------------------------------------------------------------------------------

    def set_models(self, models: list[ModelInfo]) -> None:
        current = self._wanted_model or self.model_name()
        self._models = list(models)
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for info in self._models:
            label = f"{info.name}  (×{info.scale})" if info.scale else f"{info.name}  (unusable)"
            self.model_combo.addItem(label, info.name)
        self.model_combo.setPlaceholderText("No models installed" if not models else "Choose a model")
        names = [m.name for m in self._models]
        usable = [m.name for m in self._models if not m.error]
        pick = current if current in names else (usable[0] if usable else (names[0] if names else None))
        self.model_combo.setCurrentIndex(names.index(pick) if pick else -1)
        self.model_combo.blockSignals(False)
        self._model_picked()

    def model_name(self) -> str:
        return self.model_combo.currentData() or ""

    def want_model(self, name: str) -> None:
        """Select ``name`` now if listed, else as soon as a model list holding it arrives."""
        self._wanted_model = name
        index = self.model_combo.findData(name)
        if index >= 0:
            self.model_combo.setCurrentIndex(index)

    def model(self) -> ModelInfo | None:
        name = self.model_name()
        return next((m for m in self._models if m.name == name), None)

    def _model_picked(self) -> None:
        info = self.model()
        if info is not None:
            self._wanted_model = info.name
        self._show_card(info)
        self.model_changed.emit()
        self.changed.emit()

    def _show_card(self, info: ModelInfo | None) -> None:
        if info is not None:
            self.card.setText(card_html(info, full_credits=False))
            # rich text, so that Qt wraps long entries (the credits) instead of one screen-wide line
            lines = [f"{k}: {v}" for k, v in info.card.items() if k != "name" and str(v).strip()]
            lines.append(f"file: {info.path}")
            self.card.setToolTip("<p>" + "<br>".join(html.escape(line) for line in lines) + "</p>")
        elif self.model_combo.count() == 0 and self.model_combo.placeholderText() != "Looking for models…":
            self.card.setText(f"<b>{NO_MODELS_TEXT}</b>")
            self.card.setToolTip("")
        else:
            self.card.setText("")

    def model_scale(self) -> int | None:
        info = self.model()
        return info.scale if info and info.scale else None

    def output_factor(self) -> float | None:
        return self.scale_spin.value() or self.model_scale()

    # --- output --------------------------------------------------------------------------------

    def set_auto_outdir(self, first_input: str | None) -> None:
        """The default folder (“upscaled” beside the first input), shown as the placeholder."""
        self._auto_outdir = str(Path(first_input).parent / DEFAULT_OUTDIR_NAME) if first_input else ""
        self.outdir_edit.setPlaceholderText(self._auto_outdir or f"Auto: ./{DEFAULT_OUTDIR_NAME}")
        self.outdir_edit.setToolTip(
            f"Where results go. Empty: “{DEFAULT_OUTDIR_NAME}” beside the first image"
            + (f"\n({self._auto_outdir})" if self._auto_outdir else "")
        )

    def outdir(self) -> str:
        return self.outdir_edit.text().strip() or self._auto_outdir

    def _browse_outdir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.outdir() or str(Path.home()))
        if folder:
            self.outdir_edit.setText(folder)

    def _format_changed(self) -> None:
        lossy = self.format_combo.currentData() in ("jpg", "webp", "same")
        self.quality_spin.setEnabled(lossy)
        self.quality_label.setEnabled(lossy)
        self.changed.emit()

    # --- engine --------------------------------------------------------------------------------

    def set_devices(self, devices: list[tuple[str, str]]) -> None:
        current = self.device_combo.currentData() or "auto"
        self.device_combo.blockSignals(True)
        self.device_combo.clear()
        for spec, name in devices:
            self.device_combo.addItem(name if spec in ("auto", "cpu") else f"{name} ({spec})", spec)
        index = self.device_combo.findData(current)
        self.device_combo.setCurrentIndex(max(0, index))
        self.device_combo.blockSignals(False)

    def set_auto_tile(self, tile: int | None) -> None:
        """Show the tile size Auto actually uses."""
        self._auto_tile = tile
        self.tile_combo.setItemText(0, f"Auto ({tile} px)" if tile else "Auto")

    def set_engine_info(self, text: str, error: bool = False) -> None:
        self.engine_label.setText(text)
        self.engine_label.setStyleSheet("color: #b3261e;" if error else "color: palette(mid);")

    # --- values and persistence ----------------------------------------------------------------

    def values(self) -> dict:
        return {
            "model": self.model_name(),
            "outscale": self.scale_spin.value() or None,
            "outdir": self.outdir(),
            "outdir_custom": self.outdir_edit.text().strip(),
            "format": self.format_combo.currentData(),
            "quality": self.quality_spin.value(),
            "name_template": self.name_edit.text().strip() or "{stem}",
            "on_exists": self.exists_combo.currentData(),
            "device": self.device_combo.currentData() or "auto",
            "precision": self.precision_combo.currentData() or "auto",
            "tile": self.tile_combo.currentData() or "auto",
            "tta": self.tta_check.isChecked(),
        }

    def save(self, settings: QSettings) -> None:
        v = self.values()
        settings.beginGroup("settings")
        for key in (
            "model",
            "format",
            "quality",
            "name_template",
            "on_exists",
            "device",
            "precision",
            "tile",
            "tta",
        ):
            settings.setValue(key, v[key])
        settings.setValue("outscale", v["outscale"] or 0.0)
        settings.setValue("outdir", v["outdir_custom"])
        settings.endGroup()

    def restore(self, settings: QSettings) -> None:
        settings.beginGroup("settings")
        self._wanted_model = state.read(settings, "model", "", str)
        self.scale_spin.setValue(state.read(settings, "outscale", 0.0, float))
        self.outdir_edit.setText(state.read(settings, "outdir", "", str))
        self._select(self.format_combo, state.read(settings, "format", "same", str))
        self.quality_spin.setValue(state.read(settings, "quality", 95, int))
        self.name_edit.setText(state.read(settings, "name_template", "{stem}", str))
        self._select(self.exists_combo, state.read(settings, "on_exists", "skip", str))
        device = state.read(settings, "device", "auto", str)
        if self.device_combo.findData(device) < 0:
            self.device_combo.addItem(device, device)  # a GPU not listed yet; the device list comes later
        self._select(self.device_combo, device)
        self._select(self.precision_combo, state.read(settings, "precision", "auto", str))
        self._select(self.tile_combo, state.read(settings, "tile", "auto", str))
        self.tta_check.setChecked(state.read(settings, "tta", False, bool))
        settings.endGroup()

    @staticmethod
    def _select(combo: QComboBox, data: str) -> None:
        index = combo.findData(data)
        if index >= 0:
            combo.setCurrentIndex(index)
