#!/usr/bin/env bash
# cli-build-setup: what a newcomer's first commands meet.
# - meson.build refuses a oneDNN other than 2.x in one line (a fake
#   dnnl_version.h saying 3.4, found first through -Dc_args=-I...).
# - scripts/install-deps.sh restores policy-rc.d however apt ends (a fake
#   apt-get that fails, or succeeds; the policy file moved to a scratch path
#   with DI_POLICY_RC_D), leaves one it did not create alone, and installs
#   python3 for `make demo` (scripts/demo.sh runs it).
# - the README's quick start says what a minimal image needs first.
# Nothing here touches the system: apt-get, dpkg-query and sudo are fakes.
set -u
src=${DEPTHINDEX_SOURCE_ROOT:?}
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# oneDNN 3.x: one line naming the version needed
mkdir -p "$tmp/inc/oneapi/dnnl"
printf '#define DNNL_VERSION_MAJOR 3\n#define DNNL_VERSION_MINOR 4\n' >"$tmp/inc/oneapi/dnnl/dnnl_version.h"
out=$(meson setup "$tmp/b" "$src" -Dc_args="-I$tmp/inc" -Dcuda=disabled 2>&1); rc=$?
err=$(printf '%s\n' "$out" | grep 'ERROR')
echo "meson setup with oneDNN 3.4: rc=$rc: $err"
check "meson setup refuses oneDNN 3.x in one line" \
  '[ $rc != 0 ] && [ $(printf "%s\n" "$err" | wc -l) = 1 ] && [[ "$err" == *"oneDNN 2.x is required"*"found oneDNN 3.x"* ]]'

# install-deps.sh with fakes
mkdir -p "$tmp/bin"
cat >"$tmp/bin/dpkg-query" <<'F'
#!/bin/sh
exit 1
F
cat >"$tmp/bin/apt-get" <<F
#!/bin/sh
[ "\$1" = update ] && exit 0
echo "\$*" >"$tmp/apt-args"
if [ -x "$tmp/policy-rc.d" ] && grep -q 'exit 101' "$tmp/policy-rc.d"; then echo yes >"$tmp/policy-seen"; fi
exit \$(cat "$tmp/apt-rc")
F
printf '#!/bin/sh\nexec "$@"\n' >"$tmp/bin/sudo"
chmod +x "$tmp/bin/"*
run_deps() { # apt-get's exit code, install-deps arguments...
  echo "$1" >"$tmp/apt-rc"; shift
  rm -f "$tmp/policy-seen" "$tmp/apt-args"
  PATH="$tmp/bin:$PATH" DI_POLICY_RC_D="$tmp/policy-rc.d" bash "$src/scripts/install-deps.sh" "$@" >/dev/null 2>&1
}
run_deps 100; rc=$?
check "apt-get failing: install-deps fails (rc=$rc)" '[ $rc != 0 ]'
check "apt-get ran with the policy file in place" '[ -f "$tmp/policy-seen" ]'
check "apt-get failing: the policy file is removed" '[ ! -e "$tmp/policy-rc.d" ]'
check "make demo's packages include python3 (scripts/demo.sh)" \
  'grep -qw python3 "$tmp/apt-args" && grep -qw make "$tmp/apt-args"'
run_deps 0; rc=$?
check "apt-get succeeding: the policy file is removed (rc=$rc)" '[ $rc = 0 ] && [ -f "$tmp/policy-seen" ] && [ ! -e "$tmp/policy-rc.d" ]'
printf '#!/bin/sh\nexit 0\n' >"$tmp/policy-rc.d"
run_deps 100
check "a policy file that was there before is left alone" '[ "$(cat "$tmp/policy-rc.d")" = "$(printf "#!/bin/sh\nexit 0")" ]'
rm -f "$tmp/policy-rc.d"

# README: what a minimal image needs before `make`
readme="$src/README.md"
check "README quick start: apt-get install make git first" \
  'grep -q "apt-get update && apt-get install -y make git" "$readme"'
check "README quick start: how to get ../shared next to the checkout" \
  'sed -n "/^## Quick start/,/^## What/p" "$readme" | grep -q "next to the checkout"'
exit $fail
