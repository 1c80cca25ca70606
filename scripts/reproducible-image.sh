#!/usr/bin/env bash
# Bit-for-bit from any path: clones one commit (default HEAD) twice, at two paths of different lengths and depths,
# runs `make image` in each, and compares the sha256 of every file in out/image/. Prints one line per file and
# exits 1 on any difference (naming the file). Uncommitted changes are not part of a clone: commit first.
#
#   scripts/reproducible-image.sh [COMMIT]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
commit=$(git -C "$repo" rev-parse "${1:-HEAD}")
work=$(mktemp -d /tmp/ppn-repro-XXXXXX)
trap 'rm -rf "$work"' EXIT
a="$work/a"
b="$work/a-much/longer/checkout-path/b"
for dir in "$a" "$b"; do
  mkdir -p "$(dirname "$dir")"
  git clone -q --no-checkout "$repo" "$dir"
  git -C "$dir" checkout -q "$commit"
  echo "reproducible-image: make image in $dir" >&2
  if ! make -C "$dir" image > "$dir.log" 2>&1; then
    tail -30 "$dir.log" >&2
    echo "reproducible-image: make image failed in $dir (log above)" >&2
    exit 2
  fi
done
differ=0
while read -r file; do
  x=$(sha256sum < "$a/out/image/$file" | cut -d' ' -f1)
  if [[ ! -f "$b/out/image/$file" ]]; then
    echo "DIFFERS: $file (only in the first checkout)"; differ=1; continue
  fi
  y=$(sha256sum < "$b/out/image/$file" | cut -d' ' -f1)
  if [[ $x == "$y" ]]; then echo "same: $x  $file"; else echo "DIFFERS: $file ($x vs $y)"; differ=1; fi
done < <(cd "$a/out/image" && find . -type f -printf '%P\n' | sort)
extra=$(comm -13 <(cd "$a/out/image" && find . -type f -printf '%P\n' | sort) <(cd "$b/out/image" && find . -type f -printf '%P\n' | sort))
[[ -z $extra ]] || { echo "DIFFERS: only in the second checkout: $extra"; differ=1; }
if ((differ)); then
  echo "reproducible-image: commit $commit gives different images at $a and $b"
  exit 1
fi
echo "reproducible-image: commit $commit gives identical out/image/ at two paths"
