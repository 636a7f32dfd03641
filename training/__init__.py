"""Training for sr-desktop: datasets, losses, discriminator, loops, checkpoints, export.

No Qt here; the app's wizard and ``sr-train`` both call :func:`training.loop.train`.
"""
