#!/usr/bin/env bash
# Private database servers for the tests, on 127.0.0.1 only.
#
#   server.sh start    mariadb|postgresql   start one (or reuse the one running)
#   server.sh stop     mariadb|postgresql|all
#   server.sh restart  mariadb|postgresql
#   server.sh createdb mariadb|postgresql NAME   (re)create an empty database NAME
#                                               owned by the test user
#   server.sh url      mariadb|postgresql [NAME] print the URL (without password)
#   server.sh pid      mariadb|postgresql        print the server's process id
#   server.sh status   mariadb|postgresql        exit 0 when one answers, else 1
#   server.sh stop-if-owner mariadb|postgresql RUN_ID
#                      stop it only when the last test run that started or
#                      reused it was RUN_ID (scripts/run-tests.sh's teardown)
#   server.sh timeouts mariadb|postgresql NAME SECONDS
#                      make the server drop idle sessions of database NAME after
#                      SECONDS (MariaDB: wait_timeout for the user di_slow, whose
#                      URL is printed, and net_read_timeout/net_write_timeout
#                      server-wide until its restart; PostgreSQL: idle_session_timeout on the database;
#                      the URL printed is di_test's). Other tests are unaffected.
#
# Settings (environment):
#   DI_TEST_DB_DIR        data folders   [/tmp/di-test-db-H, H a hash of
#                         $MESON_BUILD_ROOT (else $DEPTHINDEX_BUILD_ROOT), else
#                         /tmp/di-test-db]: outside the checkout, which may lie
#                         where the mysql and postgres users cannot enter
#                         (/root is mode 700); a folder they cannot reach is
#                         refused with the reason
#   DI_TEST_RUN_ID        the test run (scripts/run-tests.sh) that uses the
#                         server: recorded at each start, so that the run's
#                         teardown stops only servers it started or used last
#   DI_TEST_REGISTRY      a file where each start appends what its teardown
#                         needs (kind, data folder, ports, lock)
#   DI_TEST_SHARED_LOCK   the lock file that users of this server hold while
#                         they use it (the pipeline tests' one), for teardown
#   DI_TEST_MARIADB_PORT  [23000 + h]     DI_TEST_PG_PORT  [24000 + h]
#                         h = a hash of the data folder modulo 1000, so that
#                         two checkouts or builds testing at the same time each
#                         get servers of their own
#   DI_TEST_PG_BIN        [the newest /usr/lib/postgresql/*/bin]
#   DI_TEST_MARIADBD      [/usr/sbin/mariadbd]
# The server has a database depthindex_test and a user di_test, password
# di-secret, allowed to create databases and to set its own session timeouts.
#
# Prints nothing on success. Exits 77 (a skipped test, for meson) with the
# reason when the server packages are missing. Calls are serialised per server
# with flock, so tests running in parallel share one server safely; a server
# already answering on the port (started by another build's tests) is reused.
# As root, the servers run as the system users mysql and postgres.
set -euo pipefail

action=${1:-}
kind=${2:-}
dbname=${3:-}
base=${DI_TEST_DB_DIR:-}
if [ -z "$base" ]; then
  root=${MESON_BUILD_ROOT:-${DEPTHINDEX_BUILD_ROOT:-}}
  if [ -n "$root" ]; then
    root=$(cd "$root" 2>/dev/null && pwd -P || echo "$root")
    base=/tmp/di-test-db-$(printf '%s' "$root" | cksum | cut -d' ' -f1)
  else
    base=/tmp/di-test-db
  fi
fi
off=$(( $(printf '%s' "$base" | cksum | cut -d' ' -f1) % 1000 ))
mport=${DI_TEST_MARIADB_PORT:-$((23000 + off))}
pport=${DI_TEST_PG_PORT:-$((24000 + off))}
# PostgreSQL's server binaries: Debian puts them in /usr/lib/postgresql/N/bin
pgbin=${DI_TEST_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
pgbin=${pgbin:-/usr/lib/postgresql/15/bin}
mariadbd=${DI_TEST_MARIADBD:-/usr/sbin/mariadbd}
user=di_test
password=di-secret

usage() { echo "usage: server.sh start|stop|restart|createdb|url mariadb|postgresql [NAME]" >&2; exit 2; }
skip() { echo "SKIP: $*"; exit 77; }
die() { echo "server.sh: $*" >&2; exit 1; }

case "$kind" in
  mariadb|mysql) kind=mariadb; port=$mport ;;
  postgresql|postgres|pg) kind=postgresql; port=$pport ;;
  all) [ "$action" = stop ] || usage
       "$0" stop mariadb; "$0" stop postgresql; exit 0 ;;
  *) usage ;;
