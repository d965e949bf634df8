#!/usr/bin/env bash
# The accelerator training recipe: FP32 candidates side by side, then QAT of the best.
#
#   tools/gpu-train.sh PACK_DIR OUT_DIR [TOTAL_SECONDS] [PYTHON]
#
# PACK_DIR holds train.{bin,json}, dev.{bin,json} and spm500.model (qasr.featpack packs;
# see docs/MODEL_CARD.md). Everything fits in TOTAL_SECONDS (default 500) of wall time:
#   1. FP32_SHARE % (default 60): two FP32 candidates on one GPU (lr 2e-3 at 60k frames per
#      batch; lr 3e-3 at 100k frames), both starting from QASR_INIT when it is set (an .npz
#      from an earlier run: continuing is how a run spans several short device sessions);
#   2. the rest: QAT of the better candidate, four runs side by side — the W2A8 target recipe
#      (w2g128_mix, <= 2.5 bits/weight) progressively (w4 -> w2) and directly, and uniform
#      w4g64 and w3g64 — each distilled from the FP32 teacher.
# Everything lands in OUT_DIR: per-run logs, summaries, npz weights.
set -uo pipefail
PACK=${1:?pack dir}
OUT=${2:?out dir}
TOTAL=${3:-500}
PY=${4:-python3}
HERE=$(cd "$(dirname "$0")" && pwd)
export PYTHONPATH="$HERE${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
T0=$(date +%s)
elapsed() { echo $(($(date +%s) - T0)); }
mkdir -p "$OUT"
FP32=$((TOTAL * ${FP32_SHARE:-60} / 100))
# QASR_COMMON_ARGS / QASR_FP32_ARGS: extra flags (tests use a tiny config on CPU).
# shellcheck disable=SC2206
common=(--pack "$PACK/train" --dev-pack "$PACK/dev" --spm "$PACK/spm500.model" --bf16 --workers 4 --threads 2 ${QASR_COMMON_ARGS:-})
# shellcheck disable=SC2206
fp32=(${QASR_FP32_ARGS:-})
[ -n "${QASR_INIT:-}" ] && fp32+=(--init "$QASR_INIT")
echo "gpu-train: total ${TOTAL}s, fp32 phase ${FP32}s, init ${QASR_INIT:-none}"
$PY -m qasr.train_gpu fp32 "${common[@]}" "${fp32[@]}" --out "$OUT/A" --time-budget "$FP32" --lr 2e-3 --warmup 300 --ctc-weight 0.3 >"$OUT/A.log" 2>&1 &
$PY -m qasr.train_gpu fp32 "${common[@]}" "${fp32[@]}" --out "$OUT/B" --time-budget "$FP32" --lr 3e-3 --warmup 300 --ctc-weight 0.3 --max-frames 100000 >"$OUT/B.log" 2>&1 &
wait
tail -n 2 "$OUT"/A.log "$OUT"/B.log
BEST=$($PY -m qasr.train_gpu select "$OUT/A" "$OUT/B") || {
  echo "gpu-train: no fp32 run finished"
  exit 1
}
echo "gpu-train: best fp32 run $BEST at $(elapsed)s"
LEFT=$((TOTAL - $(elapsed) - 5))
if [ "$LEFT" -gt 60 ]; then
  q=(--teacher "$BEST/last.npz" --warmup 100 --time-budget "$LEFT" --reserve 25 --save-fp16)
  $PY -m qasr.train_gpu qat "${common[@]}" "${q[@]}" --recipe w2g128_mix --stages 4,2 --stage-split 0.25,0.75 \
    --lr 2e-4 --qparam-lr 2e-3 --alpha 0.9 --out "$OUT/Q2p" >"$OUT/Q2p.log" 2>&1 &
  $PY -m qasr.train_gpu qat "${common[@]}" "${q[@]}" --recipe w2g128_mix --stages 2 \
    --lr 3e-4 --qparam-lr 3e-3 --alpha 0.9 --out "$OUT/Q2d" >"$OUT/Q2d.log" 2>&1 &
  $PY -m qasr.train_gpu qat "${common[@]}" "${q[@]}" --recipe w4g64 --stages 4 \
    --lr 1e-4 --qparam-lr 1e-3 --alpha 0.9 --out "$OUT/Q4" >"$OUT/Q4.log" 2>&1 &
  $PY -m qasr.train_gpu qat "${common[@]}" "${q[@]}" --recipe w3g64 --stages 3 \
    --lr 2e-4 --qparam-lr 2e-3 --alpha 0.9 --out "$OUT/Q3" >"$OUT/Q3.log" 2>&1 &
  wait
  tail -n 2 "$OUT"/Q*.log
fi
echo "gpu-train: done at $(elapsed)s"
