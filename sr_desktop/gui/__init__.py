"""The desktop app (PySide6). Qt lives only in this package; heavy work runs in workers
(:mod:`sr_desktop.gui.workers`) and torch is imported lazily, inside those workers."""

from .pyside_fix import immortalize_singletons

immortalize_singletons()  # before any PySide call: see pyside_fix
