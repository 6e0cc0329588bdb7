#!/usr/bin/python3
"""Writes tests/data/core_golden.txt: PyTorch's quantize/observer results for the core tests.

Run by hand with Debian's python3-torch (1.13):  /usr/bin/python3 tests/golden/generate_core.py
The tests read the checked-in output and never need torch.

Format: see tests/golden/golden_io.py (read by tests/support/golden.hpp).
"""

import torch

from golden_io import GoldenFile

torch.manual_seed(20261124)
golden = GoldenFile("generate_core.py")
emit = golden.emit


def inputs():
    rows, cols = 4, 32
    yield "normal", torch.randn(rows, cols) * 1.7 + 0.3
    yield "uniform", torch.rand(rows, cols) * 8.0 - 3.0
    # Heavy tails: Student-t with 2 degrees of freedom (a few values far out).
    yield "heavy", torch.distributions.StudentT(2.0).sample((rows, cols))
    yield "positive", torch.rand(rows, cols) * 2.0 + 0.5
    yield "constant", torch.full((rows, cols), 0.7)
    yield "zeros", torch.zeros(rows, cols)
    # Exact .5 ties for scale 0.25: (k + 0.5) * 0.25 with k in [-60, 60).
    k = torch.arange(-60, 60, dtype=torch.float32)
    yield "ties", ((k + 0.5) * 0.25).reshape(3, 40)


CONFIGS = [  # (label, dtype, qscheme)
    ("u8_affine", torch.quint8, torch.per_tensor_affine),
    ("s8_affine", torch.qint8, torch.per_tensor_affine),
    ("u8_symmetric", torch.quint8, torch.per_tensor_symmetric),
    ("s8_symmetric", torch.qint8, torch.per_tensor_symmetric),
]
CHANNEL = {torch.per_tensor_affine: torch.per_channel_affine,
           torch.per_tensor_symmetric: torch.per_channel_symmetric}

for name, x in inputs():
    emit(f"{name}.x", x)
    for label, dtype, qscheme in CONFIGS:
        obs = torch.ao.quantization.MinMaxObserver(dtype=dtype, qscheme=qscheme)
        obs(x)
        scale, zp = obs.calculate_qparams()
        emit(f"{name}.{label}.tensor.scale", scale)
        emit(f"{name}.{label}.tensor.zero_point", zp)
        q = torch.quantize_per_tensor(x, float(scale), int(zp), dtype)
        emit(f"{name}.{label}.tensor.q", q.int_repr().to(torch.int64))
        emit(f"{name}.{label}.tensor.dq", q.dequantize())
        for axis in (0, 1):
            pobs = torch.ao.quantization.PerChannelMinMaxObserver(
                ch_axis=axis, dtype=dtype, qscheme=CHANNEL[qscheme])
            pobs(x)
            s, z = pobs.calculate_qparams()
            emit(f"{name}.{label}.channel{axis}.scale", s)
            emit(f"{name}.{label}.channel{axis}.zero_point", z)
            qc = torch.quantize_per_channel(x, s, z, axis, dtype)
            emit(f"{name}.{label}.channel{axis}.q", qc.int_repr().to(torch.int64))
            emit(f"{name}.{label}.channel{axis}.dq", qc.dequantize())

# Ties quantized with a scale of exactly 0.25 and zero points that are odd and even.
k = torch.arange(-60, 60, dtype=torch.float32)
ties = (k + 0.5) * 0.25
for dtype, label, zps in ((torch.quint8, "u8", (3, 128)), (torch.qint8, "s8", (0, -5))):
    for zp in zps:
        q = torch.quantize_per_tensor(ties, 0.25, zp, dtype)
        emit(f"ties_fixed.{label}.zp{zp}.q", q.int_repr().to(torch.int64))

golden.write("core_golden.txt")
