"""PyInstaller entry script: one executable for the GUI (``sr-desktop [PATH...]``,
``--self-test``, ``--version``) and the headless commands (``upscale``, ``models``, ``eval``,
``train``), exactly as the ``sr-desktop`` console script from source."""

import multiprocessing
import sys

from sr_desktop.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # no-op unless a child process is spawned from the bundle
    sys.exit(main())
