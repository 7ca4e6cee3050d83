#!/usr/bin/env bash
# Runs a store test against a private server from tests/db/server.sh:
#   with-server.sh mariadb|postgresql DBNAME PROGRAM ARGS...
# Starts (or reuses) the server, gives the test an empty database DBNAME and
# passes its URL in DI_TEST_URL (password in DEPTHINDEX_DB_PASSWORD-free form:
# in the URL) and the fixture's path in DI_TEST_SERVER_SH. Exits 77 (skip)
# with the fixture's reason when no server can run here.
set -uo pipefail
kind=$1 db=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
fixture=$here/../db/server.sh
out=$("$fixture" createdb "$kind" "$db" 2>&1); rc=$?
if [ $rc -eq 77 ]; then echo "$out"; exit 77; fi
if [ $rc -ne 0 ]; then echo "test database server: $out"; exit 1; fi
url=$("$fixture" url "$kind" "$db")
export DI_TEST_URL=${url/di_test@/di_test:di-secret@}
export DI_TEST_SERVER_SH=$fixture
exec "$@"
