#!/usr/bin/python3
"""Writes tests/data/dynamic_linear_golden.txt: PyTorch's dynamic quantized Linear on small layers.

Run by hand with Debian's python3-torch (1.13):  /usr/bin/python3 tests/golden/generate_gemm.py
Format: see tests/golden/golden_io.py.
"""

import torch
import torch.nn as nn

from golden_io import GoldenFile

torch.manual_seed(424242)
golden = GoldenFile("generate_gemm.py")
emit = golden.emit

CASES = [("a", 4, 48, 24), ("b", 1, 64, 17), ("c", 7, 33, 19), ("d", 16, 40, 20)]
QCONFIGS = {
    "tensor": torch.ao.quantization.default_dynamic_qconfig,
    "channel": torch.ao.quantization.per_channel_dynamic_qconfig,
}
for name, m, k, n in CASES:
    model = nn.Sequential(nn.Linear(k, n))
    x = torch.randn(m, k) * 2.0
    emit(f"{name}.x", x)
    emit(f"{name}.weight", model[0].weight)
    emit(f"{name}.bias", model[0].bias)
    emit(f"{name}.y_float", model(x))
    for label, qconfig in QCONFIGS.items():
        qmodel = torch.ao.quantization.quantize_dynamic(model, {nn.Linear: qconfig}, dtype=torch.qint8)
        qw = qmodel[0].weight()
        emit(f"{name}.{label}.weight_codes", qw.int_repr().to(torch.int64))
        scales = qw.q_per_channel_scales() if label == "channel" else torch.tensor([qw.q_scale()])
        emit(f"{name}.{label}.weight_scales", scales.to(torch.float32))
        emit(f"{name}.{label}.y", qmodel(x))

golden.write("dynamic_linear_golden.txt")
