#!/usr/bin/env bash
# Creates .venv (if missing) and installs the pinned, tested stack plus mmseg_baclip (editable).
# Idempotent: a stamp keyed on the lock file and setup.py skips work already done.
# Override the interpreter with PYTHON=/path/to/python3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "[setup] creating .venv with $($PYTHON --version)"
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.mmseg_baclip-$(cat requirements/lock.txt requirements/tests.txt setup.py | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  echo "[setup] installing the pinned stack (requirements/lock.txt); first time takes a few minutes"
  .venv/bin/python -m pip install -q --upgrade pip wheel
  # torch/torchvision first, so nothing below pulls another torch build.
  .venv/bin/python -m pip install -q "torch==2.14.1" "torchvision==0.29.1" "setuptools>=77.0.3,<81"
  .venv/bin/python -m pip install -q -r requirements/lock.txt -r requirements/tests.txt
  .venv/bin/python -m pip install -q --no-deps --no-build-isolation -e .
  .venv/bin/python -m pip check
  touch "$stamp"
fi
.venv/bin/python -c "import mmseg_baclip; print('[setup] mmseg_baclip', mmseg_baclip.__version__, 'ready in .venv')"
