#!/usr/bin/env bash
# GPU check of mmseg_baclip's custom ops: CUDA parity tests, then the benchmark (fp32, bf16).
#
# Usage (from anywhere; the repository is found from this file's location):
#     OUT=/path/to/output_folder bash .dev_scripts/gpu_ops_check.sh
# Optional: PYTHON=python3.12 (default: python3).  Takes about 3-4 minutes on an H100/H200,
# most of it Triton compiling the kernels once per configuration.
#
# Writes into $OUT (7 files): env.txt, ops_cuda_tests.log, ops_cuda_tests.xml,
# benchmark_ops_cuda.log, benchmark_ops_cuda_fp32.json, benchmark_ops_cuda_bf16.json, status.txt.
# The ops need only torch (+ triton): when the full mmseg_baclip stack (mmseg, open_clip...)
# cannot be imported, mmseg_baclip.ops is imported alone through a small shim package.
set -uo pipefail
: "${OUT:?set OUT to an output folder}"
mkdir -p "$OUT"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
PY="${PYTHON:-python3}"
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
unset TRITON_INTERPRET BACLIP_OPS_BACKEND
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"

PYFLAGS=()
if ! "$PY" -c "import mmseg_baclip" >/dev/null 2>&1; then
    SHIM="$(mktemp -d)"
    mkdir -p "$SHIM/mmseg_baclip"
    echo "__path__ = ['$REPO/mmseg_baclip']  # ops-only shim: skips the package __init__" \
        > "$SHIM/mmseg_baclip/__init__.py"
    export PYTHONPATH="$SHIM:$PYTHONPATH"
    PYFLAGS=(-P)  # python >= 3.11: keep the working directory (the real package) off sys.path
    echo "note: full mmseg_baclip not importable here; using the ops-only shim" | tee "$OUT/env.txt"
fi
{
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    "$PY" -c "import sys, torch, triton; print('python', sys.version.split()[0], '| torch', torch.__version__, '| triton', triton.__version__, '|', torch.cuda.get_device_name())"
    date -Iseconds
} >> "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

timeout 240 "$PY" "${PYFLAGS[@]}" -m pytest tests/test_ops -m cuda -q -rs -p no:cacheprovider \
    --confcutdir="$REPO/tests/test_ops" -o pythonpath= \
    --junitxml="$OUT/ops_cuda_tests.xml" 2>&1 | tee "$OUT/ops_cuda_tests.log"
rc_tests=${PIPESTATUS[0]}

timeout 120 "$PY" .dev_scripts/benchmark_ops.py --dtype float32 --profile \
    --out "$OUT/benchmark_ops_cuda_fp32.json" 2>&1 | tee "$OUT/benchmark_ops_cuda.log"
rc_fp32=${PIPESTATUS[0]}
timeout 90 "$PY" .dev_scripts/benchmark_ops.py --dtype bfloat16 \
    --out "$OUT/benchmark_ops_cuda_bf16.json" 2>&1 | tee -a "$OUT/benchmark_ops_cuda.log"
rc_bf16=${PIPESTATUS[0]}

echo "tests rc=$rc_tests  benchmark fp32 rc=$rc_fp32  bf16 rc=$rc_bf16" | tee "$OUT/status.txt"
[ "$rc_tests" -eq 0 ] && [ "$rc_fp32" -eq 0 ] && [ "$rc_bf16" -eq 0 ]
