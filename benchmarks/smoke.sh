#!/usr/bin/env bash
# Runs every benchmark binary of a build directory once on its smallest cases, to prove it works.
set -euo pipefail
build=${1:-build/dev}
for b in "$build"/benchmarks/bench_*; do
  [ -x "$b" ] || continue
  echo "smoke: $(basename "$b")"
  "$b" --benchmark_filter="${LOWBIT_SMOKE_FILTER:-.}" --benchmark_min_time=0.001 >/dev/null
done
