"""Page 2: which network, which scale, where it starts from, and whether to add the SRGAN stage
(with the VGG weights its perceptual loss needs). Each choice says what it means for the result."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from . import jobs
from .common import help_label, run_job
from .plan import ARCHS, STAGE_HELP, VGG16_FILE, VGG19_DOWNLOAD, VGG19_FILE

STAGE_TITLES = {
    "pretrain": "Faithful (pixel loss)",
    "both": "Faithful, then SRGAN",
    "gan": "SRGAN only, from the chosen model",
}


class ModelPage(QWizardPage):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setTitle("2. Model")
        self.setSubTitle(
            "Choose the network, how much larger it makes images, and the kind of result you want."
        )
        self.models: list[jobs.ModelChoice] = []

        # network
        net = QGroupBox("Network")
        grid = QGridLayout(net)
        self.arch_group = QButtonGroup(self)
        self.arch_buttons: dict[str, QRadioButton] = {}
        for row, (key, spec) in enumerate(ARCHS.items()):
            b = QRadioButton(spec["title"])
            b.setObjectName(f"arch-{key}")
            self.arch_group.addButton(b)
            self.arch_buttons[key] = b
            grid.addWidget(b, row * 2, 0, 1, 4)
            h = help_label(spec["help"])
            h.setContentsMargins(22, 0, 0, 4)
            grid.addWidget(h, row * 2 + 1, 0, 1, 4)
        self.arch_buttons["edsr"].setChecked(True)
        self.arch_group.buttonToggled.connect(self._arch_changed)
        n = len(ARCHS) * 2
        self.blocks = QSpinBox()
        self.blocks.setObjectName("nResblocks")
        self.blocks.setRange(1, 64)
        self.feats = QSpinBox()
        self.feats.setObjectName("nFeats")
        self.feats.setRange(4, 512)
        size_row = QHBoxLayout()
        size_row.addWidget(QLabel("Size (advanced): residual blocks"))
        size_row.addWidget(self.blocks)
        size_row.addWidget(QLabel("channels"))
        size_row.addWidget(self.feats)
        size_row.addStretch(1)
        grid.addLayout(size_row, n, 0, 1, 4)
        grid.addWidget(
            help_label("More blocks and channels: better results, slower training and upscaling."),
            n + 1,
            0,
            1,
            4,
        )

        # scale and starting point
        start = QGroupBox("Scale and starting point")
        g2 = QGridLayout(start)
        self.scale_combo = QComboBox()
        self.scale_combo.setObjectName("scaleCombo")
        for s in (2, 3, 4):
            self.scale_combo.addItem(f"×{s}", s)
        self.scale_combo.currentIndexChanged.connect(self._scale_changed)
        g2.addWidget(QLabel("Scale"), 0, 0)
        g2.addWidget(self.scale_combo, 0, 1)
        self.scale_help = help_label(
            "×2 doubles the width and height of an image; ×4 makes it four times larger."
        )
        g2.addWidget(self.scale_help, 0, 2)
        self.init_combo = QComboBox()
        self.init_combo.setObjectName("initCombo")
        self.init_combo.currentIndexChanged.connect(self._init_changed)
        g2.addWidget(QLabel("Start from"), 1, 0)
        g2.addWidget(self.init_combo, 1, 1, 1, 2)
        g2.addWidget(
            help_label(
                "Starting from an installed model of the same scale (fine-tuning) adapts a model that already "
                "works to your images: much faster, and better when you have few images. The network then "
                "follows that model. From scratch, the model starts knowing nothing."
            ),
            2,
            0,
            1,
            3,
        )
        g2.setColumnStretch(2, 1)

        # goal
        goal = QGroupBox("Result")
        v = QVBoxLayout(goal)
        self.stage_group = QButtonGroup(self)
        self.stage_buttons: dict[str, QRadioButton] = {}
        for key, title in STAGE_TITLES.items():
            b = QRadioButton(title)
            b.setObjectName(f"stage-{key}")
            self.stage_group.addButton(b)
            self.stage_buttons[key] = b
            v.addWidget(b)
            h = help_label(STAGE_HELP[key])
            h.setContentsMargins(22, 0, 0, 4)
            v.addWidget(h)
        self.stage_buttons["pretrain"].setChecked(True)
        self.stage_group.buttonToggled.connect(self._update)

        # VGG
        self.vgg_box = QGroupBox("Weights for the SRGAN stage")
        gv = QGridLayout(self.vgg_box)
        gv.addWidget(
            help_label(
                "The SRGAN stage judges texture through VGG, a network trained to recognise objects in photos. "
                "It needs VGG's weights; they are used only during training, never inside your model."
            ),
            0,
            0,
            1,
            3,
        )
        self.vgg_group = QButtonGroup(self)
        self.vgg19_file = QRadioButton("A VGG19 file (torchvision .pth):")
        self.vgg19_download = QRadioButton("Download torchvision's VGG19 (548 MB from download.pytorch.org)")
        self.vgg16_file = QRadioButton("A VGG16 conv-weights file (.ckpt):")
        for b in (self.vgg19_file, self.vgg19_download, self.vgg16_file):
            self.vgg_group.addButton(b)
        self.vgg19_path = QLineEdit()
        self.vgg16_path = QLineEdit()
        b19 = QPushButton("Browse…")
        b19.clicked.connect(
            lambda: self._browse(
                self.vgg19_path, self.vgg19_file, "VGG19 weights (*.pth *.pt);;All files (*)"
            )
        )
        b16 = QPushButton("Browse…")
        b16.clicked.connect(
            lambda: self._browse(
                self.vgg16_path, self.vgg16_file, "VGG16 weights (*.ckpt *.pkl);;All files (*)"
            )
        )
        gv.addWidget(self.vgg19_file, 1, 0)
        gv.addWidget(self.vgg19_path, 1, 1)
        gv.addWidget(b19, 1, 2)
        gv.addWidget(self.vgg19_download, 2, 0, 1, 3)
        self.consent = QCheckBox("I agree to this download (once; it is kept in the torch cache)")
        self.consent.setContentsMargins(22, 0, 0, 0)
        gv.addWidget(self.consent, 3, 0, 1, 3)
        gv.addWidget(self.vgg16_file, 4, 0)
        gv.addWidget(self.vgg16_path, 4, 1)
        gv.addWidget(b16, 4, 2)
        gv.addWidget(
            help_label(
                "VGG19 is what the SRGAN paper used; VGG16 gives similar, slightly less fine texture."
            ),
            5,
            0,
            1,
            3,
        )
        cached = jobs.vgg19_cached()
        if cached:
            self.vgg19_download.setText("torchvision's VGG19, already downloaded (no download needed)")
            self.consent.hide()
        for w in (self.vgg19_path, self.vgg16_path):
            w.textChanged.connect(self._update)
        self.vgg_group.buttonToggled.connect(self._update)
        self.consent.toggled.connect(self._update)
        self._vgg_cached = bool(cached)

        self.problem = QLabel()
        self.problem.setStyleSheet("color: #b00020;")
        self.problem.setWordWrap(True)

        left = QVBoxLayout()
        left.addWidget(net)
        left.addWidget(start)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(goal)
        right.addWidget(self.vgg_box)
        right.addStretch(1)
        cols = QHBoxLayout()
        cols.addLayout(left, 1)
        cols.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(cols, 1)
        layout.addWidget(self.problem)
        self._arch_changed()

    # --- state ---------------------------------------------------------------------------------
    def initializePage(self) -> None:
        report = self.wizard().dataset_report
        allowed = report.scales if report and report.scales else [2, 3, 4]
        current = self.scale_combo.currentData()
        self.scale_combo.blockSignals(True)
        self.scale_combo.clear()
        for s in allowed:
            self.scale_combo.addItem(f"×{s}", s)
        idx = self.scale_combo.findData(current)
        self.scale_combo.setCurrentIndex(max(0, idx))
        self.scale_combo.blockSignals(False)
        if report and report.kind == "paired":
            self.scale_help.setText(f"Your LR/ images fix the scale at ×{', ×'.join(map(str, allowed))}.")
        self._fill_init()
        run_job(self, jobs.list_model_choices, on_done=self._models_listed, name="models")
        self._update()

    def _models_listed(self, models) -> None:
        self.models = list(models)
        self.wizard().installed_models = self.models
        self._fill_init()

    def _fill_init(self) -> None:
        scale = self.scale_combo.currentData()
        keep = self.init_combo.currentData()
        self.init_combo.blockSignals(True)
        self.init_combo.clear()
        self.init_combo.addItem("Nothing: train from scratch", None)
        for m in self.models:
            if m.scale == scale:
                kind = "bundled" if m.bundled else "yours"
                self.init_combo.addItem(
                    f"Fine-tune {m.name} ({kind}; {m.arch.upper()} {m.n_resblocks} blocks × {m.n_feats} ch)",
                    m,
                )
        idx = max(
            0, next((i for i in range(self.init_combo.count()) if self.init_combo.itemData(i) is keep), 0)
        )
        self.init_combo.setCurrentIndex(idx)
        self.init_combo.blockSignals(False)
        self._init_changed()

    def _scale_changed(self, *_a) -> None:
        self._fill_init()

    def _arch_changed(self, *_a) -> None:
        key = self.arch_key()
        spec = ARCHS[key]
        self.blocks.setValue(spec["n_resblocks"])
        self.feats.setValue(spec["n_feats"])
        self._update()

    def _init_changed(self, *_a) -> None:
        m = self.init_combo.currentData()
        fine_tune = m is not None
        for b in self.arch_buttons.values():
            b.setEnabled(not fine_tune)
        self.blocks.setEnabled(not fine_tune)
        self.feats.setEnabled(not fine_tune)
        if fine_tune:
            key = "srresnet" if m.arch == "srresnet" else ("edsr-large" if m.n_feats >= 256 else "edsr")
            self.arch_buttons[key].setChecked(True)
            self.blocks.setValue(m.n_resblocks)
            self.feats.setValue(m.n_feats)
        self.stage_buttons["gan"].setEnabled(fine_tune)
        if not fine_tune and self.stage_buttons["gan"].isChecked():
            self.stage_buttons["pretrain"].setChecked(True)
        self._update()

    def _browse(self, edit: QLineEdit, button: QRadioButton, pattern: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "VGG weights", edit.text(), pattern)
        if path:
            edit.setText(path)
            button.setChecked(True)

    def arch_key(self) -> str:
        for key, b in self.arch_buttons.items():
            if b.isChecked():
                return key
        return "edsr"

    def stage(self) -> str:
        for key, b in self.stage_buttons.items():
            if b.isChecked():
                return key
        return "pretrain"

    def vgg_choice(self) -> tuple[str, str]:
        if self.vgg19_file.isChecked():
            return VGG19_FILE, self.vgg19_path.text().strip()
        if self.vgg16_file.isChecked():
            return VGG16_FILE, self.vgg16_path.text().strip()
        if self.vgg19_download.isChecked():
            return VGG19_DOWNLOAD, ""
        return "none", ""

    def problems(self) -> list[str]:
        out = []
        if self.stage() in ("both", "gan"):
            source, path = self.vgg_choice()
            if source == "none":
                out.append("Choose where the VGG weights for the SRGAN stage come from.")
            elif source in (VGG19_FILE, VGG16_FILE) and not path:
                out.append("Choose the VGG weights file.")
            elif source == VGG19_DOWNLOAD and not (self._vgg_cached or self.consent.isChecked()):
                out.append("Tick the box to agree to the 548 MB download, or choose a file.")
        return out

    def _update(self, *_a) -> None:
        self.vgg_box.setEnabled(self.stage() in ("both", "gan"))
        self.problem.setText(" ".join(self.problems()))
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return not self.problems()

    def validatePage(self) -> bool:
        plan = self.wizard().plan
        plan.set_arch(self.arch_key())
        plan.n_resblocks, plan.n_feats = self.blocks.value(), self.feats.value()
        plan.scale = int(self.scale_combo.currentData())
        m = self.init_combo.currentData()
        plan.init_from = m.path if m is not None else ""
        if m is not None:
            plan.res_scale = m.res_scale
        plan.stage = self.stage()
        plan.vgg_source, plan.vgg_file = self.vgg_choice()
        return True
