import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SR_SHARED_DIR", REPO.parent / "shared"))


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path_factory, monkeypatch):
    """Tests never touch the real user folders."""
    monkeypatch.setenv("SR_DESKTOP_DATA_DIR", str(tmp_path_factory.mktemp("data")))


@pytest.fixture
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder {SHARED} is not present")
    return SHARED
