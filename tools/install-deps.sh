#!/usr/bin/env bash
# Installs every Debian 12 package qasr needs: the C++ build, tests, benchmarks,
# fuzzers, the Python toolkit and the speech-corpus tools.
# Idempotent: when everything is already installed it only checks and exits.
# Works as root or through sudo.
#   --arm  also the aarch64 cross toolchain, qemu-user and the arm64 libraries
#          the kernels' cross-build needs (tools/test-arm.sh; CI runs it).
set -euo pipefail

arm=0
for arg in "$@"; do
  case "$arg" in
    --arm) arm=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "install-deps: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

packages=(
  # toolchain
  build-essential cmake pkg-config git clang clang-format libclang-rt-14-dev ccache
  # C++ libraries
  libdnnl-dev ocl-icd-opencl-dev
  libxnnpack-dev libpthreadpool-dev libcpuinfo-dev
  libhwy-dev
  libsentencepiece-dev sentencepiece
  libbenchmark-dev libgtest-dev libgmock-dev
  libsndfile1-dev libsoxr-dev libfftw3-dev libisal-dev zlib1g-dev
  libcli11-dev nlohmann-json3-dev
  # Python toolkit (Debian's interpreter: /usr/bin/python3)
  python3 python3-torch python3-torchaudio python3-sentencepiece python3-pytest
  python3-numpy python3-matplotlib python3-pil
  # torch calls the system BLAS: OpenBLAS is 6-7x faster than the reference one
  libopenblas0-pthread
  # speech synthesis and audio tools for the corpus and the test fixtures
  espeak-ng flite festival festlex-cmu festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts sox
  # English text for the corpus
  fortunes fortunes-min bible-kjv bible-kjv-text
)

if ((arm)); then
  packages+=(g++-aarch64-linux-gnu qemu-user libhwy-dev:arm64 libgtest-dev:arm64)
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [[ "$status" == ii* ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
  sudo_cmd=()
elif command -v sudo >/dev/null 2>&1; then
  sudo_cmd=(sudo)
else
  echo "install-deps: need root or sudo to install: ${missing[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ((arm)) && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  "${sudo_cmd[@]}" dpkg --add-architecture arm64
fi
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
