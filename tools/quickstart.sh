#!/usr/bin/env bash
# Installs what qasr needs, builds it, and runs the main job on the bundled
# default: the CPU/kernel self-check, then `asr-cli transcribe` of the bundled
# samples with the bundled default model (models/small-w8.qasr: 8-bit weights
# and activations, from models/small-fp32.qasr), each shown next to its
# reference transcript. (The bundled model is undertrained: see
# docs/MODEL_CARD.md.) Without a model file it shows the frontend's features
# of the samples instead.
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
if [[ -f models/small-w8.qasr ]]; then
  "$cli" transcribe models/samples/*.wav --model models/small-w8.qasr -q > "$out/hyp.tsv"
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
