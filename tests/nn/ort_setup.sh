#!/usr/bin/env bash
# Installs the onnxruntime oracle (npm onnxruntime-node 1.30.0, CPU library
# inside the package, from the npm registry) into tests/oracle/node_modules
# (or $DI_ORACLE_DIR/node_modules) when it is missing.
# Exit 0 when it is there, non-zero with the reason as the last line on
# stderr otherwise.
#
# A failed install is recorded (node_modules/.di-install-failed, with npm's
# reason): every oracle test of the same test run then gives up at once
# with that reason instead of trying again behind the lock (each try can
# take minutes without a registry, and the tests waiting would time out).
# It is tried again after DI_ORT_RETRY_AFTER seconds (default 1800, about
# one `make test`), or at once when that file is removed.
set -uo pipefail
dir=${DI_ORACLE_DIR:-"$(dirname "$0")/../oracle"}
mkdir -p "$dir/node_modules" 2>/dev/null # git-ignored; the lock lives there too
dir=$(cd "$dir" && pwd) || { echo "cannot make the oracle folder $dir" >&2; exit 1; }
failed="$dir/node_modules/.di-install-failed"
ready() { [ -f "$dir/node_modules/onnxruntime-node/package.json" ]; }
recent_failure() { # prints the recorded reason when the failure is recent
  [ -f "$failed" ] || return 1
  local age=$(( $(date +%s) - $(stat -c %Y "$failed") ))
  [ "$age" -lt "${DI_ORT_RETRY_AFTER:-1800}" ] || return 1
  echo "onnxruntime-node could not be installed from npm ${age}s ago, not retried" \
       "(remove $failed to retry): $(tail -n 1 "$failed")"
}
ready && exit 0
command -v node >/dev/null || { echo "node is not installed (scripts/install-deps.sh --test)" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm is not installed (scripts/install-deps.sh --test)" >&2; exit 1; }
if why=$(recent_failure); then echo "$why" >&2; exit 1; fi
(
  flock 9
  ready && exit 0
  if why=$(recent_failure); then echo "$why" >&2; exit 1; fi
  cd "$dir" || exit 1
  log=$(mktemp)
  if npm install --ignore-scripts --no-audit --no-fund --no-save --prefix . \
       --fetch-retries=1 --fetch-retry-mintimeout=2000 --fetch-retry-maxtimeout=10000 \
       onnxruntime-node@1.30.0 >"$log" 2>&1 && ready; then
    rm -f package.json package-lock.json "$failed" "$log"
    exit 0
  fi
  cat "$log" >&2
  reason=$(grep -i -m1 -E 'network|reason:|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|E404' "$log" ||
           grep -i -m1 -E 'npm (ERR|error)' "$log" || grep -v '^\s*$' "$log" | tail -n 1)
  rm -f package.json package-lock.json "$log"
  printf 'npm install onnxruntime-node@1.30.0 failed: %s\n' "${reason:-no output}" >"$failed"
  tail -n 1 "$failed" >&2
  exit 1
) 9>"$dir/node_modules/.di-install.lock"
