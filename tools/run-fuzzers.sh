#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan + fuzzer
# instrumentation) and runs each for a bounded time.
# usage: tools/run-fuzzers.sh [SECONDS per fuzzer, default 60]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
jobs=${JOBS:-$(nproc)}
build=build-fuzz

CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DQASR_SANITIZE=address -DQASR_BUILD_FUZZERS=ON -DQASR_BUILD_TESTS=OFF \
  -DQASR_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$jobs" --target frontend_fuzzer model_loader_fuzz

# Seed corpus: small valid files of several formats, made on the fly.
corpus="$build/corpus/frontend"
mkdir -p "$corpus"
if command -v sox >/dev/null 2>&1; then
  for spec in "wav -b 16" "wav -b 24" "wav -e floating-point -b 32" "flac" "ogg" "aiff" "au"; do
    set -- $spec
    ext=$1; shift
    sox -n -r 16000 -c 2 "$@" "$corpus/seed_${ext}_${#spec}.$ext" synth 0.05 sine 440 2>/dev/null || true
  done
fi
printf 'RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00\x00\x7d\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00' \
  >"$corpus/seed_empty.wav"

echo "run-fuzzers: frontend_fuzzer for ${seconds}s"
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
  LSAN_OPTIONS=suppressions=tests/fuzz/frontend_lsan.supp \
  "$build/tests/fuzz/frontend_fuzzer" -max_total_time="$seconds" -max_len=65536 \
  -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$build/" "$corpus"

# Model loader: seeds are the small valid .qasr files the Python exporter
# writes for the C++ tests (min.qasr has every dtype; the others are models).
corpus="$build/corpus/model_loader"
mkdir -p "$corpus"
PYTHONPATH=tools /usr/bin/python3 -m qasr.export testdata --out "$build/model_testdata" >/dev/null
cp "$build"/model_testdata/*.qasr "$corpus/"

echo "run-fuzzers: model_loader_fuzz for ${seconds}s"
ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
  "$build/tests/fuzz/model_loader_fuzz" -max_total_time="$seconds" -max_len=65536 \
  -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=512 -print_final_stats=1 \
  -artifact_prefix="$build/" "$corpus"
echo "run-fuzzers: no crashes"
