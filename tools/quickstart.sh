#!/usr/bin/env bash
# Installs what qasr needs, builds it, and runs the main job on the bundled
# default: the CPU/kernel self-check, then transcription of the bundled
# samples with the bundled model. Until the C++ engine lands (issue 7/8),
# transcription runs through the PyTorch reference path of tools/qasr.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target asr-cli
build/tools/asr-cli/asr-cli --version
build/tools/asr-cli/asr-cli selfcheck
echo "== transcribing models/samples/*.wav with models/small-fp32.pt (beam 5)"
PYTHONPATH=tools /usr/bin/python3 -m qasr transcribe --model small --beam 5 --threads "$(nproc)" \
  --with-names models/samples/*.wav
echo "== reference transcripts"
cat models/samples/transcripts.tsv
