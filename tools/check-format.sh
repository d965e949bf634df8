#!/usr/bin/env bash
# Fails if any C++ source differs from .clang-format's style.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(find kernels engine frontend decoder tools tests bench include \
  -type f \( -name '*.cc' -o -name '*.h' \) 2>/dev/null | sort)
((${#files[@]})) || { echo "check-format: no sources found" >&2; exit 1; }
clang-format --dry-run -Werror "${files[@]}"
echo "check-format: ${#files[@]} files formatted"