esac

# Where the state of the server on this port lives (its data folder), so that
# any build's tests can stop or restart the one that runs.
state=/tmp/di-test-db-$kind-$port
am_root=false
[ "$(id -u)" = 0 ] && am_root=true

check_packages() {
  if [ "$kind" = mariadb ]; then
    [ -x "$mariadbd" ] ||
      skip "mariadb-server is not installed (scripts/install-deps.sh --test installs it)"
    command -v mariadb-install-db >/dev/null ||
      skip "mariadb-install-db missing (package mariadb-server)"
    command -v mariadb >/dev/null || skip "the mariadb client is missing (package mariadb-client)"
    if $am_root; then id mysql >/dev/null 2>&1 || skip "no system user mysql to run mariadbd as"; fi
  else
    [ -x "$pgbin"/postgres ] && [ -x "$pgbin"/initdb ] && [ -x "$pgbin"/pg_ctl ] ||
      skip "postgresql server binaries are not installed in $pgbin (scripts/install-deps.sh --test installs it)"
    command -v psql >/dev/null || skip "psql missing (package postgresql-client)"
    if $am_root; then id postgres >/dev/null 2>&1 || skip "no system user postgres to run the server as"; fi
  fi
}

as_server_user() { # runs a command as the server's system user when root
  if $am_root; then
    local u=mysql; [ "$kind" = postgresql ] && u=postgres
    runuser -u "$u" -- "$@"
  else
    "$@"
  fi
}

datadir() { echo "$base/$kind-$port"; }

# As root the server runs as mysql or postgres, which must be able to enter
# every folder above its data: say so plainly instead of a server that
# cannot start (a data folder under /root, mode 700).
check_reachable() {
  $am_root || return 0
  local u=mysql; [ "$kind" = postgresql ] && u=postgres
  local d; d=$(datadir)
  runuser -u "$u" -- test -w "$d" ||
    die "the $u user cannot reach $d (a folder above it is not open to it, as /root (mode 700) is not): set DI_TEST_DB_DIR to a folder it can reach, such as one under /tmp"
}

