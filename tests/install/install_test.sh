#!/bin/sh
# cmake --install into a temporary prefix, then build and run consumers
# against it with find_package(qasr) and with pkg-config.
#   install_test.sh BUILD_DIR SOURCE_DIR [MODEL AUDIO]
set -eu
build=$1 src=$2 model=${3:-} audio=${4:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" > "$tmp/install.log"
test -x "$prefix/bin/asr-cli"
"$prefix/bin/asr-cli" --version
for h in qasr.h qasr.hpp version.h; do test -f "$prefix/include/qasr/$h"; done
# Only the public headers are installed.
if find "$prefix/include" -type f | grep -v '/include/qasr/'; then
  echo "unexpected installed headers" >&2; exit 1
fi
lib=$(find "$prefix" -name 'libqasr.so' | head -n 1)
test -n "$lib"
# Internal layers are linked in but not exported.
if nm -D --defined-only "$lib" | grep -E '4qasr(7decoder|6engine|8frontend|7kernels)|hwy|sentencepiece'; then
  echo "libqasr.so exports internal symbols" >&2; exit 1
fi
cmake -S "$src/tests/install/consumer" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release > "$tmp/configure.log"
cmake --build "$tmp/build" > "$tmp/build.log"
"$tmp/build/consumer" $model $audio
"$tmp/build/consumer_c"
pc=$(dirname "$(find "$prefix" -name qasr.pc | head -n 1)")
libdir=$(dirname "$lib")
cc -o "$tmp/pc_consumer" "$src/tests/install/consumer/consumer.c" \
  $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs qasr)
LD_LIBRARY_PATH="$libdir" "$tmp/pc_consumer"
echo "install test passed"
