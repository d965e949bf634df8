#!/usr/bin/env bash
# Cross-builds qasr_kernels and the kernel tests for aarch64 and runs them
# under qemu-aarch64 (-cpu max: NEON, and SVE/SVE2 where compiled).
# Needs: tools/install-deps.sh --arm (g++-aarch64-linux-gnu, qemu-user,
#        libhwy-dev:arm64, libgtest-dev:arm64). CI runs it (tools/run-tests.sh).
# usage: tools/test-arm.sh [build-dir]   (default build-arm; -j2)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-arm}
for tool in aarch64-linux-gnu-g++ qemu-aarch64; do
  command -v "$tool" >/dev/null || { echo "test-arm: $tool missing (see header)" >&2; exit 1; }
done
cmake -S kernels/cross -B "$build" -DCMAKE_TOOLCHAIN_FILE="$PWD/cmake/aarch64-linux-gnu.cmake" \
  -DCMAKE_CROSSCOMPILING_EMULATOR="qemu-aarch64;-cpu;max;-L;/usr/aarch64-linux-gnu" >/dev/null
cmake --build "$build" -j2
export QEMU_CPU=max
# qemu-user hangs dynamically linked programs that start threads: kernels are
# checked single-threaded here (see tests/kernels/test_util.h).
export QASR_TEST_NO_THREADS=1
ctest --test-dir "$build" --output-on-failure -j2
