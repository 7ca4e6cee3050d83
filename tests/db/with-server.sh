#!/usr/bin/env bash
# Runs a test (store, pipeline...) against a private server from tests/db/server.sh:
#   tests/db/with-server.sh [--timeouts SECONDS] mariadb|postgresql DBNAME PROGRAM ARGS...
# Starts (or reuses) the server, gives the test an empty database DBNAME and
# passes to PROGRAM: DI_TEST_URL (the URL with the password in it),
# DI_TEST_URL_NOPASS (without; the password is then di-secret), DI_TEST_KIND
# and DI_TEST_SERVER_SH (the fixture, to restart the server mid-test).
# With --timeouts, the server drops the test's idle sessions after SECONDS
# (server.sh timeouts). Exits 77 (skip) with the fixture's reason when no server can run here.
set -uo pipefail
timeouts=
if [ "${1:-}" = --timeouts ]; then timeouts=$2; shift 2; fi
kind=$1 db=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
fixture=$here/server.sh
out=$("$fixture" createdb "$kind" "$db" 2>&1); rc=$?
if [ $rc -eq 77 ]; then echo "$out"; exit 77; fi
if [ $rc -ne 0 ]; then echo "test database server: $out"; exit 1; fi
if [ -n "$timeouts" ]; then
  url=$("$fixture" timeouts "$kind" "$db" "$timeouts") || { echo "server.sh timeouts failed"; exit 1; }
else
  url=$("$fixture" url "$kind" "$db")
fi
export DI_TEST_URL=${url/@/:di-secret@}
export DI_TEST_URL_NOPASS=$url
export DI_TEST_KIND=$kind
export DI_TEST_SERVER_SH=$fixture
exec "$@"
