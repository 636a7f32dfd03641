#!/usr/bin/env bash
# Build the one-folder bundle dist/sr-desktop/ (run from anywhere):
#   bash packaging/build.sh
# Installs PyInstaller into .venv if missing (the project's `package` extra). Heavy: runs under
# nice so that it shares the machine politely. In a fresh clone it first sets up .venv as
# scripts/run.sh does. Set PYTHON to build from another environment
# (e.g. PYTHON=/tmp/venv-cpu/bin/python DIST=dist-cpu).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
PYTHON="${PYTHON:-$root/.venv/bin/python}"
DIST="${DIST:-dist}"
WORK="${WORK:-build/pyinstaller-$(basename "$DIST")}"

if [ ! -x "$PYTHON" ] && [ "$PYTHON" = "$root/.venv/bin/python" ]; then
    echo "build.sh: setting up .venv (torch and the app's dependencies)"
    python3 -m venv .venv
    .venv/bin/python -m pip install -q --disable-pip-version-check -e .
fi
if [ ! -x "$PYTHON" ]; then
    echo "build.sh: $PYTHON not found" >&2
    exit 2
fi
if ! "$PYTHON" -c "import PyInstaller" 2>/dev/null; then
    echo "build.sh: installing pyinstaller into $(dirname "$(dirname "$PYTHON")")"
    "$PYTHON" -m pip install -q --disable-pip-version-check pyinstaller
fi
# The icon and the sample picture are committed; draw them if a checkout lacks them.
[ -f resources/icons/sr-desktop.png ] && [ -f resources/icons/sr-desktop.ico ] || "$PYTHON" packaging/make_icon.py
[ -f resources/samples/sample.png ] || "$PYTHON" packaging/make_sample.py

start=$(date +%s)
nice -n 19 "$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$WORK" packaging/sr-desktop.spec
seconds=$(( $(date +%s) - start ))

bundle="$DIST/sr-desktop"
[ -x "$bundle/sr-desktop" ] || { echo "build.sh: FAILED: $bundle/sr-desktop was not built" >&2; exit 1; }
[ -f "$bundle/_internal/resources/models/edsr-x2.safetensors" ] || {
    echo "build.sh: FAILED: the bundled models are missing from $bundle/_internal/resources" >&2; exit 1; }
# Linux desktop integration next to the executable (bash install-desktop-entry.sh adds the menu entry).
cp packaging/sr-desktop.desktop packaging/install-desktop-entry.sh "$bundle/"
echo "build.sh: built $bundle in ${seconds} s, $(du -sh "$bundle" | cut -f1)"
echo "build.sh: largest parts:"
du -sh "$bundle"/_internal/* | sort -h | tail -n 8
