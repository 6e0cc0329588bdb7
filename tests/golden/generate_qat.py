#!/usr/bin/python3
"""Writes tests/data/qat_golden.txt: PyTorch 1.13's fake quantization forward and backward.

Run by hand with Debian's python3-torch:  /usr/bin/python3 tests/golden/generate_qat.py
Format: see tests/golden/golden_io.py.
"""
import math

import torch

from golden_io import GoldenFile

torch.manual_seed(99)
golden = GoldenFile("generate_qat.py")
emit = golden.emit

x = torch.randn(6, 40) * 2.0
# Exact ties and values far outside the range, so masks and rounding are exercised.
x[0, :8] = torch.tensor([0.125, -0.125, 0.375, 6.0, -7.0, 20.0, -20.0, 0.0])
dy = torch.randn(6, 40)
emit("x", x)
emit("dy", dy)

# (label, qmin, qmax, scale, zero_point): uint8, int8, int4 and int2 ranges.
TENSOR_CASES = [("u8", 0, 255, 0.05, 3), ("s8", -128, 127, 0.03, 0), ("s4", -8, 7, 0.25, 0),
                ("u4", 0, 15, 0.4, 5), ("s2", -2, 1, 0.9, 0)]
for label, qmin, qmax, scale, zp in TENSOR_CASES:
    xr = x.clone().requires_grad_(True)
    y = torch.fake_quantize_per_tensor_affine(xr, scale, zp, qmin, qmax)
    y.backward(dy)
    emit(f"tensor.{label}.y", y)
    emit(f"tensor.{label}.dx", xr.grad)

for axis in (0, 1):
    n = x.shape[axis]
    scales = torch.rand(n) * 0.1 + 0.02
    for label, qmin, qmax, zp_lo, zp_hi in (("u8", 0, 255, 0, 20), ("s4", -8, 7, -2, 2)):
        zps = torch.randint(zp_lo, zp_hi + 1, (n,), dtype=torch.int32)
        xr = x.clone().requires_grad_(True)
        y = torch.fake_quantize_per_channel_affine(xr, scales, zps, axis, qmin, qmax)
        y.backward(dy)
        key = f"channel{axis}.{label}"
        emit(f"{key}.scales", scales)
        emit(f"{key}.zero_points", zps.to(torch.int64))
        emit(f"{key}.y", y)
        emit(f"{key}.dx", xr.grad)


def emit_lsq(key, op, s, z, grad_factor):
    """Runs one learnable fake-quantize op on x (scale s, zero point z) and emits its outputs."""
    xr = x.clone().requires_grad_(True)
    s = s.clone().requires_grad_(True)
    z = z.clone().requires_grad_(True)
    y = op(xr, s, z, grad_factor)
    y.backward(dy)
    emit(f"{key}.scale", s.detach())
    emit(f"{key}.zero_point", z.detach())
    emit(f"{key}.y", y)
    emit(f"{key}.dx", xr.grad)
    emit(f"{key}.dscale", s.grad)
    emit(f"{key}.dzero_point", z.grad)


# _LearnableFakeQuantize's op: gradients for x, scale and a float zero point.
for label, qmin, qmax, scale, zp in (("u8", 0, 255, 0.05, 2.7), ("s8", -128, 127, 0.04, 0.0),
                                     ("s4", -8, 7, 0.3, -0.4)):
    for scaled in (0, 1):
        emit_lsq(f"lsq.{label}.scaled{scaled}",
                 lambda xr, s, z, f: torch._fake_quantize_learnable_per_tensor_affine(xr, s, z, qmin, qmax, f),
                 torch.tensor([scale]), torch.tensor([zp]),
                 1.0 / math.sqrt(x.numel() * qmax) if scaled else 1.0)

scales = torch.rand(6) * 0.1 + 0.02
zps = torch.tensor([0.0, 1.3, -0.6, 2.5, 0.2, -1.5])
for scaled in (0, 1):
    emit_lsq(f"lsq_channel.s4.scaled{scaled}",
             lambda xr, s, z, f: torch._fake_quantize_learnable_per_channel_affine(xr, s, z, 0, -8, 7, f),
             scales, zps, 1.0 / math.sqrt(x.numel() * 7) if scaled else 1.0)

# The straight-through gradient is a product, dy * mask: a masked element gives -0 for a negative
# dy and NaN for a NaN or infinite one; inside the range dy passes as it is (NaN and -0 included).
# x[0, 3:8] = 6, -7, 20, -20, 0 lie outside the int4 / uint8 ranges below except the last.
dy_special = dy.clone()
dy_special[0, 0] = float("nan")  # x = 0.125: inside
dy_special[0, 3:8] = torch.tensor([-1.5, float("nan"), float("inf"), float("-inf"), -0.0])
emit("dy_special", dy_special)
for label, qmin, qmax, scale, zp in TENSOR_CASES:
    xr = x.clone().requires_grad_(True)
    torch.fake_quantize_per_tensor_affine(xr, scale, zp, qmin, qmax).backward(dy_special)
    emit(f"tensor.{label}.dx_special", xr.grad)
xr = x.clone().requires_grad_(True)
torch._fake_quantize_learnable_per_tensor_affine(xr, torch.tensor([0.3]), torch.tensor([-0.4]), -8, 7, 1.0).backward(dy_special)
emit("lsq.s4.dx_special", xr.grad)

golden.write("qat_golden.txt")
