#!/usr/bin/env bash
# Compile-and-link check of the CUDA build of mmdet_gan._ext, for machines
# without a GPU (see DEVELOPERS.md, "Building and checking the CUDA ops").
#
#  1. creates (once) a second venv, .venv-cuda/, with a CUDA build of torch
#     (torch==2.14.1+cu130, installed by pip from the local wheel cache);
#  2. builds the extension with FORCE_CUDA=1 out of tree, in a temporary
#     directory, so the CPU build in mmdet_gan/ is never overwritten;
#  3. imports it (every symbol must resolve; no GPU is needed for that) and
#     runs the CPU kernels of that build on a tiny case.
#
# Run it whenever a file under ops/csrc/ changes. Environment overrides:
#   MMDET_GAN_CUDA_VENV (default .venv-cuda), CUDA_HOME (/usr/local/cuda),
#   TORCH_CUDA_ARCH_LIST ("8.0;9.0"), MAX_JOBS (2), KEEP_BUILD=1 keeps the
#   build directory.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${MMDET_GAN_CUDA_VENV:-$ROOT/.venv-cuda}
PY=$VENV/bin/python
TORCH_CUDA=2.14.1
export CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-"8.0;9.0"}
export MAX_JOBS=${MAX_JOBS:-2}

step() { echo "[check_cuda_build] $*"; }
CURRENT_STEP=start
trap 'echo "[check_cuda_build] FAILED at step: $CURRENT_STEP" >&2' ERR

CURRENT_STEP="venv $VENV"
if [ ! -x "$PY" ]; then
    step "$CURRENT_STEP"
    python3 -m venv "$VENV"
fi

CURRENT_STEP="torch==$TORCH_CUDA (CUDA build), setuptools, wheel, numpy"
if ! "$PY" -c "import torch, setuptools, wheel, numpy; \
assert torch.__version__.split('+')[0] == '$TORCH_CUDA'; \
assert torch.version.cuda" >/dev/null 2>&1; then
    step "$CURRENT_STEP (several GB, from the local wheel cache)"
    "$PY" -m pip install --disable-pip-version-check -q \
        "torch==$TORCH_CUDA" setuptools==80.9.0 wheel numpy
fi

CURRENT_STEP="nvcc in $CUDA_HOME"
test -x "$CUDA_HOME/bin/nvcc"
NV_INCLUDE=$("$PY" -c "import glob, os, site; \
d = [p for s in site.getsitepackages() \
     for p in sorted(glob.glob(os.path.join(s, 'nvidia', 'cu[0-9]*', 'include')))]; \
print(d[0] if d else '')")
export CPATH=${NV_INCLUDE}${CPATH:+:$CPATH}

BUILD=$(mktemp -d "${TMPDIR:-/tmp}/mmdet_gan_cuda_build.XXXXXX")
if [ "${KEEP_BUILD:-0}" != 1 ]; then
    trap 'rm -rf "$BUILD"' EXIT
fi

CURRENT_STEP="build_ext with FORCE_CUDA=1 into $BUILD"
step "$CURRENT_STEP (nvcc $("$CUDA_HOME/bin/nvcc" --version | grep -o 'release [0-9.]*'), archs $TORCH_CUDA_ARCH_LIST)"
(cd "$ROOT" && FORCE_CUDA=1 "$PY" setup.py -q build_ext \
    --build-lib "$BUILD/lib" --build-temp "$BUILD/temp") \
    >"$BUILD/build.log" 2>&1 || { tail -n 60 "$BUILD/build.log" >&2; false; }
if grep -E "warning" "$BUILD/build.log" | grep -v -E "README|SetuptoolsWarning" \
        | grep -q -E "ops/csrc"; then
    step "compiler warnings in ops/csrc:"
    grep -E "ops/csrc.*warning" "$BUILD/build.log" >&2 || true
fi

CURRENT_STEP="import the CUDA build and run its CPU path"
(cd "$BUILD/lib" && "$PY" - <<'PYEOF'
import torch

import mmdet_gan._ext as ext  # resolves every symbol (RTLD_NOW)

assert ext.with_cuda(), 'built without MMDET_GAN_WITH_CUDA'
x = torch.arange(16, dtype=torch.float32).view(1, 1, 4, 4)
rois = torch.tensor([[0., 0., 0., 3., 3.]])
out = ext.prroi_pool_forward(x, rois, pooled_height=2, pooled_width=2,
                             spatial_scale=1.0)
assert out.shape == (1, 1, 2, 2), out.shape
print(f'[check_cuda_build] imported {ext.__file__}')
print(f'[check_cuda_build] torch {torch.__version__}, CUDA '
      f'{torch.version.cuda}, GPU available: {torch.cuda.is_available()}')
PYEOF
)
trap - ERR
step "OK: the CUDA build compiles, links and imports"
