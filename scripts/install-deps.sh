#!/usr/bin/env bash
# Installs the Debian packages depthindex needs, and only those that are missing.
# Idempotent and non-interactive. Usage: scripts/install-deps.sh [--test]
#   (no flag)  what building and `make demo` need (python3: scripts/demo.sh)
#   --test     also what `make test` needs: the OpenCV oracle, real database
#              servers, the ONNX conformance data, clang for the fuzz targets,
#              clang-format for the style check
set -euo pipefail

build_pkgs=(
  gcc make pkg-config meson ninja-build python3
  libjpeg62-turbo-dev libspng-dev zlib1g-dev
  libsqlite3-dev libmariadb-dev libpq-dev
  libdnnl-dev libonnx-dev libprotobuf-c-dev protobuf-c-compiler
)
test_pkgs=(
  python3 python3-numpy python3-opencv python3-sklearn
  mariadb-server mariadb-client postgresql postgresql-client
  libonnx-testdata clang libclang-rt-dev clang-format nodejs npm
  chromium fonts-dejavu-core
  python3-torch python3-onnx
)

want=("${build_pkgs[@]}")
if [ "${1:-}" = "--test" ]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# nodejs may come from elsewhere than Debian (it does on some images): a working
# node and npm are what we need, not the Debian package as such.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do case "$p" in nodejs|npm) ;; *) filtered+=("$p");; esac; done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# Servers are started by the tests themselves on 127.0.0.1 with their own data
# directories; keep the packages' own services from starting at install time.
# The policy file is removed again however this ends: apt failing (set -e),
# Ctrl-C, or success. (DI_POLICY_RC_D: elsewhere, for tests/cli's own test.)
policy=${DI_POLICY_RC_D:-/usr/sbin/policy-rc.d}
remove_policy=0
restore_policy() { if [ "$remove_policy" = 1 ]; then $sudo rm -f "$policy"; fi; }
trap restore_policy EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
if [ ! -e "$policy" ]; then
  remove_policy=1
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
fi
$sudo apt-get update -qq || true
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
