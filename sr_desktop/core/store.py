"""Where models live: bundled ones in ``resources/models/``, the user's in the platformdirs
data folder. Names resolve to files; files load into descriptors."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from .modelfile import MODEL_SUFFIXES, ModelFileError, load_model, read_state_dict

APP_NAME = "sr-desktop"


def resource_dir() -> Path:
    """``resources/`` from a source checkout, or from inside a PyInstaller bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def bundled_model_dir() -> Path:
    return resource_dir() / "models"


def data_dir() -> Path:
    """The user data folder; ``SR_DESKTOP_DATA_DIR`` overrides it (tests, portable installs)."""
    override = os.environ.get("SR_DESKTOP_DATA_DIR")
    if override:
        return Path(override)
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def user_model_dir() -> Path:
    return data_dir() / "models"


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    bundled: bool


def _entries(folder: Path, bundled: bool) -> list[ModelEntry]:
    if not folder.is_dir():
        return []
    return [
        ModelEntry(p.stem, p, bundled)
        for p in sorted(folder.iterdir())
        if p.suffix.lower() in MODEL_SUFFIXES and not p.name.startswith(".")
    ]


def list_models() -> list[ModelEntry]:
    """Bundled models first, then user models (a user model may not shadow a bundled name)."""
    bundled = _entries(bundled_model_dir(), True)
    names = {e.name for e in bundled}
    return bundled + [e for e in _entries(user_model_dir(), False) if e.name not in names]


class NoModelError(Exception):
    """A model name that resolves to nothing; the message says what is available."""


def resolve_model(name_or_path: str | os.PathLike) -> ModelEntry:
    text = str(name_or_path)
    path = Path(text).expanduser()
    if path.suffix.lower() in MODEL_SUFFIXES or os.sep in text or path.is_file():
        if not path.is_file():
            raise NoModelError(f"model file not found: {path}")
        return ModelEntry(path.stem, path, False)
    models = list_models()
    for entry in models:
        if entry.name == text:
            return entry
    if not models:
        raise NoModelError(
            f"model {text!r} is not installed, and no models are installed at all "
            f"(bundled folder {bundled_model_dir()} is empty); pass a model file with --model FILE"
        )
    raise NoModelError(f"unknown model {text!r}; available: {', '.join(e.name for e in models)}")


def import_model(source: str | os.PathLike, name: str | None = None) -> ModelEntry:
    """Check a model file loads, then copy it into the user store (atomically)."""
    source = Path(source)
    load_model(source)  # raises ModelFileError for anything unusable
    name = name or source.stem
    target = user_model_dir() / f"{name}{source.suffix.lower()}"
    if any(e.name == name for e in list_models()):
        raise ModelFileError(f"a model named {name!r} already exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
    return ModelEntry(name, target, False)


def delete_model(name: str) -> None:
    for entry in _entries(user_model_dir(), False):
        if entry.name == name:
            entry.path.unlink()
            return
    raise NoModelError(f"no user model named {name!r} (bundled models cannot be deleted)")


__all__ = [
    "ModelEntry",
    "ModelFileError",
    "NoModelError",
    "bundled_model_dir",
    "delete_model",
    "import_model",
    "list_models",
    "read_state_dict",
    "resolve_model",
    "resource_dir",
    "user_model_dir",
]
