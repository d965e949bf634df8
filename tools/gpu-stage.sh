#!/usr/bin/env bash
# Stages files for a device machine, whose calls carry at most 64 MiB each (the tracked
# tree included): the files go into one tar stream, cut into parts of PART_BYTES (default
# 58,000,000), one part per call folder DIR/call1, DIR/call2, ... . Each device call names
# its folder in `carry` and runs `tools/gpu-stage.sh --unpack FOLDER STASH`, which copies
# the part into STASH and, once every part is there, unpacks them (flat: file names only).
#
#   tools/gpu-stage.sh DIR FILE...            (here)
#   tools/gpu-stage.sh --unpack FOLDER STASH  (there, in every call, in order)
set -euo pipefail
if [ "${1:-}" = "--unpack" ]; then
  src=${2:?call folder}
  stash=${3:?stash folder}
  mkdir -p "$stash"
  cp "$src"/stash.tar.part* "$stash"/
  total=$(cat "$src/parts")
  have=$(find "$stash" -maxdepth 1 -name 'stash.tar.part*' | wc -l)
  if [ "$have" -eq "$total" ]; then
    cat "$stash"/stash.tar.part* | tar -xf - -C "$stash"
    rm -f "$stash"/stash.tar.part*
    echo "gpu-stage: unpacked $total part(s) into $stash"
  else
    echo "gpu-stage: $have of $total part(s) in $stash"
  fi
  exit 0
fi
dir=${1:?stage folder}
shift
[ "$#" -gt 0 ] || { echo "gpu-stage: no files" >&2; exit 2; }
rm -rf "$dir"
mkdir -p "$dir"
args=()
for f in "$@"; do
  [ -f "$f" ] || { echo "gpu-stage: $f: missing" >&2; exit 1; }
  args+=(-C "$(cd "$(dirname "$f")" && pwd)" "$(basename "$f")")
done
tar -cf - "${args[@]}" | split -b "${PART_BYTES:-58000000}" -d - "$dir/stash.tar.part"
parts=("$dir"/stash.tar.part*)
i=0
for p in "${parts[@]}"; do
  i=$((i + 1))
  mkdir -p "$dir/call$i"
  mv "$p" "$dir/call$i/"
done
for ((j = 1; j <= i; j++)); do echo "$i" >"$dir/call$j/parts"; done
echo "gpu-stage: ${#parts[@]} call folder(s) in $dir"
