#!/usr/bin/env bash
# The main job, end to end on the embedded demo data:
#   set up what is missing -> generate data/demo (if missing) -> train
#   CONFIG (default: GAN Mask R-CNN, ResNet-18) -> evaluate the final
#   checkpoint with the COCO bbox + segm metrics -> draw predictions next to
#   the ground truth.
# Usage: bash tools/run_demo.sh [CONFIG] [extra tools/train.py args]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONFIG=${1:-configs/gan_mask_rcnn/gan_mask_rcnn_r18_fpn_demo.py}
shift || true
NAME=$(basename "$CONFIG" .py)
WORK_DIR=${WORK_DIR:-work_dirs/$NAME}
PY=$ROOT/.venv/bin/python

bash "$ROOT/tools/setup_env.sh"
cd "$ROOT"
echo "[demo] data: data/demo"
"$PY" tools/dataset_converters/create_demo_dataset.py --out-dir data/demo
echo "[demo] training $CONFIG -> $WORK_DIR"
"$PY" tools/train.py "$CONFIG" --work-dir "$WORK_DIR" "$@"
CKPT=$(cat "$WORK_DIR/last_checkpoint")
echo "[demo] evaluating $CKPT"
"$PY" tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test"
PICTURE=$WORK_DIR/predictions_vs_gt.png
"$PY" tools/analysis_tools/compare_masks.py --model "$CONFIG" "$CKPT" "$NAME" \
    --num-images 4 --out "$PICTURE"
echo
echo "[demo] checkpoint: $CKPT"
echo "[demo] training log: $(ls -d "$WORK_DIR"/2*/ | tail -n 1)"
echo "[demo] test metrics: $(ls -d "$WORK_DIR"/test/2*/ | tail -n 1)"
echo "[demo] pictures: $PICTURE"
