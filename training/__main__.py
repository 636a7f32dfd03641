"""``python -m training`` is ``sr-train`` (also under ``torchrun ... -m training``)."""

import sys

from .cli import main

sys.exit(main())