# A socket folder: inside the data folder when its path is short enough for a
# Unix socket (108 bytes), otherwise in /tmp.
sockdir() {
  local d; d=$(datadir)
  if [ ${#d} -gt 80 ]; then d=/tmp/di-sock-$kind-$port; fi
  echo "$d"
}

# SQL as the server's superuser, through the Unix socket.
admin_sql() {
  local dir sd
  dir=$(cat "$state.dir" 2>/dev/null || datadir)
  sd=$(cat "$state.sock" 2>/dev/null || sockdir)
  if [ "$kind" = mariadb ]; then
    mariadb --no-defaults --protocol=socket --socket="$sd/mysqld.sock" -uroot -N -B -e "$1"
  else
    PGOPTIONS="-c client_min_messages=warning" as_server_user psql -X -q -v ON_ERROR_STOP=1 -h "$sd" -p "$port" -U postgres -d postgres -tA -c "$1"
  fi
}

# Does a server answer on the port to the test user?
answering() {
  if [ "$kind" = mariadb ]; then
    MYSQL_PWD=$password mariadb --no-defaults --protocol=tcp -h 127.0.0.1 -P "$port" \
      -u "$user" --connect-timeout=2 -e "SELECT 1" depthindex_test >/dev/null 2>&1
  else
    PGPASSWORD=$password PGCONNECT_TIMEOUT=2 psql -X -h 127.0.0.1 -p "$port" -U "$user" \
      -d depthindex_test -tAc "SELECT 1" >/dev/null 2>&1
  fi
}

wait_for() { # seconds, command...
  local n=$(( $1 * 10 )); shift
  while [ $n -gt 0 ]; do
    if "$@"; then return 0; fi
    sleep 0.1; n=$((n - 1))
  done
  return 1
}

socket_up() {
  if [ "$kind" = mariadb ]; then
    mariadb-admin --no-defaults --protocol=socket --socket="$(sockdir)/mysqld.sock" -uroot \
      ping >/dev/null 2>&1
  else
    "$pgbin"/pg_isready -q -h "$(sockdir)" -p "$port" >/dev/null 2>&1
  fi
}

start_mariadb() {
  local dir sd; dir=$(datadir); sd=$(sockdir)
  # a temporary folder of its own: servers installing or running at once
  # otherwise share /tmp, where one's temporary table files were seen to
  # collide with another's ("Error on delete of '/tmp/#sql-temptable-...'")
  mkdir -p "$dir" "$sd" "$dir-tmp"
  if $am_root; then chown mysql: "$dir" "$sd" "$dir-tmp"; fi
  check_reachable
  if [ ! -d "$dir/mysql" ]; then
    local u=(); $am_root && u=(--user=mysql)
    mariadb-install-db --no-defaults --datadir="$dir" --tmpdir="$dir-tmp" "${u[@]}" --skip-test-db \
      --auth-root-authentication-method=socket >"$dir/install.log" 2>&1 ||
      die "mariadb-install-db failed: $(tail -3 "$dir/install.log")"
  fi
  local u=(); $am_root && u=(--user=mysql)
  setsid "$mariadbd" --no-defaults --datadir="$dir" --tmpdir="$dir-tmp" "${u[@]}" \
    --socket="$sd/mysqld.sock" --pid-file="$dir/mariadbd.pid" --port="$port" \
    --bind-address=127.0.0.1 --skip-networking=0 --log-error="$dir/error.log" \
    --innodb-buffer-pool-size=64M --skip-log-bin --max-connections=200 \
    </dev/null >/dev/null 2>&1 9>&- &
  wait_for 60 socket_up || die "mariadbd did not start on port $port: $(tail -5 "$dir/error.log")"
  echo "$dir" >"$state.dir"; echo "$sd" >"$state.sock"
  admin_sql "CREATE DATABASE IF NOT EXISTS depthindex_test;
    CREATE USER IF NOT EXISTS '$user'@'127.0.0.1' IDENTIFIED BY '$password';
    CREATE USER IF NOT EXISTS '$user'@'localhost' IDENTIFIED BY '$password';
    GRANT ALL PRIVILEGES ON *.* TO '$user'@'127.0.0.1';
    GRANT ALL PRIVILEGES ON *.* TO '$user'@'localhost';" ||
    die "could not create the test user and database"
}

start_postgresql() {
  local dir sd; dir=$(datadir); sd=$(sockdir)
  mkdir -p "$dir" "$sd"
  if $am_root; then chown postgres: "$dir" "$sd"; fi
  chmod 700 "$dir"
  check_reachable
  if [ ! -f "$dir/PG_VERSION" ]; then
    as_server_user "$pgbin"/initdb -D "$dir" -U postgres --auth-local=trust \
      --auth-host=scram-sha-256 --no-sync >"$dir.initdb.log" 2>&1 ||
      die "initdb failed: $(tail -3 "$dir.initdb.log")"
  fi
  as_server_user "$pgbin"/pg_ctl -D "$dir" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $sd -c listen_addresses=127.0.0.1 -c max_connections=200" \
    start </dev/null >/dev/null 2>&1 9>&- || die "postgres did not start on port $port: $(tail -5 "$dir/server.log")"
  echo "$dir" >"$state.dir"; echo "$sd" >"$state.sock"
  if [ "$(admin_sql "SELECT 1 FROM pg_roles WHERE rolname = '$user'")" != 1 ]; then
    admin_sql "CREATE ROLE $user LOGIN CREATEDB PASSWORD '$password'" >/dev/null
  fi
  if [ "$(admin_sql "SELECT 1 FROM pg_database WHERE datname = 'depthindex_test'")" != 1 ]; then
    admin_sql "CREATE DATABASE depthindex_test OWNER $user" >/dev/null
  fi
}

# The server process on our port, as recorded when it started.
server_pid() {
  local pid; pid=$(cat "$state.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "$pid"; fi
}

record_pid() {
  local dir=$1 pid
  if [ "$kind" = mariadb ]; then pid=$(cat "$dir/mariadbd.pid" 2>/dev/null || true)
  else pid=$(head -1 "$dir/postmaster.pid" 2>/dev/null || true); fi
  echo "$pid" >"$state.pid"
}

# The test run that started or last reused the server, and where its
# teardown finds it (DI_TEST_RUN_ID, DI_TEST_REGISTRY).
record_user() {
  [ -n "${DI_TEST_RUN_ID:-}" ] || return 0
  echo "$DI_TEST_RUN_ID" >"$state.owner"
  if [ -n "${DI_TEST_REGISTRY:-}" ]; then
    echo "$kind $base $mport $pport ${DI_TEST_SHARED_LOCK:-none}" >>"$DI_TEST_REGISTRY"
  fi
}

do_start() {
  # Reuse a running one, unless its data folder was deleted under it (make
  # clean): then stop it (if it is ours) and start afresh.
  local dir; dir=$(cat "$state.dir" 2>/dev/null || true)
  if [ -n "$dir" ] && [ -d "$dir" ] && answering; then record_user; return 0; fi
  do_stop
  if [ "$kind" = mariadb ]; then start_mariadb; else start_postgresql; fi
  record_pid "$(datadir)"
  record_user
  wait_for 30 answering || die "$kind on port $port does not accept the test user"
}

do_stop_if_owner() {
  local run=${1:-}
  [ -n "$run" ] || usage
  [ "$(cat "$state.owner" 2>/dev/null || true)" = "$run" ] || return 0
  do_stop
  rm -f "$state.owner"
}

do_stop() {
  local pid; pid=$(server_pid)
  [ -n "$pid" ] || return 0
  # SIGTERM: MariaDB's clean shutdown; SIGINT: PostgreSQL's "fast" one.
  if [ "$kind" = mariadb ]; then kill -TERM "$pid"; else kill -INT "$pid"; fi
  wait_for 60 bash -c "! kill -0 $pid 2>/dev/null" || die "$kind server $pid does not stop"
  # where it lay goes with it: a later start writes them again (the lock
  # file stays: removing a file others may flock would let two hold it)
  rm -f "$state.pid" "$state.dir" "$state.sock"
}

do_createdb() {
  [ -n "$dbname" ] || usage
  [[ "$dbname" =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "bad database name $dbname"
  do_start
  if [ "$kind" = mariadb ]; then
    admin_sql "DROP DATABASE IF EXISTS $dbname; CREATE DATABASE $dbname"
  else
    admin_sql "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" >/dev/null
    admin_sql "CREATE DATABASE $dbname OWNER $user" >/dev/null
  fi
}

do_timeouts() {
  local secs=${4:-}
  [ -n "$dbname" ] && [[ "$secs" =~ ^[0-9]+$ ]] || usage
  do_start
  if [ "$kind" = mariadb ]; then
    # wait_timeout: through init_connect, which runs only for users without
    # CONNECTION ADMIN, so di_slow gets it and di_test (ALL PRIVILEGES) does
    # not. (Setting net_read_timeout per session there would keep MariaDB
    # 10.11 from applying wait_timeout at all.) net_read_timeout and
    # net_write_timeout are server-wide: they only bound a stalled packet.
    admin_sql "CREATE USER IF NOT EXISTS 'di_slow'@'127.0.0.1' IDENTIFIED BY '$password';
      CREATE USER IF NOT EXISTS 'di_slow'@'localhost' IDENTIFIED BY '$password';
      GRANT ALL PRIVILEGES ON \`$dbname\`.* TO 'di_slow'@'127.0.0.1';
      GRANT ALL PRIVILEGES ON \`$dbname\`.* TO 'di_slow'@'localhost';
      SET GLOBAL init_connect = 'SET SESSION wait_timeout = $secs';
      SET GLOBAL net_read_timeout = $secs, net_write_timeout = $secs;"
    echo "mysql://di_slow@127.0.0.1:$port/$dbname"
  else
    admin_sql "ALTER DATABASE $dbname SET idle_session_timeout = '${secs}s'" >/dev/null
    echo "postgresql://$user@127.0.0.1:$port/$dbname"
  fi
}

case "$action" in
  start|stop|restart|createdb|timeouts|stop-if-owner) ;;
  pid) cat "$state.pid"; exit 0 ;;
  status) ;;
  url)
    scheme=mysql; [ "$kind" = postgresql ] && scheme=postgresql
    echo "$scheme://$user@127.0.0.1:$port/${dbname:-depthindex_test}"; exit 0 ;;
  *) usage ;;
esac

check_packages
exec 9>"$state.lock"
flock 9
case "$action" in
  start) do_start ;;
  stop) do_stop ;;
  restart) do_stop; do_start ;;
  createdb) do_createdb ;;
  timeouts) do_timeouts "$@" ;;
  stop-if-owner) do_stop_if_owner "$dbname" ;;
  status) answering ;;
esac
