#!/usr/bin/env bash
# Set up a virtual environment (torch 2.14.1 / torchvision 0.29.1 come from pip) and run all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest -q "$@"
