#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build for a while each, starting from a copy of its seed
# corpus (the committed seeds are never modified), and prints what each did.
#   bash tests/fuzz/run.sh build/fuzz 600     # 10 minutes per target
set -euo pipefail
build=${1:-build/fuzz}
seconds=${2:-15}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for target in quantize observers gemm safetensors gguf; do
  bin=$build/tests/fuzz/lowbit_fuzz_$target
  [ -x "$bin" ] || { echo "fuzz: $bin missing" >&2; exit 1; }
  cp -r "$here/corpus/$target" "$work/$target"
  "$bin" "$work/$target" -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$work/crash-$target-" >"$work/$target.log" 2>&1 || {
    tail -40 "$work/$target.log"
    echo "fuzz: $target found a problem (artifacts: $work/crash-$target-*)" >&2
    cp "$work"/crash-$target-* . 2>/dev/null || true
    exit 1
  }
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$target.log" | grep -o '[0-9]*$' || echo "?")
  cov=$(grep -o 'cov: [0-9]*' "$work/$target.log" | tail -1 || true)
  echo "fuzz: $target clean for ${seconds}s: $execs executions, $cov, corpus $(ls "$work/$target" | wc -l) inputs"
done
