#!/usr/bin/env bash
# The accelerator training recipe: FP32 candidates side by side, then QAT of the best.
#
#   tools/gpu-train.sh PACK_DIR OUT_DIR [TOTAL_SECONDS] [PYTHON]
#
# PACK_DIR holds train.{bin,json}, dev.{bin,json} and spm500.model (qasr.featpack packs;
# see docs/MODEL_CARD.md). Everything fits in TOTAL_SECONDS (default 500) of wall time:
#   1. FP32_SHARE % (default 60): two FP32 candidates on one GPU (lr 2e-3 at 60k frames per
#      batch; lr 3e-3 at 100k frames), both starting from QASR_INIT when it is set (an .npz
#      from an earlier run: continuing is how a run spans several short device sessions).
#      With QASR_TEACHER (an fp32 .npz) there is no FP32 phase: it is the QAT teacher.
#   2. the rest: QAT of the teacher, runs side by side, each distilled from it:
#      the W2A8 target recipe (w2g128_mix, <= 2.5 bits/weight) from MSE-clipped step sizes
#      (Q2d) and, when QASR_W2_INIT names a qat-mode .npz (`qasr.quant ptq --method gptq
#      --qat-npz`), from that start point (Q2g, step sizes at W2_INIT_QPARAM_LR); uniform w4g64 (Q4) and w3g64 (Q3) for
#      SHORT_SHARE % (default 50) of the QAT time, so the 2-bit runs get the device to
#      themselves afterwards.
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
# QASR_COMMON_ARGS / QASR_FP32_ARGS / QASR_QAT_ARGS: extra flags (e.g. a tiny config on CPU).
# shellcheck disable=SC2206
common=(--pack "$PACK/train" --dev-pack "$PACK/dev" --spm "$PACK/spm500.model" --bf16 --workers 4 --threads 2 ${QASR_COMMON_ARGS:-})
if [ -n "${QASR_TEACHER:-}" ]; then
  BEST_NPZ=$QASR_TEACHER
  echo "gpu-train: total ${TOTAL}s, QAT only, teacher $BEST_NPZ"
else
  FP32=$((TOTAL * ${FP32_SHARE:-60} / 100))
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
  BEST_NPZ=$BEST/last.npz
  echo "gpu-train: best fp32 run $BEST at $(elapsed)s"
fi
LEFT=$((TOTAL - $(elapsed) - ${EXPORT_SECONDS:-20}))
if [ "$LEFT" -gt "${MIN_QAT_SECONDS:-60}" ]; then
  SHORT=$((LEFT * ${SHORT_SHARE:-50} / 100))
  # shellcheck disable=SC2206
  q=(--teacher "$BEST_NPZ" --warmup 100 --reserve 25 --save-fp16 --alpha 0.9 ${QASR_QAT_ARGS:-})
  w2=(--recipe w2g128_mix --stages 2 --lr 3e-4 --qparam-lr 3e-3 --time-budget "$LEFT" --max-frames "${W2_FRAMES:-100000}")
  $PY -m qasr.train_gpu qat "${common[@]}" "${q[@]}" "${w2[@]}" --out "$OUT/Q2d" >"$OUT/Q2d.log" 2>&1 &
  if [ -n "${QASR_W2_INIT:-}" ]; then
    # a start point that is already a good quantizer needs slower step sizes: Adam moves each
    # one by ~lr per step whatever its size (a few % of a 2-bit step at 3e-3), which undid
    # GPTQ's error compensation within 40 steps in session 8 (docs/QUANTIZATION.md §5.7)
    $PY -m qasr.train_gpu qat "${common[@]}" "${q[@]}" "${w2[@]}" --qparam-lr "${W2_INIT_QPARAM_LR:-3e-4}" \
      --student-init "$QASR_W2_INIT" --out "$OUT/Q2g" >"$OUT/Q2g.log" 2>&1 &
  fi
  $PY -m qasr.train_gpu qat "${common[@]}" "${q[@]}" --recipe w4g64 --stages 4 --time-budget "$SHORT" \
    --lr 1e-4 --qparam-lr 1e-3 --out "$OUT/Q4" >"$OUT/Q4.log" 2>&1 &
  $PY -m qasr.train_gpu qat "${common[@]}" "${q[@]}" --recipe w3g64 --stages 3 --time-budget "$SHORT" \
    --lr 2e-4 --qparam-lr 2e-3 --out "$OUT/Q3" >"$OUT/Q3.log" 2>&1 &
  wait
  tail -n 2 "$OUT"/Q*.log
fi
# Engine files of every finished run (a few MB each for QAT students): what a device call
# returns (tools/gpu-return.sh), since training state is several times larger.
mkdir -p "$OUT/export"
[ -z "${QASR_TEACHER:-}" ] && [ -f "${BEST_NPZ:-}" ] &&
  $PY -m qasr.train_gpu export "$BEST_NPZ" --spm "$PACK/spm500.model" --out "$OUT/export/fp32.qasr" &
for r in Q2d:w2mix-direct Q2g:w2mix-gptq Q4:w4g64 Q3:w3g64; do
  npz="$OUT/${r%%:*}/qat.npz"
  [ -f "$npz" ] && $PY -m qasr.train_gpu export "$npz" --spm "$PACK/spm500.model" --out "$OUT/export/qat-${r#*:}.qasr" &
done
wait
ls -l "$OUT/export"
echo "gpu-train: done at $(elapsed)s"
