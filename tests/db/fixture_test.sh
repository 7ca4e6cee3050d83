#!/usr/bin/env bash
# Tests of the database test fixture itself (tests/db/server.sh, teardown.sh):
#   tests/db/fixture_test.sh mariadb|postgresql
# 1. A build folder inside a folder that the server's system user cannot
#    enter (a checkout under /root, mode 700): the server still starts, its
#    data kept under /tmp; a data folder it cannot reach is refused, saying why.
# 2. Teardown stops a server only for the run that started or last used it,
#    and not while another run holds the server's lock; what it stops leaves
#    no data folder or state file behind.
# 3. A server of a run's own ports leaves no lock file either.
# Uses a server of its own (its own data folder and ports), stopped and
# removed at the end, also on failure or interruption.
set -uo pipefail
kind=${1:?mariadb or postgresql}
here=$(cd "$(dirname "$0")" && pwd)
server=$here/server.sh
work=$(mktemp -d /tmp/di-fixture-test.XXXXXX)
h=$(( $(printf '%s' "$work" | cksum | cut -d' ' -f1) % 1000 ))
export DI_TEST_MARIADB_PORT=$((27000 + h)) DI_TEST_PG_PORT=$((28000 + h))
unset DI_TEST_DB_DIR DI_TEST_RUN_ID DI_TEST_REGISTRY DI_TEST_SHARED_LOCK DEPTHINDEX_BUILD_ROOT
export MESON_BUILD_ROOT=$work/secret/build
mkdir -p "$MESON_BUILD_ROOT"
chmod 700 "$work/secret"
base=
cleanup() {
  "$server" stop "$kind" >/dev/null 2>&1
  [ -n "$base" ] && rm -rf "$base"
  rm -f /tmp/di-test-db-"$kind"-"$DI_TEST_MARIADB_PORT".* /tmp/di-test-db-"$kind"-"$DI_TEST_PG_PORT".*
  # and those of the start refused in 1. (its own ports)
  rm -f /tmp/di-test-db-"$kind"-$((29000 + h)).* /tmp/di-test-db-"$kind"-$((29500 + h)).*
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*"; exit 1; }

# 1. the data folder lies where the server's user can reach it
out=$(DI_TEST_RUN_ID=runA DI_TEST_REGISTRY=$work/regA "$server" start "$kind" 2>&1); rc=$?
[ $rc -eq 77 ] && { echo "$out"; exit 77; }
[ $rc -eq 0 ] || fail "start with the build folder under a mode-700 folder: $out"
state=/tmp/di-test-db-$kind-$([ "$kind" = mariadb ] && echo "$DI_TEST_MARIADB_PORT" || echo "$DI_TEST_PG_PORT")
data=$(cat "$state.dir")
base=$(dirname "$data")
case "$base" in "$work"*) fail "the data folder $base is inside the build folder" ;; esac
"$server" status "$kind" || fail "the server does not answer after start"
if [ "$(id -u)" = 0 ]; then
  out=$(DI_TEST_DB_DIR=$work/secret/db DI_TEST_MARIADB_PORT=$((29000 + h)) \
        DI_TEST_PG_PORT=$((29500 + h)) "$server" start "$kind" 2>&1) &&
    fail "a data folder under a mode-700 folder was accepted"
  echo "$out" | grep -q "cannot reach" || fail "no reason given: $out"
fi

# 2. teardown: only the last run that used it stops it
DI_TEST_RUN_ID=runB DI_TEST_REGISTRY=$work/regB "$server" start "$kind" || fail "reuse"
"$here/teardown.sh" "$work/regA" runA >/dev/null
"$server" status "$kind" || fail "run A's teardown stopped a server that run B used last"
exec 9>"$work/lock"
flock -s 9
DI_TEST_RUN_ID=runC DI_TEST_REGISTRY=$work/regC DI_TEST_SHARED_LOCK=$work/lock \
  "$server" start "$kind" || fail "reuse by run C"
out=$(DI_TEST_TEARDOWN_WAIT=1 "$here/teardown.sh" "$work/regC" runC)
"$server" status "$kind" || fail "teardown stopped a server while its lock was held"
echo "$out" | grep -q "in use" || fail "teardown did not say why it left the server: $out"
# a holder that lets go after 2 s: teardown waits for it, then stops
flock -s "$work/lock" sleep 2 &
holder=$!
exec 9>&-
sleep 0.3
out=$("$here/teardown.sh" "$work/regC" runC) || fail "teardown of run C: $out"
wait $holder
echo "$out" | grep -q "waiting" || fail "teardown did not wait for the lock: $out"
"$server" status "$kind" && fail "run C's teardown left its server running: $out"
echo "$out" | grep -q "stopped" || fail "teardown said nothing: $out"
# what the stopped server left goes with it: its data folder, the folder
# above it once empty, its state files
[ -e "$data" ] && fail "teardown left the data folder $data"
[ -e "$base" ] && fail "teardown left the empty folder $base"
[ -e "$state.dir" ] || [ -e "$state.sock" ] || [ -e "$state.pid" ] &&
  fail "teardown left the state files $state.*"
# 3. a server of a run's own ports (no shared lock): its lock file goes too
DI_TEST_RUN_ID=runD DI_TEST_REGISTRY=$work/regD "$server" start "$kind" || fail "start by run D"
[ -e "$state.lock" ] || fail "server.sh made no lock file $state.lock"
out=$("$here/teardown.sh" "$work/regD" runD) || fail "teardown of run D: $out"
[ -e "$state.lock" ] && fail "teardown left the lock file $state.lock"
"$server" status "$kind" && fail "run D's teardown left its server running: $out" # (makes the lock file again)
echo ok
