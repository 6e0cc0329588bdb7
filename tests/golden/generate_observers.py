#!/usr/bin/python3
"""Writes tests/data/observers_golden.txt: PyTorch 1.13's observers on batch sequences.

Run by hand with Debian's python3-torch:  /usr/bin/python3 tests/golden/generate_observers.py
Format: see tests/golden/golden_io.py.

HistogramObserver in torch 1.13 bins each batch over int(min) .. int(max) (a truncation bug), so
the histogram sequences here have whole-number extremes (two values set exactly to them) and range
widths that keep PyTorch's range adjustment on whole numbers; on such data lowbit's float range
and PyTorch's truncated one coincide.
"""

import torch
from torch.ao.quantization import (HistogramObserver, MinMaxObserver, MovingAverageMinMaxObserver,
                                   MovingAveragePerChannelMinMaxObserver, PerChannelMinMaxObserver)

from golden_io import GoldenFile

torch.manual_seed(7)
golden = GoldenFile("generate_observers.py")
emit = golden.emit

def batch(shape, lo, hi, kind="normal"):
    """Values inside [lo, hi] with the extremes lo and hi present exactly."""
    if kind == "normal":
        x = torch.randn(shape) * (hi - lo) / 6 + (hi + lo) / 2
    elif kind == "heavy":
        x = torch.distributions.StudentT(2.0).sample(shape) * (hi - lo) / 40
    else:
        x = torch.rand(shape) * (hi - lo) + lo
    x = x.clamp(lo, hi)
    flat = x.view(-1)
    flat[3] = lo
    flat[-5] = hi
    return x


def observe_and_emit(key, obs, batches):
    """Feeds the batches to a PyTorch observer and emits its min / max and qparams."""
    for b in batches:
        obs(b)
    emit(f"{key}.min", obs.min_val)
    emit(f"{key}.max", obs.max_val)
    scale, zp = obs.calculate_qparams()
    emit(f"{key}.scale", scale)
    emit(f"{key}.zero_point", zp)


SEQUENCES = {
    # name: list of (shape, lo, hi, kind)
    "grow": [((8, 64), -2, 2, "normal"), ((8, 64), -4, 4, "normal"), ((8, 64), -4, 12, "uniform"),
             ((8, 64), -3, 3, "normal")],
    "outliers": [((16, 64), -16, 16, "heavy"), ((16, 64), -16, 16, "heavy")],
    "relu": [((8, 64), 0, 4, "uniform"), ((8, 64), 0, 8, "normal")],
    "single": [((4, 32), -1, 3, "normal")],
}

for name, spec in SEQUENCES.items():
    batches = [batch(shape, lo, hi, kind) for shape, lo, hi, kind in spec]
    for i, b in enumerate(batches):
        emit(f"{name}.batch{i}", b)
    emit(f"{name}.batches", torch.tensor(len(batches)))
    for label, dtype, scheme in (("u8_affine", torch.quint8, torch.per_tensor_affine),
                                 ("s8_symmetric", torch.qint8, torch.per_tensor_symmetric)):
        observers = {
            "minmax": MinMaxObserver(dtype=dtype, qscheme=scheme),
            "moving": MovingAverageMinMaxObserver(dtype=dtype, qscheme=scheme),
            "moving10": MovingAverageMinMaxObserver(averaging_constant=0.1, dtype=dtype, qscheme=scheme),
            "histogram": HistogramObserver(dtype=dtype, qscheme=scheme),
        }
        for oname, obs in observers.items():
            key = f"{name}.{label}.{oname}"
            observe_and_emit(key, obs, batches)
            if oname == "histogram":
                emit(f"{key}.histogram", obs.histogram)
                new_min, new_max = obs._non_linear_param_search()
                emit(f"{key}.search_min", new_min)
                emit(f"{key}.search_max", new_max)
        per_channel_scheme = (torch.per_channel_affine if scheme == torch.per_tensor_affine
                              else torch.per_channel_symmetric)
        for axis in (0, 1):
            for oname, cls in (("perchannel", PerChannelMinMaxObserver),
                               ("movingperchannel", MovingAveragePerChannelMinMaxObserver)):
                obs = cls(ch_axis=axis, dtype=dtype, qscheme=per_channel_scheme)
                observe_and_emit(f"{name}.{label}.{oname}{axis}", obs, batches)

golden.write("observers_golden.txt")
