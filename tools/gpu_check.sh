#!/usr/bin/env bash
# The GPU check of mmdet-gan, for a session lent a GPU machine (see
# DEVELOPERS.md, "Running the GPU check"): one run, under 8 minutes, one
# report file.
#
# Steps (each with its own timeout, all inside one time budget; a failing
# step does not stop the others):
#   1. environment: nvidia-smi, nvcc, the versions (tools/gpu_check.py versions)
#   2. wheels: installs the carried wheels (.gpu_wheels/, tools/gpu_wheels.sh)
#      offline into a private --target folder, skipping what already imports
#      (mmengine, mmcv-lite, mmdet: the light stack, mmdet_gan/utils/stack.py)
#   3. build: FORCE_CUDA=1 setup.py build_ext --inplace, then checks that
#      mmdet_gan._ext has the CUDA kernels
#   4. pytest -m cuda tests/test_ops (CPU vs CUDA vs the float64 reference,
#      both gradients, empty and degenerate RoIs, the determinism flag, ...)
#   5. benchmark_prroi.py vs torchvision's roi_align (K=512, C=256, 7x7 and
#      28x28) and the plain-PyTorch closed form
#   6. the target verdicts read off the benchmark's times
#   7. the AMP check: discriminators, adversarial losses and the fused
#      multi-level pooling under fp16 autocast, one GradScaler per player
#   8. the op's CPU tests (pytest -m "not cuda" tests/test_ops, ...)
#
# Usage:  bash tools/gpu_check.sh
# The report: $GPU_CHECK_OUT, else $OUT (the device machine's folder that
# comes back), else work_dirs/gpu_check/; file gpu_report.md. Exit status 0
# when every step passed (or the check was skipped), 1 otherwise.
#
# Without a CUDA device it prints "skipped: no CUDA device" and exits 0.
# Rehearsal on a CPU-only machine: GPU_CHECK_DEVICE=cpu runs every step on
# the CPU except the CUDA build (the existing CPU build of the extension is
# used; GPU_CHECK_BUILD=1 rebuilds it), with a small benchmark and the
# targets not enforced.
#
# Environment: PY (python3), GPU_CHECK_DEVICE (cuda|cpu), GPU_CHECK_OUT,
# GPU_CHECK_WHEELS (.gpu_wheels), GPU_CHECK_REINSTALL=1 (install every wheel
# even if it imports), GPU_CHECK_BUDGET_S (450: all steps together),
# GPU_CHECK_BENCH_ARGS (replaces the benchmark's size arguments),
# GPU_CHECK_AMP_ARGS (the AMP check's: --iters, --num-rois, ...),
# TORCH_CUDA_ARCH_LIST (the GPU's, else 9.0), MAX_JOBS (16), OMP_NUM_THREADS (1 in
# the rehearsal).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 2
export PY=${PY:-python3}
export DEVICE=${GPU_CHECK_DEVICE:-cuda}
OUT_DIR=${GPU_CHECK_OUT:-${OUT:-$ROOT/work_dirs/gpu_check}}
REPORT=$OUT_DIR/gpu_report.md
export WHEELS=${GPU_CHECK_WHEELS:-$ROOT/.gpu_wheels}
BUDGET=${GPU_CHECK_BUDGET_S:-450}
export PYTHONUNBUFFERED=1
START=$(date +%s)

say() { echo "[gpu_check] $*"; }

case "$DEVICE" in
    cuda | cpu) ;;
    *)
        say "GPU_CHECK_DEVICE must be cuda or cpu, got '$DEVICE'" >&2
        exit 2
        ;;
esac

mkdir -p "$OUT_DIR" || exit 2
WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX") || exit 2
trap 'rm -rf "$WORK"' EXIT
export WORK
export SITE=$WORK/site

header() {
    echo "# mmdet-gan GPU check"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "- host: $(uname -n), $(uname -srm), $(nproc 2>/dev/null || echo '?') cores"
    echo "- mode: $1"
    echo "- python: \`$PY\` ($("$PY" -c 'import sys; print(sys.version.split()[0])' 2>&1 | tail -n 1))"
    echo "- checkout: $ROOT (commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'n/a: no git here'))"
    echo "- budget: ${BUDGET} s for all steps"
    echo
}

