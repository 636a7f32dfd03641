"""Copy a training run's state into the repository so that a later session (or machine) can
continue it with ``sr-train --resume``:

    .venv/bin/python scripts/save_state.py runs/srgan-x4 training-state/srgan-x4

The checkpoint is made portable (training.checkpoint.portable): a GAN run's discriminator is
left out, which keeps the file about the size of an EDSR run's (~25 MB instead of ~290 MB).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from training.checkpoint import save_portable_state


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("dest", type=Path)
    args = parser.parse_args()
    path = save_portable_state(args.run_dir, args.dest)
    print(f"{path}: {path.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
