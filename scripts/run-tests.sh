#!/usr/bin/env bash
# Builds depthindex twice (release; ASan+UBSan) and runs the whole test suite
# in both, then the store and pipeline suites (the threaded parts) once more
# under ThreadSanitizer (a third build, of only what those suites run). Ends
# with one line "N passed, N failed" over all builds.
#
# Database servers: every test server this run starts or reuses is recorded
# (tests/db/server.sh, DI_TEST_RUN_ID and DI_TEST_REGISTRY) and stopped when
# the run ends, also when a test fails or the run is interrupted
# (tests/db/teardown.sh, from an EXIT trap). A server that another
# checkout's run is using at that moment is left to that run.
set -uo pipefail
cd "$(dirname "$0")/.."
release=${1:-build}
asan=${2:-build-asan}
tsan=${3:-build-tsan}

export DI_TEST_RUN_ID="run-$$-$(date +%s)-$RANDOM"
export DI_TEST_REGISTRY
DI_TEST_REGISTRY=$(mktemp /tmp/di-test-run.XXXXXX)
teardown() {
  bash tests/db/teardown.sh "$DI_TEST_REGISTRY" "$DI_TEST_RUN_ID" || status=1
  rm -f "$DI_TEST_REGISTRY"
}
trap 'rc=$?; teardown; exit $(( rc ? rc : status ))' EXIT
trap 'status=130; exit 130' INT
trap 'status=143; exit 143' TERM
status=0

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

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for dir in "$release" "$asan"; do
  echo "== tests in $dir"
  meson test -C "$dir" --print-errorlogs --num-processes 2 \
    --timeout-multiplier "${DI_TEST_TIMEOUT_MULTIPLIER:-1}" || status=1
done

# ThreadSanitizer: the reader, writer, pools and the store's retries, with
# real servers. Only the programs those suites run are built (no engine:
# its OpenMP runtime is not instrumented, and the suites' model cases are
# left out), so this costs one partial build and a few minutes of tests.
tsan_tests=(store-sqlite store-mariadb store-postgresql store-mariadb-idle
  store-postgresql-idle store-mariadb-restart store-postgresql-restart
  store-servers-stop pipeline-sqlite pipeline-bad-input pipeline-kill9
  pipeline-signals pipeline-mariadb pipeline-postgresql harden-rows-sqlite
  harden-frozen-mariadb harden-frozen-postgresql hang-drain-signal
  hang-setup-signal hang-busy-stop hang-lease-signal)
if [ "${DI_TEST_TSAN:-1}" != 0 ]; then
  echo "== ThreadSanitizer: store and pipeline suites in $tsan"
  if [ ! -f "$tsan/build.ninja" ]; then
    meson setup "$tsan" --buildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false \
      -Dcuda=disabled >/dev/null || { echo "meson setup $tsan failed"; exit 2; }
  fi
  ninja -C "$tsan" depthindex tests/store/test_store >/dev/null ||
    { ninja -C "$tsan" depthindex tests/store/test_store; echo "build in $tsan failed"; exit 2; }
  # report_thread_leaks=0: a second Ctrl-C exits at once on purpose (_exit),
  # with the pipeline's threads still running (pipeline-signals does that)
  TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:report_thread_leaks=0} \
    meson test -C "$tsan" --no-rebuild --print-errorlogs --num-processes 2 \
    --timeout-multiplier "${DI_TEST_TIMEOUT_MULTIPLIER:-2}" "${tsan_tests[@]}" || status=1
fi

/usr/bin/python3 - "$release" "$asan" "$tsan" <<'PY'
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
