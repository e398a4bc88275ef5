#!/usr/bin/env bash
# Create (or complete) the project's virtual environment in .venv/.
#
# Idempotent: each step checks first whether its result is already there, so a
# second run on a ready machine takes seconds. Fails loudly, naming the step.
#
# Order matters (see DEVELOPERS.md):
#   torch 2.13.0 (local CPU wheel) -> setuptools 80.9.0 + wheel -> mmengine
#   -> mmcv 2.1.0 built from source with ops -> mmdet 3.3.0 + test tools
#   -> this project, editable, which builds mmdet_gan._ext.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${MMDET_GAN_VENV:-$ROOT/.venv}
PY=$VENV/bin/python
CONSTRAINTS=$ROOT/requirements/constraints.txt

step() { echo "[setup_env] $*"; }
fail() { echo "[setup_env] FAILED at step: $CURRENT_STEP" >&2; }
trap fail ERR

pip_install() {
    "$PY" -m pip install --disable-pip-version-check -q -c "$CONSTRAINTS" "$@"
}

has() {  # has "python expression that raises if missing"
    "$PY" - <<PYEOF >/dev/null 2>&1
$1
PYEOF
}

CURRENT_STEP="create venv $VENV"
if [ ! -x "$PY" ]; then
    step "$CURRENT_STEP"
    python3 -m venv "$VENV"
fi

CURRENT_STEP="torch==2.13.0 (CPU wheel)"
if ! has "import torch; assert torch.__version__.split('+')[0] == '2.13.0'"; then
    step "$CURRENT_STEP"
    pip_install torch==2.13.0
fi

CURRENT_STEP="setuptools==80.9.0 + wheel (mmcv's setup.py needs pkg_resources)"
if ! has "import setuptools, wheel, pkg_resources; assert setuptools.__version__ == '80.9.0'"; then
    step "$CURRENT_STEP"
    pip_install setuptools==80.9.0 wheel
fi

CURRENT_STEP="mmengine==0.10.7"
if ! has "import mmengine; assert mmengine.__version__ == '0.10.7'"; then
    step "$CURRENT_STEP"
    pip_install mmengine==0.10.7
fi

CURRENT_STEP="mmcv==2.1.0 with ops, from source (10-13 min on 2 cores the first time)"
if ! has "import mmcv, mmcv.ops; from mmcv.ops import RoIAlign; assert mmcv.__version__ == '2.1.0'"; then
    step "$CURRENT_STEP"
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
        pip_install --no-build-isolation mmcv==2.1.0
fi

CURRENT_STEP="mmdet==3.3.0, pycocotools and test tools (pytest, tifffile, ...)"
if ! has "import mmdet, pycocotools, pytest, parameterized, matplotlib, tifffile, flake8, isort, yapf; assert mmdet.__version__ == '3.3.0'"; then
    step "$CURRENT_STEP"
    pip_install -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt"
fi

CURRENT_STEP="mmdet_gan (editable) and its compiled ops"
if ! has "import mmdet_gan, mmdet_gan._ext, os; assert os.path.samefile(mmdet_gan.__path__[0], '$ROOT/mmdet_gan')" \
   || [ -n "$(find "$ROOT/ops/csrc" -newer "$ROOT/mmdet_gan/_ext.stamp" -type f 2>/dev/null | head -n1)" ] \
   || [ ! -f "$ROOT/mmdet_gan/_ext.stamp" ]; then
    step "$CURRENT_STEP"
    (cd "$ROOT" && pip_install --no-build-isolation --use-pep517 --no-deps -e .)
    touch "$ROOT/mmdet_gan/_ext.stamp"
fi

trap - ERR
step "ready: $VENV"
