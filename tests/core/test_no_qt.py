"""The core and the training package must work where PySide6 is not installed."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BLOCK_QT = (
    "import sys\n"
    "class _NoQt:\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('PySide6', 'shiboken6', 'PyQt5', 'PyQt6'):\n"
    "            raise ImportError('Qt is blocked for this test')\n"
    "sys.meta_path.insert(0, _NoQt())\n"
)


def run_without_qt(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_QT + code], cwd=REPO, capture_output=True, text=True, timeout=600
    )


def test_blocking_works():
    proc = run_without_qt("import PySide6")
    assert proc.returncode != 0 and "blocked" in proc.stderr


def test_core_and_training_import_without_qt():
    modules = [
        p.relative_to(REPO).with_suffix("").as_posix().replace("/", ".")
        for p in REPO.glob("sr_desktop/core/**/*.py")
    ]
    modules += [
        p.relative_to(REPO).with_suffix("").as_posix().replace("/", ".") for p in REPO.glob("training/*.py")
    ]
    modules = [m.removesuffix(".__init__") for m in modules if not m.endswith("__main__")]
    code = "import importlib\n" + "".join(f"importlib.import_module({m!r})\n" for m in modules)
    code += "assert not any(k.startswith('PySide6') for k in sys.modules)\nprint('ok', len(sys.modules))"
    proc = run_without_qt(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ok")


@pytest.mark.slow
def test_core_tests_pass_without_qt():
    code = (
        "import pytest\n"
        "sys.exit(pytest.main(['-q', '-p', 'no:pytest-qt', '-p', 'no:cacheprovider', 'tests/core', "
        "'--deselect', 'tests/core/test_no_qt.py']))\n"
    )
    proc = run_without_qt(code)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout


def test_listing_models_and_batch_settings_do_not_load_torch():
    """The app shows its window and model list before torch is imported."""
    code = (
        "import sr_desktop.core.store, sr_desktop.core.batch, sr_desktop.core.imageio, sr_desktop.core.progress\n"
        "sr_desktop.core.store.list_models()\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\nprint('ok')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", "import sys\n" + code], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
