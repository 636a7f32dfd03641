"""The "Train a model…" wizard: choose images, a network and a budget, train in a separate
process with live charts, and get an installed, evaluated model."""

from .wizard import TrainingWizard, open_training_wizard

__all__ = ["TrainingWizard", "open_training_wizard"]
