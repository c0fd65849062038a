#!/usr/bin/env bash
# GPU check of training memory and mixed precision: under ~3 minutes.
#
# Usage (from anywhere; the repository is found from this file's location), with the
# mmseg_baclip dependencies importable (e.g. PYTHONPATH=/tmp/site:<repo> after .whl/install.sh):
#     OUT=/path/to/output_folder bash .dev_scripts/gpu_memory_check.sh
# Optional: PYTHON=python3.12 (default: python3).
#
# 1. .dev_scripts/benchmark_memory.py on CUDA: the paper config (ConvNeXt-L CLIP, random
#    weights), batch 4, 384x384, one training step per iteration, float32 / bfloat16 / float16
#    (AmpOptimWrapper), peak allocated/reserved memory and s/iter -> memory_cuda.json.
# 2. 4 training iterations of the small config with the *_amp-bf16 and *_amp-fp16 configs
#    (real AmpOptimWrapper on the GPU) through tools/train.py on a synthetic tree; the
#    checkpoint must load with torch.load(weights_only=True) and tools/test.py must evaluate
#    it -> amp_train_{bf16,fp16}.log, amp_check.json.
# Writes into $OUT: env.txt, memory_cuda.log, memory_cuda.json, amp_train_bf16.log,
# amp_train_fp16.log, amp_test_bf16.log, amp_check.json, status.txt.
set -uo pipefail
: "${OUT:?set OUT to an output folder}"
mkdir -p "$OUT"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PY="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
WORK="$(mktemp -d)"

{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    "$PY" -c "import sys, torch; print('python', sys.version.split()[0], '| torch', torch.__version__, '|', torch.cuda.get_device_name())"
    date -Iseconds
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

# 1. memory and time of the paper config
timeout 150 "$PY" .dev_scripts/benchmark_memory.py --device cuda \
    --dtypes float32 bfloat16 float16 --iters 5 --warmup 2 \
    --out "$OUT/memory_cuda.json" 2>&1 | tee "$OUT/memory_cuda.log"
rc_memory=${PIPESTATUS[0]}

# 2. real AmpOptimWrapper training of the small config (bf16 and fp16), safe reload, test
timeout 30 "$PY" -c "
from mmseg_baclip.synthetic_world import make_synthetic_ovcamo
make_synthetic_ovcamo('$WORK/data', num_train=16, num_test=4, size=(128, 128), seed=0)
" > "$WORK/make_data.log" 2>&1
SMALL=configs/baclip/baclip_convnext-tiny-random_1xb4-6e_ovcamo-synthetic-192
OPTS=(train_dataloader.dataset.data_root="$WORK/data" val_dataloader.dataset.data_root="$WORK/data"
      test_dataloader.dataset.data_root="$WORK/data" train_cfg.max_epochs=1 train_cfg.val_interval=1
      default_hooks.checkpoint.interval=1 train_dataloader.num_workers=0
      val_dataloader.num_workers=0 test_dataloader.num_workers=0)
rc_amp=0
for dt in bf16 fp16; do
    timeout 60 "$PY" tools/train.py "${SMALL}_amp-${dt}.py" --work-dir "$WORK/$dt" \
        --cfg-options "${OPTS[@]}" > "$OUT/amp_train_${dt}.log" 2>&1 || rc_amp=1
    tail -n 3 "$OUT/amp_train_${dt}.log"
done
timeout 40 "$PY" tools/test.py "${SMALL}_amp-bf16.py" "$WORK/bf16/epoch_1.pth" \
    --work-dir "$WORK/bf16_test" --cfg-options "${OPTS[@]}" > "$OUT/amp_test_bf16.log" 2>&1 \
    || rc_amp=1
"$PY" - "$WORK" "$OUT/amp_check.json" <<'EOF' || rc_amp=1
import json, math, re, sys, torch
work, out = sys.argv[1], sys.argv[2]
report = {}
for dt in ('bf16', 'fp16'):
    entry = {}
    try:
        ckpt = torch.load(f'{work}/{dt}/epoch_1.pth', map_location='cpu', weights_only=True)
        state = ckpt['state_dict']
        entry['weights_only_load'] = True
        entry['finite_weights'] = all(bool(torch.isfinite(v).all()) for v in state.values()
                                      if v.is_floating_point())
        entry['loss_scaler'] = {k: v for k, v in ckpt['optimizer'].get('loss_scaler', {}).items()
                                if isinstance(v, (int, float))}
    except Exception as e:  # noqa: BLE001  (report, do not stop)
        entry['error'] = repr(e)
    log = open(f'{out.rsplit("/", 1)[0]}/amp_train_{dt}.log').read()
    entry['losses'] = [float(x) for x in re.findall(r'\bloss: ([-+0-9.eEnaif]+)', log)]
    entry['finite_losses'] = bool(entry['losses']) and all(math.isfinite(x) for x in entry['losses'])
    report[dt] = entry
test_log = open(f'{out.rsplit("/", 1)[0]}/amp_test_bf16.log').read()
report['bf16_test_has_metrics'] = 'cIoU' in test_log
json.dump(report, open(out, 'w'), indent=1)
print(json.dumps(report, indent=1))
ok = all(report[d].get('finite_weights') and report[d].get('finite_losses') for d in ('bf16', 'fp16'))
sys.exit(0 if ok and report['bf16_test_has_metrics'] else 1)
EOF

echo "memory benchmark rc=$rc_memory  amp training rc=$rc_amp" | tee "$OUT/status.txt"
rm -rf "$WORK"
[ "$rc_memory" -eq 0 ] && [ "$rc_amp" -eq 0 ]
