#!/usr/bin/env bash
# The README's first command: set everything up, then run the whole pipeline on the embedded
# synthetic OVCamo: generate it, evaluate the untrained small BaCLIP, train it for a few minutes
# on CPU, test it, and print the class-aware metrics and where predictions and pictures went.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
PY=.venv/bin/python
CONFIG=configs/baclip/baclip_convnext-tiny-random_1xb4-6e_ovcamo-synthetic-192.py
DATA=data/ovcamo_synthetic
WORK=${WORK_DIR:-work_dirs/demo}

if [ ! -f "$DATA/jsonfile/sample_info.json" ]; then
  $PY tools/dataset_converters/make_synthetic_ovcamo.py --out "$DATA" --num-train 200 --num-test 61 --seed 0
fi
$PY tools/dataset_converters/check_ovcamo.py "$DATA" --allow-size-mismatch | tail -n 3

echo "[demo] 1/3 evaluating the UNTRAINED model (for comparison)"
$PY tools/test.py "$CONFIG" none --work-dir "$WORK/untrained" > "$WORK.untrained.log" 2>&1 || {
  tail -n 30 "$WORK.untrained.log"; exit 1; }

echo "[demo] 2/3 training (log: $WORK/<timestamp>/<timestamp>.log)"
$PY tools/train.py "$CONFIG" --work-dir "$WORK" > "$WORK.train.log" 2>&1 || {
  tail -n 30 "$WORK.train.log"; exit 1; }
CKPT=$(ls -t "$WORK"/epoch_*.pth | head -n 1)

echo "[demo] 3/3 testing $CKPT"
$PY tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK/test" --out "$WORK/predictions" \
  --show-dir "$WORK/pictures" > "$WORK.test.log" 2>&1 || { tail -n 30 "$WORK.test.log"; exit 1; }

$PY tools/analysis/summarize_demo.py --untrained "$WORK/untrained" --trained "$WORK/test" \
  --predictions "$WORK/predictions" --pictures "$WORK/pictures"
