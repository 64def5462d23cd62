#!/usr/bin/env bash
# Run a test file N times while two busy loops load both cores (issue 15: the synthetic videos
# must come out byte-identical under load too).
#   tools/under-load.sh [TEST_FILE] [N]     (defaults: tests/test_synthetic.py 10)
set -u
cd "$(dirname "$0")/.."
test_file=${1:-tests/test_synthetic.py}
n=${2:-10}
for _ in 1 2; do ( while :; do :; done ) & done
trap 'kill $(jobs -p) 2>/dev/null' EXIT
failed=0
for i in $(seq "$n"); do
  s=$SECONDS
  line=$(.venv/bin/python -m pytest -q -p no:cacheprovider "$test_file" 2>&1 | tail -1)
  echo "run $i ($((SECONDS - s)) s): $line"
  case "$line" in *failed*|*error*) failed=$((failed + 1));; esac
done
echo "$failed of $n runs failed"
[ "$failed" = 0 ]
