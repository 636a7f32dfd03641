# Runs before the entry script in the bundle: the PySide6 6.12 / Python 3.11 reference-count
# guard (sr_desktop/gui/pyside_fix.py) must be in place before any PySide call, whichever code
# path imports PySide6 first. Importing sr_desktop.gui does not import PySide6 itself.
from sr_desktop.gui.pyside_fix import immortalize_singletons

immortalize_singletons()
