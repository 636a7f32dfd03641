#!/usr/bin/env bash
# Linux: add the unpacked bundle to the desktop menu (app name + icon) for the current user.
#   bash install-desktop-entry.sh [BUNDLE_DIR]   (default: the folder this script is in)
set -euo pipefail
bundle="$(cd "${1:-$(dirname "$0")}" && pwd)"
[ -x "$bundle/sr-desktop" ] || { echo "no sr-desktop executable in $bundle" >&2; exit 2; }
apps="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
mkdir -p "$apps"
sed "s#@BUNDLE@#$bundle#g" "$bundle/sr-desktop.desktop" > "$apps/sr-desktop.desktop"
echo "installed $apps/sr-desktop.desktop"
