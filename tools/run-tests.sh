#!/usr/bin/env bash
# Installs what qasr needs, builds it, and runs every test: the C++ suite
# (ctest), the Python toolkit's tests (pytest), and, under CI=true or with
# --sanitize, the same C++ suite again under AddressSanitizer + UBSan, the
# multithreaded tests under ThreadSanitizer, a bounded libFuzzer run of every parser of untrusted input (audio, model files)
# and the kernels' tests cross-built for aarch64 and run under qemu-user.
set -euo pipefail
cd "$(dirname "$0")/.."

sanitize=0
[[ "${CI:-}" == "true" ]] && sanitize=1
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    --no-sanitize) sanitize=0 ;;
    -h|--help) echo "usage: tools/run-tests.sh [--sanitize|--no-sanitize]"; exit 0 ;;
    *) echo "run-tests: unknown option '$arg'" >&2; exit 2 ;;
  esac
done
jobs=$(nproc)
# ccache (installed below) makes repeated runs and fresh clones cheap; paths are
# hashed relative to the checkout so a new clone reuses the cache.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1

if ((sanitize)); then tools/install-deps.sh --arm; else tools/install-deps.sh; fi

echo "== C++: release build and ctest"
# CMake (>= 3.17) reads the launcher from the environment: every build below
# (release, sanitizers, fuzzers, aarch64) goes through ccache.
if command -v ccache >/dev/null 2>&1; then
  export CMAKE_C_COMPILER_LAUNCHER=ccache CMAKE_CXX_COMPILER_LAUNCHER=ccache
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$jobs"
ctest --test-dir build -j"$jobs" --output-on-failure

echo "== Python: pytest (Debian's interpreter)"
# pytest exits 5 when it collects nothing: that is a failure here too.
PYTHONPATH=tools /usr/bin/python3 -m pytest -q -p no:cacheprovider tools/tests

if ((sanitize)); then
  echo "== C++: ASan+UBSan build and ctest"
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQASR_SANITIZE=address \
        -DQASR_BUILD_BENCH=OFF >/dev/null
  cmake --build build-asan -j"$jobs"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan -j"$jobs" --output-on-failure -LE no_sanitizer
  echo "== C++: ThreadSanitizer on the multithreaded code (thread pool, GEMMs, parallel ops)"
  tsan_tests=(kernels/kernels_thread_pool_test kernels/kernels_dense_gemm_test
              engine/engine_lazy_panels_test engine/engine_attention_test
              engine/engine_vggtransformer_test)
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQASR_SANITIZE=thread \
        -DQASR_BUILD_BENCH=OFF >/dev/null
  cmake --build build-tsan -j"$jobs" --target "${tsan_tests[@]##*/}"
  for t in "${tsan_tests[@]}"; do
    # The engine fixture was written by the release ctest run above.
    TSAN_OPTIONS=halt_on_error=1 QASR_ENGINE_FIXTURE="$PWD/build/tests/engine/engine_fixture" \
      "build-tsan/tests/$t" --gtest_brief=1
  done
  echo "== Fuzzing: libFuzzer + ASan + UBSan, ${QASR_FUZZ_SECONDS:-60} s per target"
  JOBS="$jobs" tools/run-fuzzers.sh "${QASR_FUZZ_SECONDS:-60}"
  echo "== aarch64: kernels and their tests cross-built, run under qemu-user (NEON, scalar)"
  tools/test-arm.sh
fi
