#!/usr/bin/python3
"""PyTorch's figures for the operations bench_quantize and bench_observers measure, on this machine.

Run with Debian's python3-torch (1.13):  /usr/bin/python3 benchmarks/torch_peers.py [--threads N]
Prints median milliseconds (and GB/s where it applies) per operation; benchmarks/README.md puts
them beside lowbit's figures from the same session.
"""
import argparse
import statistics
import time

import torch
from torch.ao.quantization import HistogramObserver, MinMaxObserver, PerChannelMinMaxObserver


def median_ms(fn, reps=15, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"quantized engine {torch.backends.quantized.engine}")

    for n in (4 << 10, 256 << 10, 16 << 20):
        x = torch.randn(n)
        ms = median_ms(lambda: torch.quantize_per_tensor(x, 0.02, 0, torch.qint8), reps=7 if n > 1e6 else 15)
        print(f"quantize_per_tensor qint8 n={n}: {ms:.3f} ms, {5 * n / ms / 1e6:.2f} GB/s")
        q = torch.quantize_per_tensor(x, 0.02, 0, torch.qint8)
        ms = median_ms(lambda: q.dequantize(), reps=7 if n > 1e6 else 15)
        print(f"dequantize qint8 n={n}: {ms:.3f} ms, {5 * n / ms / 1e6:.2f} GB/s")

    x = torch.randn(4096, 4096)
    x[3, 17] = 40.0

    def observe(obs):
        obs.reset_min_max_vals() if hasattr(obs, "reset_min_max_vals") else None
        obs(x)

    mm = MinMaxObserver()
    print(f"MinMaxObserver 4096x4096: {median_ms(lambda: mm(x), reps=9):.2f} ms")
    pc = PerChannelMinMaxObserver(ch_axis=0)
    print(f"PerChannelMinMaxObserver 4096x4096: {median_ms(lambda: pc(x), reps=9):.2f} ms")

    def histogram_observe():
        h = HistogramObserver()
        h(x)
        return h

    print(f"HistogramObserver observe 4096x4096 (fresh observer): {median_ms(histogram_observe, reps=5, warmup=1):.2f} ms")
    h = histogram_observe()
    print(f"HistogramObserver calculate_qparams: {median_ms(lambda: h.calculate_qparams(), reps=5, warmup=1):.2f} ms")


if __name__ == "__main__":
    main()
