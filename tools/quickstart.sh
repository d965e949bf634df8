#!/usr/bin/env bash
# Installs what qasr needs, builds it, and runs the main job on the bundled
# default. The trained model has not landed yet (see docs/MODEL_CARD.md), so
# the main job is currently: the CPU/kernel self-check, then the frontend on
# the bundled samples (features of each recording, as the model will see them).
# When models/ holds the trained model (and the build has the engine runtime)
# the main job is `asr-cli transcribe` of the samples, shown next to their
# reference transcripts.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target asr-cli
cli=build/tools/asr-cli/asr-cli
"$cli" --version
"$cli" selfcheck
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
if [[ -f models/small-fp32.qasr ]] &&
  "$cli" transcribe models/samples/*.wav --model models/small-fp32.qasr -q > "$out/hyp.tsv"; then
  while IFS=$'\t' read -r path hyp; do
    ref=$(grep -F "$(basename "$path")" models/samples/transcripts.tsv | cut -f2)
    printf '%s\n  hyp: %s\n  ref: %s\n' "$(basename "$path")" "$hyp" "$ref"
  done < "$out/hyp.tsv"
  exit 0
fi
for wav in models/samples/*.wav; do
  name=$(basename "$wav" .wav)
  "$cli" features "$wav" -o "$out/$name.npy"
  /usr/bin/python3 -c "import numpy as n, sys; a = n.load(sys.argv[1]); \
print(f'{sys.argv[2]}: {a.shape[0]} frames x {a.shape[1]} log-mel bins, mean {a.mean():+.3f} std {a.std():.3f}')" \
    "$out/$name.npy" "$name"
done
