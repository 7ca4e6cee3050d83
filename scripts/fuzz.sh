#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan, coverage on the whole
# library) and runs each for FUZZ_SECONDS (default 30) from its seed corpus
# fuzz/corpus/<name>/ (a target fuzz/fuzz_<name>). New inputs libFuzzer finds
# go to BUILD/corpus-<name>/, crashes to BUILD/crash-<name>/, never into the
# repository. Usage: scripts/fuzz.sh [BUILD_DIR]   (make fuzz)
set -uo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-fuzz}
secs=${FUZZ_SECONDS:-30}

if ! command -v clang >/dev/null; then
  echo "fuzz: clang is missing (scripts/install-deps.sh --test installs it)"; exit 2
fi
if [ ! -f "$dir/build.ninja" ]; then
  CC=clang meson setup "$dir" -Dfuzz=true --buildtype=debugoptimized \
    -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args="-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined" >/dev/null ||
    { echo "fuzz: meson setup $dir failed"; exit 2; }
fi
targets=()
for c in fuzz/corpus/*/; do
  name=$(basename "$c")
  [ -f "fuzz/fuzz_$name.c" ] && targets+=("$name")
done
ninja -C "$dir" $(printf 'fuzz/fuzz_%s ' "${targets[@]}") >/dev/null ||
  { ninja -C "$dir" $(printf 'fuzz/fuzz_%s ' "${targets[@]}"); echo "fuzz: build failed"; exit 2; }

status=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for name in "${targets[@]}"; do
  work="$dir/corpus-$name"; crash="$dir/crash-$name"
  mkdir -p "$work" "$crash"
  echo "== fuzz_$name for ${secs}s (seeds: fuzz/corpus/$name)"
  if "$dir/fuzz/fuzz_$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2560 \
       -print_final_stats=1 -artifact_prefix="$crash/" "$work" "fuzz/corpus/$name" \
       >"$dir/fuzz-$name.log" 2>&1; then
    grep -E "stat::number_of_executed_units|stat::new_units_added" "$dir/fuzz-$name.log" |
      tr '\n' ' '; echo
  else
    status=1
    echo "fuzz_$name FAILED: see $dir/fuzz-$name.log and $crash/"
    grep -E "ERROR|SUMMARY|Test unit written" "$dir/fuzz-$name.log" | head -5
  fi
done
[ $status = 0 ] && echo "fuzz: all targets ran clean" || echo "fuzz: failures found"
exit $status
