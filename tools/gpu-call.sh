#!/usr/bin/env bash
# One device call of the accelerator recipe (docs/MODEL_CARD.md, "Accelerator sessions"):
# unpack this call's staged part into STASH (tools/gpu-stage.sh) and, when it was the last
# one, train with tools/gpu-train.sh on STASH (the pack files and spm500.model, flat) and
# put the results in $OUT through tools/gpu-return.sh: a log archive first, then the
# engine files (.qasr) — what a device call can bring back. Whatever did not fit stays in
# STASH/out/export; fetch it with a second call at once (`tools/gpu-return.sh "$OUT" FILE...`):
# the machine is released ~30 s after a call ends, and the stash with it.
#
#   QASR_TEACHER=/root/stash/C16.npz tools/gpu-call.sh runs/stage/call3 [SECONDS] [STASH]
#
# Environment: what tools/gpu-train.sh reads (QASR_TEACHER, QASR_W2_INIT, QASR_INIT, ...).
set -uo pipefail
FOLDER=${1:?call folder}
SECONDS_TOTAL=${2:-520}
STASH=${3:-/root/stash}
OUT=${OUT:?the device call sets OUT}
HERE=$(cd "$(dirname "$0")" && pwd)
msg=$("$HERE/gpu-stage.sh" --unpack "$FOLDER" "$STASH") || exit 1
echo "$msg"
[[ "$msg" == *unpacked* ]] || exit 0 # not the last part yet
ls -l "$STASH"
nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null
# a hard stop shortly after the planned end, so the call returns whatever was exported
timeout $((SECONDS_TOTAL + 40)) "$HERE/gpu-train.sh" "$STASH" "$STASH/out" "$SECONDS_TOTAL" "${PYTHON:-python3}" >"$STASH/out.log" 2>&1
echo "gpu-call: gpu-train exit $?"
tail -n 30 "$STASH/out.log"
for f in "$STASH"/out/*.log; do grep -H -E "qat (init|final|stage)|final step|best" "$f" | tail -n 4; done
(cd "$STASH" && tar -czf "$STASH/logs.tar.gz" out.log out/*.log out/*/log.jsonl out/*/summary.json 2>/dev/null)
E=$STASH/out/export
"$HERE/gpu-return.sh" "$OUT" "$STASH/logs.tar.gz" "$E/fp32.qasr" "$E/qat-w2mix-direct.qasr" "$E/qat-w4g64.qasr" \
  "$E/qat-w2mix-gptq.qasr" "$E/qat-w3g64.qasr"
