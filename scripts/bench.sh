#!/usr/bin/env bash
# make bench: runs every bench/run-*.sh in turn with the build directory as
# its argument. Each prints its figures and the lines to paste into
# bench/RESULTS.md (date and machine included).
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
status=0
for b in bench/run-*.sh; do
  [ -e "$b" ] || continue
  echo "== $b"
  bash "$b" "$build" || { echo "$b failed"; status=1; }
done
exit $status
