#!/usr/bin/env bash
# Stops the test database servers that one test run started or used last:
#   tests/db/teardown.sh REGISTRY RUN_ID
# REGISTRY is the file that tests/db/server.sh appended to at each start
# (DI_TEST_REGISTRY), RUN_ID the run's DI_TEST_RUN_ID. A server is stopped
# only when RUN_ID is still the last run that started or reused it, and, for
# a server shared under a lock (the pipeline tests' fixed ports), only when
# nobody holds that lock: another checkout's run that is using it, or about
# to, records itself and stops it at its own end; teardown waits for that
# lock up to DI_TEST_TEARDOWN_WAIT seconds [90] (a test run of a checkout
# that does not record itself yet would leave the server to nobody). Prints
# what it stopped; exits 1 when a server of this run is still answering
# afterwards.
set -uo pipefail
registry=${1:?registry file}
run=${2:?run id}
here=$(cd "$(dirname "$0")" && pwd)
wait_s=${DI_TEST_TEARDOWN_WAIT:-90}
[ -s "$registry" ] || exit 0
status=0
# A stopped server's data folder (server.sh: BASE/KIND-PORT, its -tmp folder,
# initdb's log, a socket folder in /tmp for long paths) goes too, and BASE
# when nothing else is left in it: no test folder outlives the run. The next
# run initialises a fresh one (a few seconds).
remove_data() { # kind base port
  rm -rf "$2/$1-$3" "$2/$1-$3-tmp" "$2/$1-$3.initdb.log" "/tmp/di-sock-$1-$3"
  rmdir "$2" 2>/dev/null || true
}
# The port's lock file (server.sh's flock over its actions) goes with a
# server of this run's own ports; a shared server's fixed port keeps its
# lock file, since another run may be waiting on it right now and removing
# a file that someone holds open lets two holders in.
remove_lock() { # kind port shared-lock
  [ "$3" = none ] && rm -f "/tmp/di-test-db-$1-$2.lock"
  return 0
}
while read -r kind base mport pport lock; do
  export DI_TEST_DB_DIR=$base DI_TEST_MARIADB_PORT=$mport DI_TEST_PG_PORT=$pport
  port=$mport; [ "$kind" = postgresql ] && port=$pport
  gone=0
  owner=$(cat "/tmp/di-test-db-$kind-$port.owner" 2>/dev/null || true)
  [ "$owner" = "$run" ] || continue
  if [ "$lock" != none ]; then
    exec 8>"$lock"
    if ! flock -n -x 8; then
      echo "teardown: $kind on port $port is in use by another test run; waiting up to ${wait_s} s"
      if ! flock -w "$wait_s" -x 8; then
        echo "teardown: $kind on port $port is still in use by another test run; left to it"
        exec 8>&-
        continue
      fi
    fi
  fi
  if ! "$here/server.sh" status "$kind" >/dev/null 2>&1; then
    # stopped already (store-servers-stop): its state files go too
    rm -f "/tmp/di-test-db-$kind-$port".{owner,dir,sock}
    remove_data "$kind" "$base" "$port"
    gone=1
  elif "$here/server.sh" stop-if-owner "$kind" "$run" >/dev/null 2>&1 &&
       [ ! -e "/tmp/di-test-db-$kind-$port.owner" ]; then
    echo "teardown: stopped the $kind test server on port $port"
    remove_data "$kind" "$base" "$port"
    gone=1
  fi
  if "$here/server.sh" status "$kind" >/dev/null 2>&1 &&
     [ "$(cat "/tmp/di-test-db-$kind-$port.owner" 2>/dev/null || true)" = "$run" ]; then
    echo "teardown: the $kind test server on port $port is still running"
    status=1
  elif [ $gone = 1 ]; then
    remove_lock "$kind" "$port" "$lock" # last: server.sh status makes it again
  fi
  [ "$lock" != none ] && exec 8>&-
done < <(sort -u "$registry")
exit $status
