"""Where the app keeps its state: an INI QSettings file in the platformdirs config folder and a
log file in the platformdirs log folder. ``SR_DESKTOP_CONFIG_DIR`` and ``SR_DESKTOP_LOG_DIR``
override them (tests, portable installs)."""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings

APP_NAME = "sr-desktop"
LOG_FILE = "sr-desktop.log"


def config_dir() -> Path:
    override = os.environ.get("SR_DESKTOP_CONFIG_DIR")
    if override:
        return Path(override)
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    override = os.environ.get("SR_DESKTOP_LOG_DIR")
    if override:
        return Path(override)
    from platformdirs import user_log_dir

    return Path(user_log_dir(APP_NAME, appauthor=False))


def log_path() -> Path:
    return log_dir() / LOG_FILE


def open_settings() -> QSettings:
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return QSettings(str(folder / "settings.ini"), QSettings.Format.IniFormat)


def read(settings: QSettings, key: str, default: Any, kind: type | None = None) -> Any:
    """A typed read that survives INI files (where everything comes back as a string)."""
    value = settings.value(key, default)
    if value is None:
        return default
    kind = kind or type(default)
    try:
        if kind is bool:
            return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
        return kind(value)
    except (TypeError, ValueError):
        return default


_handler: logging.Handler | None = None


def setup_logging() -> Path:
    """Log to a rotating file (once per process); returns its path."""
    global _handler
    path = log_path()
    if _handler is not None and getattr(_handler, "baseFilename", None) == str(path):
        return path
    root = logging.getLogger("sr_desktop")
    if _handler is not None:
        root.removeHandler(_handler)
        _handler.close()
    path.parent.mkdir(parents=True, exist_ok=True)
    _handler = logging.handlers.RotatingFileHandler(path, maxBytes=2 << 20, backupCount=2, encoding="utf-8")
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(_handler)
    root.setLevel(logging.INFO)
    return path
