# The preamble every bench/run-*.sh shared, sourced as its first step:
#   . "$(dirname "$0")/common.sh"
# Sourcing it moves to the repository root (so that ../shared and tests/...
# resolve as the scripts expect) and names the script for its messages
# (bench_name: run-engine for bench/run-engine.sh). The rest are functions,
# so that each script keeps its own choices (set -e or not, its knobs) and
# says them where a reader looks for them.
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
bench_root=$(pwd)
bench_name=$(basename "$0" .sh)
py=/usr/bin/python3
ncpu=$(nproc)

# bench_build [DIR]: build= the build directory (the script's first argument,
# default build; relative to the repository root or absolute), di= its
# depthindex by absolute path (the scripts cd into
# temporary folders and hand it to python)
bench_build() {
  build=${1:-build}
  case $build in
    /*) di="$build/depthindex" ;;
    *) di="$bench_root/$build/depthindex" ;;
  esac
}

# bench_need EXE...: every EXE (relative to the build directory) is built, else
# the script stops with exit status 1 saying which is not
bench_need() {
  local exe
  for exe in "$@"; do
    [ -x "$build/$exe" ] || { echo "$bench_name: $build/$exe is not built (ninja -C $build)"; exit 1; }
  done
}

# bench_knobs NAME=DEFAULT...: for each environment knob NAME (REPEAT, ROUNDS,
# FACES ...) the lower-case variable of the same name gets its value or the
# default; a value that is not a whole number stops the script (a typo in
# REPEAT would otherwise surface as an awk division by zero at the end)
bench_knobs() {
  local kv name value
  for kv in "$@"; do
    name=${kv%%=*}
    value=${!name:-${kv#*=}}
    [[ $value =~ ^[0-9]+$ ]] || { echo "$bench_name: $name=$value is not a whole number"; exit 2; }
    printf -v "${name,,}" '%s' "$value"
  done
}

# bench_cpu: the CPU's model name
bench_cpu() { lscpu | sed -n 's/^Model name: *//p'; }

# bench_isa [FLAG...]: those of the FLAGs (default: the ones the engine's
# kernels choose by) that this CPU has, space-separated with a trailing space;
# none is an empty line, not a failure (which set -e would end the script on)
bench_isa() {
  local want=${*:-avx2 avx512f avx512_bf16 avx512_vnni amx_bf16 amx_int8}
  { grep -m1 '^flags' /proc/cpuinfo || true; } | tr ' ' '\n' | { grep -xF -f <(tr ' ' '\n' <<<"$want") || true; } |
    tr '\n' ' '
}

# bench_load: the 1, 5 and 15 minute load averages
bench_load() { cut -d' ' -f1-3 /proc/loadavg; }

# bench_workdir: work= a fresh folder under /tmp (di-NAME-bench.XXXXXX),
# removed on exit, after the commands given to bench_at_exit; Ctrl-C and
# TERM exit through the same trap (bash does not run it on a bare signal)
bench_exit_cmds=()
bench_at_exit() { bench_exit_cmds+=("$1"); }
bench_cleanup() {
  local c
  for c in "${bench_exit_cmds[@]+"${bench_exit_cmds[@]}"}"; do eval "$c"; done
  [ -n "${work:-}" ] && rm -rf "$work"
  return 0
}
bench_workdir() {
  work=$(mktemp -d "/tmp/di-${bench_name#run-}-bench.XXXXXX") || exit 1
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# bench_median X...: the median, 3 decimals; bench_best X...: the largest
bench_median() { "$py" -c 'import statistics,sys; print("%.3f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
bench_best() { "$py" -c 'import sys; print(max(float(x) for x in sys.argv[1:]))' "$@"; }

# bench_calc FORMAT EXPRESSION: python's FORMAT % (EXPRESSION), for ratios of
# figures the scripts hold as strings ("%.2f" "$a / $b")
bench_calc() { "$py" -c "print('$1' % ($2))"; }

# bench_demo_set DB DIR PANORAMAS SIZE "EXT..." [BASE]: an SQLite table
# (sqlite:DB) of PANORAMAS demo rows whose faces in DIR are symbolic links to
# BASE (default 100) rendered panoramas of SIZExSIZE (`depthindex init
# --demo`), one link per face and EXT (jpg, npy), so that 100k faces cost no
# disk and no rendering time
bench_demo_set() {
  local db=$1 dir=$2 n=$3 size=$4 exts=$5 base=${6:-100}
  [ "$n" -lt "$base" ] && base=$n
  "$di" init --db "sqlite:$db" --demo "$base" --images "$dir" --size "$size" >/dev/null || return 1
  "$py" - "$db" "$dir" "$n" "$base" $exts <<'PY'
import os, sqlite3, sys
db, d, n, base, exts = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
con = sqlite3.connect(db)
con.executemany("INSERT INTO panorama (id, panorama_sid) VALUES (?, ?)",
                [(i, "demo%06d" % i) for i in range(base + 1, n + 1)])
con.commit()
for i in range(base + 1, n + 1):
    src = (i - 1) % base + 1
    for f in ("xm", "xp", "zm", "zp"):
        for ext in exts:
            os.symlink("demo%06d_%s.%s" % (src, f, ext), os.path.join(d, "demo%06d_%s.%s" % (i, f, ext)))
PY
}

# bench_ort: have_ort=1 where onnxruntime-node (the reference engine, npm)
# is installed or can be (tests/nn/ort_setup.sh), else 0 after saying that
# the script measures ours only
bench_ort() {
  have_ort=1
  bash tests/nn/ort_setup.sh >/dev/null 2>&1 ||
    { have_ort=0; echo "$bench_name: onnxruntime-node could not be installed; ours only"; }
}

# bench_ort_diff MODEL INPUT ORT_OUTPUT [NOTE]: ours (depthindex infer, 2
# threads) on the NPY INPUT against onnxruntime's output of the same model
# (ORT_OUTPUT, written by ort_run.js): the largest difference, the output
# range and their ratio, NOTE after it; the status of infer
bench_ort_diff() {
  local model=$1 x=$2 ref=$3 note=${4:-} ours
  ours="$(dirname "$ref")/ours_$(basename "$ref")"
  "$di" infer --model "$model" --input "$x" --output "$ours" --threads 2 >/dev/null || return 1
  "$py" - "$ours" "$ref" "$note" <<'PY'
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
d = float(np.abs(a.reshape(b.shape) - b).max())
r = float(b.max() - b.min())
print(f"max |ours - onnxruntime| = {d:.3g}, output range {r:.4g}, ratio {d / r:.3g}{sys.argv[3]}")
PY
}
