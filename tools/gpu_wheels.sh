#!/usr/bin/env bash
# Downloads the wheels that tools/gpu_check.sh installs offline on the GPU
# machine (Python 3.12, no network there): MMEngine, mmcv-lite (mmcv's Python
# part: mmcv's CUDA ops cannot be built there in time), MMDetection (for its
# registry) and what they need beyond that machine's image. All are pure
# Python (py3-none-any), about 4 MB, into .gpu_wheels/ (ignored by git; the
# device tool's `carry` takes it along, see DEVELOPERS.md).
#
# Usage: bash tools/gpu_wheels.sh [DEST]   (default .gpu_wheels)
# Environment: PYTHON (the python whose pip downloads; default .venv's, else
# python3).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEST=${1:-$ROOT/.gpu_wheels}
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=python3
# One version of each (two of one package stop the whole offline install).
WHEELS=(
    mmengine==0.10.7
    mmcv-lite==2.1.0
    mmdet==3.3.0
    addict==2.4.0
    termcolor==3.3.0
    yapf==0.43.0
    platformdirs==4.14.9
)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/gpu_wheels.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
"$PY" -m pip download --disable-pip-version-check -q --no-deps \
    --only-binary :all: --python-version 3.12 --implementation py \
    -d "$TMP" "${WHEELS[@]}"
mkdir -p "$DEST"
rm -f "$DEST"/*.whl
mv "$TMP"/*.whl "$DEST"/
echo "[gpu_wheels] $(ls "$DEST"/*.whl | wc -l) wheels in $DEST ($(du -sh "$DEST" | cut -f1)):"
ls "$DEST"
