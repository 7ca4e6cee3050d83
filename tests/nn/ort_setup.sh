#!/usr/bin/env bash
# Installs the onnxruntime oracle (npm onnxruntime-node 1.30.0, CPU library
# inside the package) into tests/oracle/node_modules when it is missing.
# Exit 0 when it is there, non-zero (with the reason on stderr) otherwise.
set -euo pipefail
dir="$(cd "$(dirname "$0")/../oracle" 2>/dev/null && pwd || true)"
[ -n "$dir" ] || { mkdir -p "$(dirname "$0")/../oracle"; dir="$(cd "$(dirname "$0")/../oracle" && pwd)"; }
command -v node >/dev/null || { echo "node is not installed" >&2; exit 1; }
if [ -f "$dir/node_modules/onnxruntime-node/package.json" ]; then exit 0; fi
command -v npm >/dev/null || { echo "npm is not installed" >&2; exit 1; }
mkdir -p "$dir/node_modules" # git-ignored; the lock lives there too
(
  flock 9
  if [ ! -f "$dir/node_modules/onnxruntime-node/package.json" ]; then
    cd "$dir"
    npm install --ignore-scripts --no-audit --no-fund --no-save --prefix . onnxruntime-node@1.30.0 >&2
    rm -f package.json package-lock.json
  fi
) 9>"$dir/node_modules/.di-install.lock"
[ -f "$dir/node_modules/onnxruntime-node/package.json" ]
