#!/usr/bin/env bash
# Setup, imports and native libraries must not depend on the checkout's path (issue 15): clone
# this repository at three paths (short, long, nested deep), run `make demo` in each, one at a
# time so their times are clean, then `make test` in each, every one on a fresh venv; compare
# the three default runs' tables byte for byte. About 2 h on 2 cores. Writes SUMMARY.
#
#   tools/fresh-clone-check.sh [COMMIT] [BASE_DIR]     (defaults: HEAD, /tmp/fresh-clone-check)
set -u
repo=$(cd "$(dirname "$0")/.." && pwd)
commit=${1:-HEAD}
base=${2:-/tmp/fresh-clone-check}
summary=$base/SUMMARY
paths=("$base/c" "$base/a-rather-long-folder-name-for-a-checkout-of-the-dabfusion-pipeline/dabfusion-checkout"
       "$base/n/e/s/t/e/d/d/e/e/p/l/y/dabfusion")
mkdir -p "$base"
for p in "${paths[@]}"; do
  rm -rf "$p"; mkdir -p "$(dirname "$p")"
  git clone -q "$repo" "$p" && git -C "$p" checkout -q "$commit" || { echo "cannot clone $repo at $p" >&2; exit 2; }
done
echo "commit $(git -C "${paths[0]}" rev-parse --short HEAD) $(date -u +%FT%TZ)" >> "$summary"
for p in "${paths[@]}"; do
  s=$SECONDS; (cd "$p" && make demo > demo.log 2>&1); rc=$?
  echo "demo $p rc=$rc $((SECONDS - s)) s (setup included); $(grep -h 'Elapsed time' "$p/demo.log" | tail -1)" >> "$summary"
done
for p in "${paths[@]}"; do
  s=$SECONDS; (cd "$p" && make test > test.log 2>&1); rc=$?
  echo "test $p rc=$rc $((SECONDS - s)) s; $(tail -1 "$p/test.log")" >> "$summary"
done
for p in "${paths[@]}"; do
  echo "tables $p $(cd "$p/results" 2>/dev/null && cat table*.csv table*.md table*.json | sha256sum | cut -c1-16)" >> "$summary"
done
echo "done $(date -u +%FT%TZ)" >> "$summary"
cat "$summary"
