#!/usr/bin/env bash
# The README's first command: set everything up, then run the main job on the synthetic
# open-vocabulary world: build it when missing (an OVCamo-layout tree whose 75 classes each have
# their own look, a tiny CLIP and a tiny SAM pretrained here on pictures of all 75), evaluate the
# untrained small BaCLIP, train it on the 14 training classes, test it on the 61 unseen ones,
# and print the zero-shot accuracy and the class-aware metrics, untrained vs trained, and the
# time of each phase.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
phase_start=$start
phase() {  # phase NAME: print how long the phase that just ended took
  local now; now=$(date +%s)
  echo "[demo] time: $1 $(( now - phase_start )) s"
  phase_start=$now
}
bash tools/setup_env.sh
phase setup
PY=.venv/bin/python
CONFIG=configs/baclip/baclip_convnext-tiny-synclip_1xb4-8e_ovcamo-synthetic-ov-192.py
WORLD=data/synthetic_ov_world
WORK=${WORK_DIR:-work_dirs/demo}
mkdir -p "$WORK"

$PY tools/dataset_converters/make_synthetic_ov_world.py --out "$WORLD"
$PY tools/dataset_converters/check_ovcamo.py "$WORLD/ovcamo" --allow-size-mismatch | tail -n 3
phase world

run() {  # run LOG CMD...: quiet on success, the log's tail on failure
  local log=$1; shift
  "$@" > "$log" 2>&1 || { tail -n 40 "$log"; echo "[demo] FAILED: $* (log: $log)"; exit 1; }
}
echo "[demo] 1/3 evaluating the UNTRAINED model (for comparison; log: $WORK/untrained.log)"
run "$WORK/untrained.log" $PY tools/test.py "$CONFIG" none --work-dir "$WORK/untrained"
phase untrained-test

echo "[demo] 2/3 training on the 14 training classes (log: $WORK/train.log)"
run "$WORK/train.log" $PY tools/train.py "$CONFIG" --work-dir "$WORK"
CKPT=$(ls -t "$WORK"/epoch_*.pth | head -n 1)
phase train

echo "[demo] 3/3 testing $CKPT on the 61 unseen test classes (log: $WORK/test.log)"
run "$WORK/test.log" $PY tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK/test" \
  --out "$WORK/predictions" --show-dir "$WORK/pictures"
$PY tools/analysis/make_gallery.py --pred "$WORK/predictions" --data-root "$WORLD/ovcamo" \
  --out "$WORK/gallery.jpg" > "$WORK/gallery.log" 2>&1 || { cat "$WORK/gallery.log"; exit 1; }
phase test

$PY tools/analysis/summarize_demo.py --untrained "$WORK/untrained" --trained "$WORK/test" \
  --world "$WORLD" --predictions "$WORK/predictions" --pictures "$WORK/pictures" \
  --gallery "$WORK/gallery.jpg"
echo "[demo] done in $(( $(date +%s) - start )) s"
