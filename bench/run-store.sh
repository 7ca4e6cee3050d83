#!/usr/bin/env bash
# The store's writer alone, in rows/s per backend: bench/run-store.sh BUILD_DIR
# Each backend gets a fresh table of N/4 panoramas and N results (every face),
# written in transactions of 500 results through di_store_write, as the
# pipeline's writer does; then the same again (idempotent rewrite).
# MariaDB and PostgreSQL run on private servers from tests/db/server.sh over
# 127.0.0.1 (skipped when the server packages are missing).
# Targets (issue 4): SQLite >= 20k rows/s, MariaDB and PostgreSQL >= 5k rows/s.
set -uo pipefail
. "$(dirname "$0")/common.sh"
bench_build "$@"
build=$(cd "$build" && pwd)
ninja -C "$build" bench/bench_store >/dev/null || { echo "run-store: build failed"; exit 1; }
bench=$build/bench/bench_store
export DI_TEST_DB_DIR=${DI_TEST_DB_DIR:-$build/test-db}
fixture=tests/db/server.sh
machine="$ncpu cores, $(bench_cpu)"
echo "store writer, $(date -u '+%Y-%m-%d %H:%M UTC'), $machine"

status=0
declare -A rate
run() { # label url
  local label=$1 url=$2 n out
  for n in 10000 100000; do
    if ! out=$("$bench" "$url" "$n" 500 2>&1); then
      echo "$label: $out"; status=1; return
    fi
    echo "$out" | sed "s/^/  /"
    rate[$label-$n]=$(echo "$out" | awk '/ write /{print $(NF-4)}')
  done
}

db=$build/bench-store.db
rm -f "$db" "$db-wal" "$db-shm"
run sqlite "sqlite:$db"
rm -f "$db" "$db-wal" "$db-shm"
started=()
for kind in mariadb postgresql; do
  "$fixture" status "$kind" >/dev/null 2>&1 || started+=("$kind")
  out=$("$fixture" createdb "$kind" di_bench 2>&1); rc=$?
  if [ $rc -eq 77 ]; then echo "$kind: skipped: $out"; continue; fi
  if [ $rc -ne 0 ]; then echo "$kind: no server: $out"; status=1; continue; fi
  url=$("$fixture" url "$kind" di_bench)
  run "$kind" "${url/di_test@/di_test:di-secret@}"
done

# servers this run started are stopped again
for kind in "${started[@]+"${started[@]}"}"; do "$fixture" stop "$kind" >/dev/null 2>&1; done

echo
echo "For bench/RESULTS.md (writer alone, rows/s, transactions of 500 results):"
echo "| date | machine | backend | 10k rows | 100k rows | target |"
for kind in sqlite mariadb postgresql; do
  t=5000; [ $kind = sqlite ] && t=20000
  [ -n "${rate[$kind-10000]:-}" ] || continue
  echo "| $(date -u +%Y-%m-%d) | $machine | $kind | ${rate[$kind-10000]} | ${rate[$kind-100000]:-} | >= $t |"
done
exit $status
