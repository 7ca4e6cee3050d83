#!/usr/bin/env bash
# nn-cuda-cli: what a build says about CUDA, with or without a GPU (no GPU
# needed): --version lists "cuda" exactly when built with it; --device cuda
# without CUDA built says "built without CUDA"; with it built but no device,
# "no CUDA device: <reason>"; both are setup errors (exit 2) before any work.
set -u
bin=${DEPTHINDEX:?}
fail=0
check() { if eval "$2"; then echo "ok: $1"; else echo "FAIL: $1"; fail=1; fi; }
ver=$("$bin" --version)
built=0
grep -q '^#define DI_HAVE_CUDA 1' "${DEPTHINDEX_BUILD_ROOT:?}/di_config.h" && built=1
if [ $built = 1 ]; then
  check "--version lists cuda" '[[ "$ver" == *"engines: cpu cuda"* ]]'
else
  check "--version lists no cuda" '[[ "$ver" == *"engines: cpu"* && "$ver" != *cuda* ]]'
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
out=$("$bin" infer --model "$tmp/none.onnx" --input "$tmp/none.npy" --device cuda 2>&1); rc=$?
echo "infer --device cuda: rc=$rc: $out"
check "infer --device cuda is a setup error (exit 2)" '[ $rc = 2 ]'
if [ $built = 0 ]; then
  check "says built without CUDA" '[[ "$out" == *"built without CUDA"* ]]'
elif [[ "$out" == *"no CUDA device: "* ]]; then
  check "one line naming the reason" '[ $(printf "%s\n" "$out" | wc -l) = 1 ]'
else
  echo "a CUDA device is present: the no-device message is not checkable here"
fi
out=$("$bin" run --db "sqlite:$tmp/none.db" --model "$tmp/none.onnx" --device cuda 2>&1); rc=$?
echo "run --device cuda: rc=$rc: $out"
check "run --device cuda is a setup error (exit 2)" '[ $rc = 2 ]'
if [ $built = 0 ]; then
  check "run says built without CUDA" '[[ "$out" == *"built without CUDA"* ]]'
elif [[ "$out" == *"no CUDA device: "* ]]; then
  check "run: one line naming the reason" '[ $(printf "%s\n" "$out" | wc -l) = 1 ]'
fi
# The backend is a module loaded only when a GPU is asked for: --version and
# a run that does not name a device (on a machine without an NVIDIA driver)
# never map cuBLAS/cudart/cuDNN; --device cuda does (ld.so's own trace).
loaded() { LD_DEBUG=files "$@" 2>&1 >/dev/null | grep -E 'file=[^ ]*(depthindex-cuda\.so|libcublas|libcudart|libcudnn)' | head -3; }
trace=$(LD_DEBUG=files "$bin" --version 2>&1 >/dev/null)
check "ld.so traces the files it loads (LD_DEBUG=files)" '[[ "$trace" == *"file="*libc.so* ]]'
l=$(loaded "$bin" --version)
check "--version loads no CUDA library${l:+: $l}" '[ -z "$l" ]'
# A CPU session that runs and is destroyed loads nothing of CUDA either
# (its destruction once loaded the module to ask it to detach): infer and a
# whole run on --device cpu, with a real model, in a build with CUDA or not.
src=${DEPTHINDEX_SOURCE_ROOT:?}
python3 "$src/tests/pipeline/tiny_onnx.py" "$tmp/tiny.onnx" 32
python3 - "$tmp/x.npy" <<'PY'
import struct, sys  # a 1x3x32x32 float32 NPY, without NumPy
hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 32, 32), }"
hdr = hdr.ljust(117) + "\n"
vals = [((i * 37) % 101) / 101.0 for i in range(3 * 32 * 32)]
open(sys.argv[1], "wb").write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) +
                              hdr.encode() + struct.pack("<%df" % len(vals), *vals))
PY
"$bin" infer --model "$tmp/tiny.onnx" --input "$tmp/x.npy" --output "$tmp/y.npy" --device cpu >/dev/null 2>&1
check "infer --device cpu with a real model works" '[ -s "$tmp/y.npy" ]'
l=$(loaded "$bin" infer --model "$tmp/tiny.onnx" --input "$tmp/x.npy" --device cpu)
check "infer --device cpu loads no CUDA library${l:+: $l}" '[ -z "$l" ]'
"$bin" init --db "sqlite:$tmp/demo.db" --demo 1 --images "$tmp/img" --size 32 >/dev/null 2>&1
l=$(loaded "$bin" run --db "sqlite:$tmp/demo.db" --images "$tmp/img" --model "$tmp/tiny.onnx" --device cpu)
check "run --device cpu loads no CUDA library${l:+: $l}" '[ -z "$l" ]'
out=$("$bin" run --db "sqlite:$tmp/demo.db" --images "$tmp/img" --model "$tmp/tiny.onnx" \
      --device cpu --force 2>&1); rc=$?
check "run --device cpu scores the faces (exit 0)" '[ $rc = 0 ] && [[ "$out" == *"ok 4"* ]]'
if [ ! -e /dev/nvidiactl ] && [ ! -e /dev/dxg ] && [ ! -e /proc/driver/nvidia ]; then
  l=$(loaded "$bin" run --db "sqlite:$tmp/none.db" --model "$tmp/none.onnx")
  check "run (no --device, no driver) loads no CUDA library${l:+: $l}" '[ -z "$l" ]'
fi
if [ $built = 1 ]; then
  l=$(loaded "$bin" infer --model "$tmp/none.onnx" --input "$tmp/none.npy" --device cuda)
  check "--device cuda loads the module and the CUDA libraries" \
    '[[ "$l" == *depthindex-cuda.so* && "$l" == *libcu* ]]'
  out=$(DEPTHINDEX_CUDA_MODULE="$tmp/missing.so" "$bin" infer --model "$tmp/none.onnx" \
        --input "$tmp/none.npy" --device cuda 2>&1); rc=$?
  echo "a missing module: rc=$rc: $out"
  check "a missing module is one line naming it, exit 2" \
    '[ $rc = 2 ] && [ $(printf "%s\n" "$out" | wc -l) = 1 ] && [[ "$out" == *"CUDA backend module not found/loadable: "*missing.so* ]]'
  out=$(DEPTHINDEX_CUDA_MODULE=/bin/true "$bin" infer --model "$tmp/none.onnx" \
        --input "$tmp/none.npy" --device cuda 2>&1); rc=$?
  echo "not a module: rc=$rc: $out"
  check "a file that is no module is one line, exit 2" \
    '[ $rc = 2 ] && [ $(printf "%s\n" "$out" | wc -l) = 1 ] && [[ "$out" == *"CUDA backend module not found/loadable: "* ]]'
fi
out=$("$bin" infer --model x --input y --device gpu 2>&1); rc=$?
check "a bad --device value is a usage error" '[ $rc = 2 ] && [[ "$out" == *"--device"* ]]'
out=$("$bin" infer --model x --input y --precision fp8 2>&1); rc=$?
check "a bad --precision value is a usage error" '[ $rc = 2 ] && [[ "$out" == *"--precision"* ]]'
exit $fail
