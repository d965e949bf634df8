#!/usr/bin/env bash
# Copies files into a device call's $OUT within what a call may return (at most 8 files,
# 16 MiB each, 64 MiB together): files over PART_BYTES (default 15,000,000) are split into
# NAME.part00, NAME.part01, ... (join here with `cat NAME.part* > NAME`), in the order
# given, and whatever would pass the limits is left on the device with a message — so put
# the files that matter most first and fetch the rest with a second call while the machine
# is still warm (it is released ~30 s after a call ends).
#
#   tools/gpu-return.sh DEST FILE...
set -euo pipefail
DEST=${1:?destination (\$OUT)}
shift
PART=${PART_BYTES:-15000000}
MAX_FILES=${MAX_FILES:-8}
MAX_BYTES=${MAX_BYTES:-67108864}
mkdir -p "$DEST"
files=0
bytes=0
for f in "$@"; do
  [ -f "$f" ] || { echo "gpu-return: $f: missing" >&2; continue; }
  size=$(stat -c %s "$f")
  parts=$(((size + PART - 1) / PART))
  [ "$parts" -eq 0 ] && parts=1
  if [ $((files + parts)) -gt "$MAX_FILES" ] || [ $((bytes + size)) -gt "$MAX_BYTES" ]; then
    echo "gpu-return: left on the device: $f ($size bytes, $parts files)" >&2
    continue
  fi
  name=$(basename "$f")
  if [ "$parts" -eq 1 ]; then
    cp "$f" "$DEST/$name"
  else
    split -b "$PART" -d "$f" "$DEST/$name.part"
  fi
  files=$((files + parts))
  bytes=$((bytes + size))
  echo "gpu-return: $name ($size bytes, $parts file(s))"
done
