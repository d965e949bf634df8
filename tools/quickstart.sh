#!/usr/bin/env bash
# Installs what qasr needs, builds it, and runs the main job on the bundled
# default. Until the bundled model lands this is the kernel self-check.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target asr-cli
build/tools/asr-cli/asr-cli --version
build/tools/asr-cli/asr-cli selfcheck