# ---------------------------------------------------------------- skip
if [ "$DEVICE" = cuda ]; then
    if ! CUDA_REASON=$("$PY" -c 'import torch, sys
ok = torch.cuda.is_available()
print(f"torch {torch.__version__}, torch.cuda.is_available() = {ok}")
sys.exit(0 if ok else 1)' 2>&1 | tail -n 1); then
        MSG="skipped: no CUDA device ($CUDA_REASON)"
        say "$MSG"
        { header "cuda"; echo "**$MSG**: nothing was run. On a CPU-only machine," \
            "rehearse with \`GPU_CHECK_DEVICE=cpu bash tools/gpu_check.sh\`."; } >"$REPORT"
        say "report: $REPORT"
        exit 0
    fi
fi

if [ "$DEVICE" = cpu ]; then
    # single-threaded unless told otherwise: on a shared CPU machine torch's
    # intra-op threads wait on each other's descheduled cores (the AMP
    # check ran 30x slower with 2 threads on 2 loaded cores)
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
fi

# site folder for the carried wheels, ahead of the checkout
export PYTHONPATH=$SITE:$ROOT${PYTHONPATH:+:$PYTHONPATH}

# ---------------------------------------------------------------- steps
step_environment() {
    if command -v nvidia-smi >/dev/null 2>&1; then
        nvidia-smi
        nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,clocks.mem,power.limit,temperature.gpu --format=csv
    else
        echo "nvidia-smi: not found"
    fi
    if command -v nvcc >/dev/null 2>&1; then
        nvcc --version | tail -n 2
    elif [ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]; then
        "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" --version | tail -n 2
    else
        echo "nvcc: not found"
    fi
    echo "gcc: $(gcc --version 2>/dev/null | head -n 1)"
    echo "PYTHONPATH=$PYTHONPATH"
    "$PY" tools/gpu_check.py versions
}

step_wheels() {
    if [ ! -d "$WHEELS" ]; then
        echo "no wheels folder $WHEELS (make it with bash tools/gpu_wheels.sh," \
            "carry it with the run); using what is installed"
    else
        local list
        list=$("$PY" tools/gpu_check.py wheels "$WHEELS" \
            ${GPU_CHECK_REINSTALL:+--all}) || return 1
        if [ -n "$list" ]; then
            mkdir -p "$SITE"
            echo "installing into $SITE:"
            echo "$list"
            # shellcheck disable=SC2086
            "$PY" -m pip install -q --no-index --no-deps --no-compile \
                --no-cache-dir --disable-pip-version-check --upgrade \
                --target "$SITE" $list || return 1
        else
            echo "every wheel of $WHEELS already imports: nothing to install"
        fi
    fi
    "$PY" - <<'PYEOF'
import warnings

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    import mmdet_gan
for w in caught:
    if 'mmdet_gan:' in str(w.message):
        print(f'light stack: {w.message}')
import mmcv
import mmdet
import mmengine
from mmdet.registry import MODELS

from mmdet_gan.models.discriminators import BoxDiscriminator  # noqa: F401
from mmdet_gan.models.losses import GANLoss  # noqa: F401
from mmdet_gan.utils.stack import mmdet_models_import_error

for mod in (mmengine, mmcv, mmdet, mmdet_gan):
    print(f'{mod.__name__} {mod.__version__} from {mod.__file__}')
print('mmdet.models:', mmdet_models_import_error() or 'imports')
assert 'BoxDiscriminator' in MODELS.module_dict
print('mmdet_gan discriminators and losses: ok')
PYEOF
}

step_build() {
    if [ "$DEVICE" = cpu ]; then
        if [ "${GPU_CHECK_BUILD:-0}" = 1 ]; then
            echo "rehearsal: CPU build (no FORCE_CUDA)"
            "$PY" setup.py build_ext --inplace >"$WORK/build.log" 2>&1 ||
                { tail -n 80 "$WORK/build.log"; return 1; }
            tail -n 5 "$WORK/build.log"
        else
            echo "rehearsal on the CPU: the CUDA build is skipped; using the" \
                "existing build (GPU_CHECK_BUILD=1 rebuilds it for the CPU)"
        fi
        "$PY" tools/gpu_check.py ext
        return
    fi
    if [ -z "${CUDA_HOME:-}" ] && [ -x /usr/local/cuda/bin/nvcc ]; then
        export CUDA_HOME=/usr/local/cuda
    fi
    local arch nv_include
    arch=${TORCH_CUDA_ARCH_LIST:-$("$PY" -c 'import torch
print("%d.%d" % torch.cuda.get_device_capability())' 2>/dev/null || echo 9.0)}
    # ATen's CUDA headers, where the pip CUDA packages keep them
    nv_include=$("$PY" -c "import glob, os, site
d = [p for s in site.getsitepackages()
     for p in sorted(glob.glob(os.path.join(s, 'nvidia', 'cu[0-9]*', 'include')))]
print(d[0] if d else '')" 2>/dev/null)
    if [ -n "$nv_include" ]; then
        export CPATH=${nv_include}${CPATH:+:$CPATH}
    fi
    echo "CUDA_HOME=${CUDA_HOME:-unset} TORCH_CUDA_ARCH_LIST=$arch CPATH=${CPATH:-}"
    echo "+ FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=$arch MAX_JOBS=${MAX_JOBS:-16} $PY setup.py build_ext --inplace"
    FORCE_CUDA=1 TORCH_CUDA_ARCH_LIST=$arch MAX_JOBS=${MAX_JOBS:-16} \
        "$PY" setup.py build_ext --inplace >"$WORK/build.log" 2>&1
    local rc=$?
    echo "build_ext exit status $rc; $(wc -l <"$WORK/build.log") lines of log"
    grep -n -E "ops/csrc.*(warning|error)" "$WORK/build.log" | head -n 40
    tail -n 60 "$WORK/build.log"
    [ "$rc" = 0 ] || return "$rc"
    "$PY" tools/gpu_check.py ext --require-cuda
}

step_cuda_tests() {
    "$PY" -m pytest -q -rfEs -m cuda tests/test_ops
}

step_benchmark() {
    local sizes
    if [ -n "${GPU_CHECK_BENCH_ARGS:-}" ]; then
        sizes=$GPU_CHECK_BENCH_ARGS
    elif [ "$DEVICE" = cuda ]; then
        sizes="--num-rois 512 --channels 256 --repeat 10"
    else
        sizes="--num-rois 48 --channels 16 --image-size 256 384 --repeat 1 --ref-rois 4"
    fi
    local ref=()
    # torchvision on the GPU machine (no mmcv ops there); here whatever exists
    [ "$DEVICE" = cuda ] && ref=(--reference torchvision)
    # shellcheck disable=SC2086
    "$PY" tools/analysis_tools/benchmark_prroi.py --device "$DEVICE" \
        "${ref[@]}" --output-sizes 7 28 $sizes --json "$WORK/benchmark.json"
}

step_verdicts() {
    [ -f "$WORK/benchmark.json" ] || { echo "no benchmark times"; return 1; }
    local extra=()
    [ "$DEVICE" = cpu ] && extra=(--informational)
    "$PY" tools/gpu_check.py verdicts "$WORK/benchmark.json" "${extra[@]}"
    local rc=$?
    echo
    echo "benchmark.json:"
    cat "$WORK/benchmark.json"
    echo
    return $rc
}

step_amp() {
    local sizes=${GPU_CHECK_AMP_ARGS:-}
    if [ -z "$sizes" ] && [ "$DEVICE" = cpu ]; then
        sizes="--img-size 128 --num-rois 32 --channels 32"
    fi
    # shellcheck disable=SC2086
    "$PY" tools/gpu_check.py amp --device "$DEVICE" $sizes
}

step_cpu_tests() {
    "$PY" -m pytest -q -rfE -m "not cuda" tests/test_ops \
        tests/test_utils/test_benchmarking.py \
        "tests/test_packaging/test_light_stack.py::test_light_stack_loads_the_op_discriminators_and_losses"
}

export -f step_environment step_wheels step_build step_cuda_tests \
    step_benchmark step_verdicts step_amp step_cpu_tests
export ROOT

# ---------------------------------------------------------------- runner
MODE=$DEVICE
[ "$DEVICE" = cpu ] && MODE="cpu (rehearsal: no CUDA build, small benchmark, targets not enforced)"
header "$MODE" >"$WORK/header.md"
: >"$WORK/body.md"
: >"$WORK/summary.md"
FAILED=0
N=0
MAX_LINES=400

write_report() {
    {
        cat "$WORK/header.md"
        echo "## Summary"
        echo
        echo "| # | step | result | rc | wall (s) | timeout (s) |"
        echo "| ---: | --- | --- | ---: | ---: | ---: |"
        cat "$WORK/summary.md"
        echo
        if [ -n "${1:-}" ]; then echo "$1"; echo; fi
        if [ -s "$WORK/verdicts.txt" ]; then
            echo "### Verdicts and checks"
            echo
            sed 's/^/- /' "$WORK/verdicts.txt"
            echo
        fi
        cat "$WORK/body.md"
    } >"$REPORT.tmp" && mv "$REPORT.tmp" "$REPORT"
}

run_step() { # name timeout function
    local name=$1 limit=$2 fn=$3
    N=$((N + 1))
    local left=$((BUDGET - ($(date +%s) - START) - 5))
    local log=$WORK/step$N.log
    if [ "$left" -lt 15 ]; then
        say "$N. $name: skipped (out of time: ${BUDGET} s budget spent)"
        echo "| $N | $name | SKIPPED (out of time) | | | |" >>"$WORK/summary.md"
        printf '\n## %s. %s\n\nskipped: the %s s budget was spent\n' "$N" "$name" "$BUDGET" >>"$WORK/body.md"
        FAILED=1
        write_report "**running**"
        return
    fi
    [ "$left" -lt "$limit" ] && limit=$left
    say "$N. $name (timeout ${limit} s) ..."
    local t0 t1 rc wall result
    t0=$(date +%s.%N)
    timeout -k 10 "$limit" bash -c "$fn" >"$log" 2>&1
    rc=$?
    t1=$(date +%s.%N)
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
    if [ "$rc" = 0 ]; then
        result=ok
    elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        result="FAILED (timed out)"
        FAILED=1
    else
        result=FAILED
        FAILED=1
    fi
    say "$N. $name: $result (rc $rc, ${wall} s)"
    echo "| $N | $name | $result | $rc | $wall | $limit |" >>"$WORK/summary.md"
    grep -E '^(VERDICT|CHECK) ' "$log" >>"$WORK/verdicts.txt"
    local lines
    lines=$(wc -l <"$log")
    {
        printf '\n## %s. %s\n\n' "$N" "$name"
        echo "- function: \`$fn\` in tools/gpu_check.sh"
        echo "- rc: $rc ($result), wall: ${wall} s, timeout: ${limit} s"
        echo
        echo '````text'
        if [ "$lines" -gt "$MAX_LINES" ]; then
            head -n 100 "$log"
            echo "... ($((lines - MAX_LINES)) lines left out) ..."
            tail -n $((MAX_LINES - 100)) "$log"
        else
            cat "$log"
        fi
        echo '````'
    } >>"$WORK/body.md"
    write_report "**running**"
}

say "mode $MODE; report $REPORT; budget ${BUDGET} s"
run_step "environment" 60 step_environment
run_step "wheels (offline install)" 90 step_wheels
BUILD_NAME="build mmdet_gan._ext with CUDA"
[ "$DEVICE" = cpu ] && BUILD_NAME="mmdet_gan._ext (rehearsal: no CUDA build)"
run_step "$BUILD_NAME" 300 step_build
run_step "CUDA op tests (pytest -m cuda tests/test_ops)" 150 step_cuda_tests
run_step "benchmark vs RoIAlign and plain PyTorch" 150 step_benchmark
run_step "target verdicts" 30 step_verdicts
run_step "AMP check (autocast + GradScaler per player)" 120 step_amp
run_step "CPU op tests (pytest -m 'not cuda' tests/test_ops ...)" 150 step_cpu_tests

TOTAL=$(($(date +%s) - START))
if [ "$FAILED" = 0 ]; then
    VERDICT="**all steps passed** in ${TOTAL} s"
else
    VERDICT="**some steps FAILED** (see the summary) in ${TOTAL} s"
fi
write_report "$VERDICT"
say "done in ${TOTAL} s: $([ "$FAILED" = 0 ] && echo 'all steps passed' || echo 'some steps FAILED')"
say "report: $REPORT"
exit "$FAILED"
