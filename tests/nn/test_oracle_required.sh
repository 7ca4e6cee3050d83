#!/usr/bin/env bash
# nn-oracle-required: what the tests do when an oracle cannot run.
# - onnxruntime-node that cannot be installed (a fake npm on PATH that fails
#   like an unreachable registry, into a scratch oracle folder): npm runs
#   once for several tests at the same time and after them; each gives up
#   with npm's reason, at once once the failure is recorded.
# - Outside CI such a test skips (77) saying why; with
#   DI_TEST_REQUIRE_ORACLES=1 (.ci/run) it fails: nn-vit (onnxruntime),
#   nn-conformance (libonnx-testdata), nn-cli (../shared), feature-oracle
#   (OpenCV). A test that needs a GPU still skips without one.
# usage: test_oracle_required.sh TEST_VIT TEST_CONFORMANCE TEST_CUDA
set -u
vit=$1 conformance=$2 cuda=$3
src=${DEPTHINDEX_SOURCE_ROOT:?}
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/py"
cat >"$tmp/bin/npm" <<NPM
#!/bin/sh
echo run >>"$tmp/npm-calls"
sleep 2
echo "npm ERR! code ENOTFOUND" >&2
echo "npm ERR! network request to https://registry.npmjs.org/onnxruntime-node failed, reason: getaddrinfo ENOTFOUND registry.npmjs.org" >&2
exit 1
NPM
printf '#!/bin/sh\nexit 0\n' >"$tmp/bin/node"
chmod +x "$tmp/bin/npm" "$tmp/bin/node"
export PATH="$tmp/bin:$PATH" DI_ORACLE_DIR="$tmp/oracle"
unset DI_TEST_REQUIRE_ORACLES

for i in 1 2 3; do
  bash "$src/tests/nn/ort_setup.sh" 2>"$tmp/err$i" >/dev/null & pids[$i]=$!
done
for i in 1 2 3; do wait ${pids[$i]}; rc[$i]=$?; done
calls=$(wc -l <"$tmp/npm-calls" 2>/dev/null || echo 0)
check "three installs at once: npm ran once (ran $calls times)" '[ "$calls" = 1 ]'
for i in 1 2 3; do
  check "install $i fails with npm's reason: $(tail -n 1 "$tmp/err$i")" \
    '[ ${rc[$i]} != 0 ] && tail -n 1 "$tmp/err$i" | grep -q ENOTFOUND'
done
t0=$(date +%s%N)
out=$("$vit" 2>&1); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
calls=$(wc -l <"$tmp/npm-calls")
echo "nn-vit after the failure: rc=$rc in ${ms} ms: $out"
check "nn-vit skips (77) at once with the reason, no new npm run" \
  '[ $rc = 77 ] && [[ "$out" == *SKIP*ENOTFOUND* ]] && [ "$calls" = 1 ] && [ $ms -lt 1500 ]'
out=$(DI_ORT_RETRY_AFTER=0 bash "$src/tests/nn/ort_setup.sh" 2>&1); rc=$?
calls=$(wc -l <"$tmp/npm-calls")
check "an old failure is tried again" '[ $rc != 0 ] && [ "$calls" = 2 ]'

# CI: the same missing oracles fail instead of skipping
out=$(DI_TEST_REQUIRE_ORACLES=1 "$vit" 2>&1); rc=$?
check "CI: nn-vit without onnxruntime fails (rc=$rc)" '[ $rc = 1 ] && [[ "$out" == *FAIL*ENOTFOUND* ]]'
out=$(DI_ONNX_NODE_TESTS="$tmp/none" "$conformance" 2>&1); rc=$?
check "nn-conformance without libonnx-testdata skips (rc=$rc)" '[ $rc = 77 ]'
out=$(DI_TEST_REQUIRE_ORACLES=1 DI_ONNX_NODE_TESTS="$tmp/none" "$conformance" 2>&1); rc=$?
check "CI: nn-conformance without libonnx-testdata fails (rc=$rc)" '[ $rc = 1 ] && [[ "$out" == *libonnx-testdata* ]]'
out=$(DEPTHINDEX_SHARED="$tmp/none" bash "$src/tests/nn/test_cli.sh" 2>&1); rc=$?
check "nn-cli without ../shared skips (rc=$rc)" '[ $rc = 77 ]'
out=$(DI_TEST_REQUIRE_ORACLES=1 DEPTHINDEX_SHARED="$tmp/none" bash "$src/tests/nn/test_cli.sh" 2>&1); rc=$?
check "CI: nn-cli without ../shared fails (rc=$rc)" '[ $rc = 1 ]'
if [ -x /usr/bin/python3 ]; then
  echo 'raise ImportError("no cv2 here")' >"$tmp/py/cv2.py"
  out=$(PYTHONPATH="$tmp/py" /usr/bin/python3 "$src/tests/feature/oracle.py" /bin/false 2>&1); rc=$?
  check "feature-oracle without OpenCV skips (rc=$rc)" '[ $rc = 77 ]'
  out=$(DI_TEST_REQUIRE_ORACLES=1 PYTHONPATH="$tmp/py" /usr/bin/python3 "$src/tests/feature/oracle.py" /bin/false 2>&1); rc=$?
  check "CI: feature-oracle without OpenCV fails (rc=$rc)" '[ $rc = 1 ]'
fi
# a GPU is not an oracle: without one the CUDA comparison still skips in CI
if [ ! -e /dev/nvidiactl ] && [ ! -e /dev/dxg ] && [ ! -e /proc/driver/nvidia ]; then
  out=$(DI_TEST_REQUIRE_ORACLES=1 "$cuda" 2>&1); rc=$?
  check "CI: nn-cuda-compare without a GPU still skips (rc=$rc)" '[ $rc = 77 ]'
fi
exit $fail
