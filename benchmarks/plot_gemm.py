#!/usr/bin/env python3
"""Turns bench_gemm's JSON into an SVG plot: GOPS against M for each layer shape, lowbit beside its peers.

  build/bench/benchmarks/bench_gemm --benchmark_filter='/1t/llama7b' \
      --benchmark_out=gemm.json --benchmark_out_format=json
  python3 benchmarks/plot_gemm.py gemm.json benchmarks/gemm.svg

Standard library only (no matplotlib needed). One panel per (threads, N x K) of the LLaMA shapes;
a line per implementation (lowbit, dynamic, oneDNN, OpenBLAS, Eigen) over M = 1 ... 512 (log scale).
"""
import json
import math
import re
import sys
from collections import defaultdict

COLORS = {"lowbit": "#d62728", "dynamic": "#ff7f0e", "onednn": "#1f77b4", "openblas": "#2ca02c", "eigen": "#7f7f7f"}
NAME = re.compile(r"^(\w+)/(\d+)t/(\w+)/M=(\d+)/N=(\d+)/K=(\d+)")


def load(path):
    with open(path) as f:
        data = json.load(f)
    series = defaultdict(lambda: defaultdict(list))  # (threads, model, N, K) -> impl -> [(M, GOPS)]
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        m = NAME.match(b["name"])
        if not m or "GOPS" not in b:
            continue
        impl, threads, model, M, N, K = m.groups()
        series[(int(threads), model, int(N), int(K))][impl].append((int(M), b["GOPS"] / 1e9 if b["GOPS"] > 1e6 else b["GOPS"]))
    return series


def panel(x0, y0, w, h, key, lines):
    out = []
    ms = sorted({m for pts in lines.values() for m, _ in pts})
    gmax = max((g for pts in lines.values() for _, g in pts), default=1.0) * 1.1
    if len(ms) < 2:
        return out
    lx = [math.log2(m) for m in ms]
    sx = lambda m: x0 + 40 + (math.log2(m) - lx[0]) / (lx[-1] - lx[0]) * (w - 60)
    sy = lambda g: y0 + h - 30 - g / gmax * (h - 50)
    threads, model, N, K = key
    out.append(f'<text x="{x0 + w / 2}" y="{y0 + 15}" text-anchor="middle" font-size="12">{model} N={N} K={K}, {threads} thread(s)</text>')
    out.append(f'<line x1="{x0 + 40}" y1="{y0 + h - 30}" x2="{x0 + w - 20}" y2="{y0 + h - 30}" stroke="black"/>')
    out.append(f'<line x1="{x0 + 40}" y1="{y0 + 20}" x2="{x0 + 40}" y2="{y0 + h - 30}" stroke="black"/>')
    for m in ms:
        out.append(f'<text x="{sx(m)}" y="{y0 + h - 15}" text-anchor="middle" font-size="10">{m}</text>')
    for frac in (0.25, 0.5, 0.75, 1.0):
        g = gmax / 1.1 * frac
        out.append(f'<text x="{x0 + 36}" y="{sy(g) + 3}" text-anchor="end" font-size="9">{g:.0f}</text>')
    for impl, pts in lines.items():
        pts = sorted(pts)
        path = " ".join(f"{sx(m):.1f},{sy(g):.1f}" for m, g in pts)
        out.append(f'<polyline fill="none" stroke="{COLORS.get(impl, "black")}" stroke-width="2" points="{path}"/>')
    return out


def main():
    series = load(sys.argv[1])
    keys = sorted(k for k in series if k[1] == "llama7b")
    w, h, cols = 360, 240, 3
    rows = max(1, math.ceil(len(keys) / cols))
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w * cols}" height="{h * rows + 40}" font-family="sans-serif">',
           f'<rect width="100%" height="100%" fill="white"/>']
    for i, key in enumerate(keys):
        svg += panel((i % cols) * w, (i // cols) * h, w, h, key, series[key])
    lx = 10
    for impl, color in COLORS.items():
        svg.append(f'<rect x="{lx}" y="{h * rows + 15}" width="12" height="12" fill="{color}"/>')
        svg.append(f'<text x="{lx + 16}" y="{h * rows + 25}" font-size="12">{impl}</text>')
        lx += 110
    svg.append(f'<text x="{w * cols - 10}" y="{h * rows + 25}" text-anchor="end" font-size="11">GOPS against M (log scale)</text>')
    svg.append("</svg>")
    with open(sys.argv[2], "w") as f:
        f.write("\n".join(svg) + "\n")
    print(f"wrote {sys.argv[2]} ({len(keys)} panels)")


if __name__ == "__main__":
    main()
