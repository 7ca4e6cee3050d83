#!/bin/bash
# Stress: two `depthindex run --force` at once on one SQLite file, under
# load, round after round, looking for a run that never ends (the hang seen
# once at load 7-10 with MiDaS bf16: three threads left on futexes, SIGTERM
# ignored). Not part of `meson test` (minutes, and it loads the machine on
# purpose); run by hand:
#
#   tests/pipeline/stress_two_runs.sh [BUILD]      (BUILD: build)
#
# Knobs (environment): ROUNDS [20]; LOAD busy loops beside the runs [6];
# MODEL tiny (tests/pipeline/tiny_onnx.py, 32x32) or midas (MiDaS v2.1 small
# from ../shared with generated weights) [midas when the graph is there];
# N panoramas [12]; PRECISION [bf16 where the CPU has it, else fp32];
# LIMIT seconds one run may take before it counts as hung [120].
# A hung run's threads are dumped (gdb, every thread's stack, and
# /proc/PID/task/*/{comm,wchan}) into the work folder, which is then kept
# and printed; then it gets SIGTERM (does it obey?) and SIGKILL. Exit 0 when
# no run hung and every run ended with 0, else 1.
set -u
build=${1:-build}
di=$build/depthindex
rounds=${ROUNDS:-20}
load=${LOAD:-6}
n=${N:-12}
limit=${LIMIT:-120}
here=$(cd "$(dirname "$0")" && pwd)
graph=$here/../../../shared/models/midas_v21_small_256.graph.onnx
model_kind=${MODEL:-$([ -f "$graph" ] && echo midas || echo tiny)}
[ -x "$di" ] || { echo "no $di (build first)"; exit 2; }
precision=${PRECISION:-$(grep -q avx512_bf16 /proc/cpuinfo && echo bf16 || echo fp32)}

work=$(mktemp -d /tmp/di-stress-XXXXXX)
keep=0
loaders=()
cleanup() {
  for pid in "${loaders[@]}"; do kill "$pid" 2>/dev/null; done
  wait 2>/dev/null
  if [ "$keep" = 0 ]; then rm -rf "$work"; else echo "kept: $work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$model_kind" = midas ]; then
  "$di" model --fill-weights "$work/model.onnx" "$graph" >/dev/null || exit 2
else
  python3 "$here/tiny_onnx.py" "$work/model.onnx" 32 || exit 2
fi
"$di" init --db "sqlite:$work/s.db" --demo "$n" --images "$work/img" --size 128 >/dev/null ||
  exit 2
for ((i = 0; i < load; i++)); do
  (while :; do :; done) &
  loaders+=($!)
done

dump() { # pid, label
  local pid=$1 out=$work/hang-$2
  {
    echo "== $2: pid $pid, $(date -u +%T), load $(cut -d' ' -f1-3 /proc/loadavg)"
    for t in /proc/"$pid"/task/*; do
      echo "$(basename "$t") $(cat "$t/comm" 2>/dev/null) wchan=$(cat "$t/wchan" 2>/dev/null)"
    done
    timeout 60 gdb -p "$pid" -batch -ex 'thread apply all bt' 2>&1
  } >"$out"
  keep=1
  echo "HANG: $2 (pid $pid): stacks in $out"
  kill -TERM "$pid"
  sleep 5
  if kill -0 "$pid" 2>/dev/null; then
    echo "  SIGTERM ignored for 5 s" | tee -a "$out"
    kill -KILL "$pid"
  else
    echo "  ended after SIGTERM" | tee -a "$out"
  fi
}

hangs=0 bad=0
echo "stress: $rounds rounds of two runs ($model_kind, $precision, $n panoramas), $load busy loops"
for ((r = 1; r <= rounds; r++)); do
  pids=()
  for k in a b; do
    "$di" run --db "sqlite:$work/s.db" --images "$work/img" --model "$work/model.onnx" \
      --device cpu --precision "$precision" --force --progress none \
      >"$work/out-$r-$k" 2>"$work/err-$r-$k" &
    pids+=($!)
  done
  t0=$(date +%s)
  for i in 0 1; do
    pid=${pids[$i]}
    while kill -0 "$pid" 2>/dev/null && [ $(($(date +%s) - t0)) -lt "$limit" ]; do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      hangs=$((hangs + 1))
      dump "$pid" "round$r-$i"
    fi
    wait "$pid"
    rc=$?
    if [ "$rc" != 0 ]; then
      bad=$((bad + 1))
      keep=1
      echo "round $r run $i: exit $rc: $(tail -n 3 "$work/err-$r-${i/0/a}" 2>/dev/null)"
    fi
  done
  echo "round $r: $(($(date +%s) - t0)) s, load $(cut -d' ' -f1 /proc/loadavg)"
done
echo "stress: $rounds rounds, $hangs hung, $bad other failures"
[ "$hangs" = 0 ] && [ "$bad" = 0 ]
