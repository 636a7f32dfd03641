import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from train_helpers import make_hr_folder  # noqa: E402


@pytest.fixture
def hr_folder(tmp_path: Path) -> Path:
    return make_hr_folder(tmp_path / "ds")
