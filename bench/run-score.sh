#!/usr/bin/env bash
# Benchmark of the score (issue 2): time per image on one core of the whole
# score of a depth map (bench_score, di_feature_compute) against the seed's
# Python procedure (bench/score_seed.py) in the same run, the score step
# against one plain pass over the same bytes, and the agreement of our score
# with the median of the seed's (nondeterministic) scores.
#   bench/run-score.sh BUILD_DIR [MAPS_512 MAPS_2048 SEED_RUNS]
# Prints a Markdown report for bench/RESULTS.md ("Score" section).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
n512=${2:-16}
n2048=${3:-3}
runs=${4:-5}
bench="$build/bench/bench_score"
[ -x "$bench" ] || { echo "run-score: $bench not built (ninja -C $build)"; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
/usr/bin/python3 bench/score_maps.py "$tmp" "512x512:$n512" "2048x2048:$n2048"
taskset -c 0 "$bench" --runs 7 "$tmp"/*.raw > "$tmp/ours.jsonl"
echo "## Score: depthindex (di_feature_compute) against the seed's procedure"
echo
taskset -c 0 /usr/bin/python3 bench/score_seed.py --runs "$runs" \
  --ours "$tmp/ours.jsonl" "$tmp"/*.raw
