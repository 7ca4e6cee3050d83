#!/usr/bin/env bash
# Builds depthindex twice (release; ASan+UBSan) and runs the whole test suite
# in both. Ends with one line "N passed, N failed" over both builds.
set -uo pipefail
cd "$(dirname "$0")/.."
release=${1:-build}
asan=${2:-build-asan}

setup() { # dir, extra meson options...
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >/dev/null || { echo "meson setup $dir failed"; exit 2; }
  fi
  ninja -C "$dir" >/dev/null || { ninja -C "$dir"; echo "build in $dir failed"; exit 2; }
}

setup "$release" --buildtype=release
setup "$asan" --buildtype=debugoptimized -Db_sanitize=address,undefined \
  -Dc_args=-fno-sanitize-recover=undefined -Db_lundef=false

status=0
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for dir in "$release" "$asan"; do
  echo "== tests in $dir"
  meson test -C "$dir" --print-errorlogs --num-processes 2 \
    --timeout-multiplier "${DI_TEST_TIMEOUT_MULTIPLIER:-1}" || status=1
done

/usr/bin/python3 - "$release" "$asan" <<'PY'
import json, sys
passed = failed = skipped = 0
for d in sys.argv[1:]:
    try:
        lines = open(f"{d}/meson-logs/testlog.json").read().splitlines()
    except OSError:
        continue
    for line in lines:
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"): passed += 1
        elif r == "SKIP": skipped += 1
        else: failed += 1
print(f"tests: {passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
