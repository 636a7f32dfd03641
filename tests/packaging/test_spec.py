"""Fast checks of the PyInstaller spec and of what the bundle relies on (no build here: the
build and the smoke test of the built bundle are `bash packaging/build.sh && bash
packaging/smoke_test.sh`, run in CI with SR_CI_BUNDLE=1)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "packaging" / "sr-desktop.spec"


def _spec_tree() -> ast.Module:
    return ast.parse(SPEC.read_text(), filename=str(SPEC))


def _first_literal(name: str):
    """The literal value of the spec's first ``NAME = <literal>`` assignment."""
    for node in _spec_tree().body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(f"the spec assigns no {name}")


def _calls(name: str) -> list[ast.Call]:
    return [
        n for n in ast.walk(_spec_tree())
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == name
    ]  # fmt: skip


def _imported_modules(folder: Path) -> set[str]:
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module)
    return found


def test_spec_is_a_one_folder_build_of_the_entry_script():
    entry = _first_literal("ENTRY_SCRIPT")
    assert entry == "packaging/entry.py"
    text = (ROOT / entry).read_text()
    assert "from sr_desktop.cli import main" in text and "sys.exit(main())" in text
    (analysis,) = _calls("Analysis")
    assert "ENTRY_SCRIPT" in ast.unparse(analysis.args[0])
    (exe,) = _calls("EXE")
    assert any(k.arg == "exclude_binaries" and ast.literal_eval(k.value) is True for k in exe.keywords)
    assert len(_calls("COLLECT")) == 1, "one-folder build: COLLECT"
    name = next(k for k in exe.keywords if k.arg == "name")
    assert ast.unparse(name.value) == "APP_NAME" and _first_literal("APP_NAME") == "sr-desktop"


def test_spec_bundles_the_resources_folder():
    datas = _first_literal("DATAS")
    assert ("resources", "resources") in datas
    assert (ROOT / "resources" / "models" / "edsr-x2.safetensors").is_file()
    for icon in ("ICON_PNG", "ICON_ICO"):
        assert (ROOT / _first_literal(icon)).is_file(), f"{icon}: run packaging/make_icon.py"
    assert (ROOT / "resources" / "samples" / "sample.png").is_file()


def test_spec_names_the_modules_the_app_imports_lazily():
    hidden = set(_first_literal("HIDDEN_IMPORTS"))
    registry = ROOT / "sr_desktop" / "core" / "archs" / "__init__.py"
    archs = {
        f"sr_desktop.core.archs.{node.module}"
        for node in ast.walk(ast.parse(registry.read_text()))
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
    }  # the architectures the registry lists
    assert archs and archs <= hidden, f"architecture modules missing from HIDDEN_IMPORTS: {archs - hidden}"
    assert {"sr_desktop.cli", "sr_desktop.gui.app", "sr_desktop.gui.pyside_fix", "training.cli"} <= hidden
    text = SPEC.read_text()
    assert 'collect_submodules("sr_desktop")' in text and 'collect_submodules("training")' in text


def test_excludes_leave_in_everything_our_code_imports():
    excludes = _first_literal("EXCLUDES")
    used = _imported_modules(ROOT / "sr_desktop") | _imported_modules(ROOT / "training")
    direct = sorted(m for m in used if any(m == ex or m.startswith(ex + ".") for ex in excludes))
    assert not direct, f"the spec excludes modules our code imports: {direct}"
    assert "triton" in excludes and "tkinter" in excludes
    assert "torchvision" in excludes  # nothing of ours imports it (checked just above)
    qt_used = {m for m in used if m.startswith("PySide6.")}
    assert qt_used and not qt_used & set(excludes)


def test_runtime_hook_applies_the_pyside_fix():
    text = SPEC.read_text()
    assert 'RUNTIME_HOOKS = [str(ROOT / "packaging" / "rthooks" / "pyi_rth_sr_pyside_fix.py")]' in text
    hook = (ROOT / "packaging" / "rthooks" / "pyi_rth_sr_pyside_fix.py").read_text()
    assert "immortalize_singletons()" in hook
    (analysis,) = _calls("Analysis")
    assert any(
        k.arg == "runtime_hooks" and ast.unparse(k.value) == "RUNTIME_HOOKS" for k in analysis.keywords
    )


def test_resource_dir_from_source_and_from_a_bundle(monkeypatch, tmp_path):
    from sr_desktop.core import store

    monkeypatch.delattr(sys, "_MEIPASS", raising=False)
    assert store.resource_dir() == ROOT / "resources"
    assert (store.bundled_model_dir() / "edsr-x2.safetensors").is_file()

    bundle = tmp_path / "_internal"
    (bundle / "resources" / "models").mkdir(parents=True)
    monkeypatch.setattr(sys, "_MEIPASS", str(bundle), raising=False)
    monkeypatch.setenv("SR_DESKTOP_DATA_DIR", str(tmp_path / "data"))
    assert store.resource_dir() == bundle / "resources"
    assert store.bundled_model_dir() == bundle / "resources" / "models"
    assert store.list_models() == []  # nothing from the source tree leaks into the bundle
    (bundle / "resources" / "models" / "edsr-x2.safetensors").write_bytes(b"")
    assert [e.name for e in store.list_models()] == ["edsr-x2"]


def test_frozen_training_command_reuses_the_bundle_executable(monkeypatch):
    from sr_desktop.cli import training_command

    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", "/opt/sr-desktop/sr-desktop")
    assert training_command(["DATA", "--iters", "5"]) == [
        "/opt/sr-desktop/sr-desktop",
        "train",
        "DATA",
        "--iters",
        "5",
    ]


@pytest.mark.parametrize("script", ["build.sh", "smoke_test.sh", "install-desktop-entry.sh"])
def test_scripts_parse(script):
    path = ROOT / "packaging" / script
    subprocess.run(["bash", "-n", str(path)], check=True)
    text = path.read_text()
    if script == "build.sh":
        assert "pip install" in text and "pyinstaller" in text and "packaging/sr-desktop.spec" in text
    if script == "smoke_test.sh":
        assert "env -i" in text and re.search(r"--self-test", text) and " train " in text
