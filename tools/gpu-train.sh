#!/usr/bin/env bash
# The accelerator training recipe: FP32 candidates in parallel, then W2A8 QAT of the best.
#
#   tools/gpu-train.sh PACK_DIR OUT_DIR [TOTAL_SECONDS] [PYTHON]
#
# PACK_DIR holds train.{bin,json}, dev.{bin,json} and spm500.model (qasr.featpack packs;
# see docs/MODEL_CARD.md). Runs fit in TOTAL_SECONDS (default 560) of wall time: 58 % for
# three FP32 candidates trained side by side on one GPU (learning rate / CTC weight
# variants), then W2A8 QAT (stages w4 -> w2, distilled from the best FP32 candidate) in two
# variants side by side. Everything lands in OUT_DIR: per-run logs, summaries, npz weights.
set -uo pipefail
PACK=${1:?pack dir}
OUT=${2:?out dir}
TOTAL=${3:-560}
PY=${4:-python3}
HERE=$(cd "$(dirname "$0")" && pwd)
export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
T0=$(date +%s)
elapsed() { echo $(( $(date +%s) - T0 )); }
mkdir -p "$OUT"
FP32=$(( TOTAL * 58 / 100 ))
# QASR_COMMON_ARGS / QASR_FP32_ARGS: extra flags (tests use a tiny config on CPU).
# shellcheck disable=SC2206
common=(--pack "$PACK/train" --dev-pack "$PACK/dev" --spm "$PACK/spm500.model" --bf16 --workers 5 ${QASR_COMMON_ARGS:-})
# shellcheck disable=SC2206
fp32=(${QASR_FP32_ARGS:-})
echo "gpu-train: total ${TOTAL}s, fp32 phase ${FP32}s"
$PY -m qasr.train_gpu fp32 "${common[@]}" "${fp32[@]}" --out "$OUT/A" --time-budget "$FP32" --lr 1e-3 --warmup 800 --ctc-weight 0.3 >"$OUT/A.log" 2>&1 &
$PY -m qasr.train_gpu fp32 "${common[@]}" "${fp32[@]}" --out "$OUT/B" --time-budget "$FP32" --lr 2e-3 --warmup 1500 --ctc-weight 0.3 >"$OUT/B.log" 2>&1 &
$PY -m qasr.train_gpu fp32 "${common[@]}" "${fp32[@]}" --out "$OUT/C" --time-budget "$FP32" --lr 1e-3 --warmup 800 --ctc-weight 0.5 --max-frames 30000 >"$OUT/C.log" 2>&1 &
wait
tail -n 3 "$OUT"/A.log "$OUT"/B.log "$OUT"/C.log
BEST=$($PY -m qasr.train_gpu select "$OUT/A" "$OUT/B" "$OUT/C") || { echo "gpu-train: no fp32 run finished"; exit 1; }
echo "gpu-train: best fp32 run $BEST at $(elapsed)s"
LEFT=$(( TOTAL - $(elapsed) - 5 ))
if [ "$LEFT" -gt 60 ]; then
  $PY -m qasr.train_gpu qat "${common[@]}" --teacher "$BEST/last.npz" --recipe w2g32 --stages 4,2 --stage-split 0.3,0.7 \
    --lr 1e-4 --qparam-lr 1e-3 --alpha 0.7 --warmup 200 --time-budget "$LEFT" --reserve 25 --save-fp16 --out "$OUT/Q1" >"$OUT/Q1.log" 2>&1 &
  $PY -m qasr.train_gpu qat "${common[@]}" --teacher "$BEST/last.npz" --recipe w2g32 --stages 2 \
    --lr 2e-4 --qparam-lr 2e-3 --alpha 0.9 --warmup 200 --time-budget "$LEFT" --reserve 25 --save-fp16 --out "$OUT/Q2" >"$OUT/Q2.log" 2>&1 &
  wait
  tail -n 3 "$OUT"/Q1.log "$OUT"/Q2.log
fi
echo "gpu-train: done at $(elapsed)s"
