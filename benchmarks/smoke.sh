#!/usr/bin/env bash
# Runs every benchmark binary of a build directory once on small cases, to prove each one works.
# Not a measurement: timings from this run mean nothing.
set -euo pipefail
build=${1:-build/dev}
run() {
  local bin=$build/benchmarks/$1 filter=$2
  [ -x "$bin" ] || { echo "smoke: $bin missing" >&2; exit 1; }
  echo "smoke: $1"
  local out
  out=$("$bin" --benchmark_filter="$filter" --benchmark_min_time=0.001 --benchmark_color=false 2>&1)
  # Google Benchmark exits 0 when the filter matches nothing: a smoke run that ran nothing fails.
  if grep -q 'Failed to match' <<<"$out" || ! grep -Eq '[0-9] (ns|us|ms|s) ' <<<"$out"; then
    echo "smoke: $1 ran no benchmark for filter '$filter'" >&2
    echo "$out" >&2
    exit 1
  fi
}
run bench_quantize '/4096/'
run bench_gemm '/1t/(bert/M=128/N=768/K=768|llama7b/M=1/N=4096/K=4096)/|pack/.*M=1/N=4096/K=4096'
run bench_lowbit_gemm '^(int4|int2|int8)/1t/llama7b/M=(1|8)/N=4096/K=4096/'
run bench_observers 'bm_minmax/1|bm_histogram/1|bm_cal_'
run bench_io 'st_(read|load_copy|load_map)/16/'
