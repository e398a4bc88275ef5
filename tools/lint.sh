#!/usr/bin/env bash
# The style checks CI runs before the tests (settings in setup.cfg):
# flake8, isort --check and yapf --diff over the whole tree.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
cd "$ROOT"
echo "[lint] flake8"
"$PY" -m flake8 .
echo "[lint] isort --check-only"
"$PY" -m isort --check-only --diff .
echo "[lint] yapf --diff"
# yapf --diff exits 1 when it would reformat: keep going to show the diff.
RC=0
DIFF=$("$PY" -m yapf --diff -r mmdet_gan tests tools configs setup.py) || RC=$?
if [ -n "$DIFF" ]; then
    echo "$DIFF"
    echo "[lint] yapf would reformat the files above: run" \
         "\`python -m yapf -i -r mmdet_gan tests tools configs setup.py\`" >&2
    exit 1
fi
if [ "$RC" -ne 0 ]; then
    echo "[lint] yapf failed (exit $RC)" >&2
    exit "$RC"
fi
echo "[lint] ok"
