"""The main window opens the training wizard and selects the model it produces."""

import os
from pathlib import Path

from gui_helpers import make_model


def test_train_action_opens_wizard_and_selects_the_new_model(qtbot, model_window):
    win = model_window
    assert win.train_action in win.menuBar().actions()[1].menu().actions()
    win.train_action.trigger()
    assert len(win._wizards) == 1 and win._wizards[0].isVisible()

    make_model(Path(os.environ["SR_DESKTOP_DATA_DIR"]) / "models", name="fresh-x2")
    with qtbot.waitSignal(win.models_loaded, timeout=60000):
        win._wizards[0].on_model_ready("fresh-x2")  # what the wizard calls when its model is exported
    assert win.panel.model_name() == "fresh-x2"

    win._wizards[0].close()
    qtbot.waitUntil(lambda: not win._wizards, timeout=5000)
