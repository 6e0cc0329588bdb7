#!/usr/bin/python3
"""Golden GPTQ results for lowbit's GPTQ tests: writes tests/data/gptq_golden.txt.

An independent reference implementation of GPTQ (Frantar et al. 2022, "GPTQ: Accurate
Post-Training Quantization for Generative Pre-trained Transformers"), written from the contract
lowbit implements (include/lowbit/ptq/gptq.hpp), unblocked, in numpy float64:

  1. H = 2/n * X^T X (float64, from the float32 calibration inputs);
  2. dead inputs (H_jj == 0): H_jj = 1 and W[:, j] = 0;
  3. static groups (or per channel, G == K): each row's (scale, zero point) per group of G columns
     in the original column order, from the range of the weights after step 2;
  4. act order: columns sorted by descending diag H (stable, ties by original index);
  5. dampening: H_ii += percdamp * mean(diag H);
  6. U = the upper Cholesky factor of H^-1 (H^-1 = U^T U);
  7. for each column i: (dynamic groups: at i % G == 0, each row's qparams from the range of the
     current, already updated, weights of the group); q = dequantize(quantize(w)) in float32;
     err = (w - q) / U_ii; W[:, i:] -= err (x) U[i, i:];
  8. the codes go back to the original column order.

The quantizer is lowbit's (= PyTorch's, all in float32): the observer's qparams from [min, max]
with zero forced into the range, then code = rint(clamp(x * (1/scale), qmin - zp, qmax - zp)) + zp
(half to even), value = (code - zp) * scale.

Records per configuration <c> (the configurations are in CONFIGS and in the file's header):
  <c>.codes (N x K i64, original column order), <c>.scale (N x K/G f32), <c>.zero_point
  (N x K/G i64), <c>.margin (N x K f32: |frac(v) - 0.5| of the scaled value v = w * (1/scale)
  before clamping, i.e. how far the code is from a rounding tie; 1.0 where v was clamped),
  <c>.err_gptq and <c>.err_rtn (||X W^T - X Q^T||_F^2 in float64, Q the dequantized weights of
  GPTQ and of plain round-to-nearest from the original weights), <c>.perm (K i64, the act-order
  permutation: column i of the processing order is original column perm[i]).
Shared records: x (n x K f32, the calibration inputs), w (N x K f32, the weights).

The script also checks itself: a lazy-batch variant (blocks of 16, GPTQ's blocked update) must
give the same codes, scales and zero points.

    /usr/bin/python3 tests/golden/generate_gptq.py
"""
import sys

import numpy as np

from golden_io import GoldenFile

F32 = np.float32
EPS = F32(2.0 ** -23)

FORMATS = {  # name: (qmin, qmax)
    "int8": (-128, 127), "uint8": (0, 255),
    "int4": (-8, 7), "uint4": (0, 15),
    "int2": (-2, 1), "uint2": (0, 3),
}

K, N, NROWS = 64, 16, 96
PERCDAMP = 0.01

CONFIGS = [  # (name, format, symmetric, group size, act_order, static_groups)
    ("c1", "int4", True, K, False, False),
    ("c2", "uint4", False, 16, False, False),
    ("c3", "int4", True, 16, True, True),
    ("c4", "uint2", False, 32, False, False),
    ("c5", "int8", True, K, True, False),
]


def make_data():
    rs = np.random.RandomState(20261202)
    x = np.round(rs.randn(NROWS, K) * 16) / 16
    x[:, 0:8] *= 4                  # uneven Hessian diagonal (still multiples of 1/16)
    x[:, 5] = 0.0                   # a dead input: diag H = 0
    x[:, 9] = x[:, 10]              # exactly correlated inputs: H singular before dampening
    x = x.astype(np.float32)
    w = (rs.randn(N, K) * 0.1).astype(np.float32)
    w[3, 17] = F32(0.9)             # outliers
    w[11, 40] = F32(-0.8)
    return x, w


# ---- the quantizer (float32 throughout, vectorized over rows) ---------------------------------

def qparams(mn, mx, fmt, symmetric):
    """Per-row (scale f32, zero point i64) from float32 ranges [mn, mx], as PyTorch's observers."""
    qmin, qmax = FORMATS[fmt]
    mn = np.asarray(mn, dtype=F32)
    mx = np.asarray(mx, dtype=F32)
    min_neg = np.minimum(mn, F32(0))
    max_pos = np.maximum(mx, F32(0))
    if symmetric:
        amax = np.maximum(-min_neg, max_pos)
        scale = np.maximum(amax / F32((qmax - qmin) / 2), EPS).astype(F32)
        zp_value = 0 if qmin < 0 else (qmin + qmax + 1) // 2
        zp = np.full(scale.shape, zp_value, dtype=np.int64)
    else:
        scale = np.maximum((max_pos - min_neg) / F32(qmax - qmin), EPS).astype(F32)
        zp_f = F32(qmin) - np.rint((min_neg / scale).astype(F32))
        zp = np.clip(zp_f, qmin, qmax).astype(np.int64)
    return scale, zp


def group_qparams(values64, fmt, symmetric):
    """Per-row qparams from the range of a block of weights (converted to float32 first)."""
    v = np.asarray(values64).astype(F32)
    return qparams(v.min(axis=1), v.max(axis=1), fmt, symmetric)


def quantize(col64, scale, zp, fmt):
    """Codes, dequantized values (float64 of float32) and rounding margins of one column."""
    qmin, qmax = FORMATS[fmt]
    x = np.asarray(col64).astype(F32)
    inv = (F32(1) / scale).astype(F32)
    v = (x * inv).astype(F32)
    lo = (qmin - zp).astype(F32)
    hi = (qmax - zp).astype(F32)
    codes = np.rint(np.clip(v, lo, hi)).astype(np.int64) + zp
    deq = ((codes - zp).astype(F32) * scale).astype(F32)
    v64 = v.astype(np.float64)
    margin = np.abs((v64 - np.floor(v64)) - 0.5)
    margin[(v < lo) | (v > hi)] = 1.0
    return codes, deq.astype(np.float64), margin


# ---- GPTQ ---------------------------------------------------------------------------------------

def prepare(w, x, group, act_order, static_groups, fmt, symmetric):
    """Steps 1-6: the work copy of W (permuted), U, the permutation and the static qparams."""
    k = w.shape[1]
    h = (2.0 / x.shape[0]) * (x.astype(np.float64).T @ x.astype(np.float64))
    wd = w.astype(np.float64).copy()
    dead = np.diag(h) == 0
    h[dead, dead] = 1.0
    wd[:, dead] = 0.0
    static = None
    if static_groups or group == k:
        static = [group_qparams(wd[:, g * group:(g + 1) * group], fmt, symmetric)
                  for g in range(k // group)]
    perm = np.argsort(-np.diag(h), kind="stable") if act_order else np.arange(k)
    wd = wd[:, perm]
    h = h[perm][:, perm]
    h[np.arange(k), np.arange(k)] += PERCDAMP * np.mean(np.diag(h))
    hi = np.linalg.inv(h)
    hi = (hi + hi.T) / 2
    u = np.linalg.cholesky(hi).T
    return wd, u, perm, static


def gptq(w, x, fmt, symmetric, group, act_order, static_groups, block=None):
    """GPTQ's codes, qparams, margins and dequantized weights, all in the original column order.

    block=None: the reference, one full rank-1 update per column. block=B: GPTQ's lazy batch
    (updates inside a block of B columns applied at once, the rest once per block), for the
    self-check only.
    """
    k = w.shape[1]
    assert k % group == 0
    assert not (act_order and not static_groups and group < k), "dynamic groups need act_order off"
    wd, u, perm, static = prepare(w, x, group, act_order, static_groups, fmt, symmetric)
    rows = w.shape[0]
    codes = np.zeros((rows, k), dtype=np.int64)
    margin = np.zeros((rows, k))
    deq = np.zeros((rows, k))
    scales = np.zeros((rows, k // group), dtype=F32)
    zps = np.zeros((rows, k // group), dtype=np.int64)
    if static is not None:
        for g, (s, z) in enumerate(static):
            scales[:, g], zps[:, g] = s, z
    step = k if block is None else block
    if block is not None and static is None:
        assert group % block == 0, "dynamic groups must start at a block boundary"
    for i1 in range(0, k, step):
        i2 = min(i1 + step, k)
        err1 = np.zeros((rows, i2 - i1))
        for i in range(i1, i2):
            if static is None:
                g = i // group
                if i % group == 0:
                    scales[:, g], zps[:, g] = group_qparams(wd[:, i:i + group], fmt, symmetric)
            else:
                g = perm[i] // group
            c, q, m = quantize(wd[:, i], scales[:, g], zps[:, g], fmt)
            codes[:, i], deq[:, i], margin[:, i] = c, q, m
            err = (wd[:, i] - q) / u[i, i]
            if block is None:
                wd[:, i:] -= np.outer(err, u[i, i:])
            else:
                wd[:, i:i2] -= np.outer(err, u[i, i:i2])
                err1[:, i - i1] = err
        if block is not None:
            wd[:, i2:] -= err1 @ u[i1:i2, i2:]
    out_codes = np.empty_like(codes)
    out_margin = np.empty_like(margin)
    out_deq = np.empty_like(deq)
    out_codes[:, perm] = codes
    out_margin[:, perm] = margin
    out_deq[:, perm] = deq
    return out_codes, scales, zps, out_margin, out_deq, perm


def rtn(w, x, fmt, symmetric, group):
    """Round to nearest from the original weights (after the dead-input zeroing), per group."""
    h_diag = np.einsum("ij,ij->j", x.astype(np.float64), x.astype(np.float64))
    wd = w.astype(np.float64).copy()
    wd[:, h_diag == 0] = 0.0
    codes = np.zeros(w.shape, dtype=np.int64)
    deq = np.zeros(w.shape)
    for g in range(w.shape[1] // group):
        cols = slice(g * group, (g + 1) * group)
        s, z = group_qparams(wd[:, cols], fmt, symmetric)
        for j in range(g * group, (g + 1) * group):
            codes[:, j], deq[:, j], _ = quantize(wd[:, j], s, z, fmt)
    return codes, deq


def output_error(x, w, q):
    x64 = x.astype(np.float64)
    d = x64 @ w.astype(np.float64).T - x64 @ q.T
    return float(np.sum(d * d))


def main():
    x, w = make_data()
    gf = GoldenFile("generate_gptq.py")
    gf.lines.append(f"# GPTQ in float64, unblocked; K={K} N={N} n={NROWS} percdamp={PERCDAMP}; "
                    "x column 5 dead, column 9 == column 10, columns 0..7 scaled by 4")
    for name, fmt, sym, group, act, static in CONFIGS:
        gf.lines.append(f"# {name}: {fmt} {'symmetric' if sym else 'affine'}, group {group}"
                        f"{' (per channel)' if group == K else ''}, act_order {act}, "
                        f"static_groups {static or group == K}")
    gf.emit("x", x)
    gf.emit("w", w)

    for name, fmt, sym, group, act, static in CONFIGS:
        codes, scales, zps, margin, deq, perm = gptq(w, x, fmt, sym, group, act, static)
        b_codes, b_scales, b_zps, _, _, b_perm = gptq(w, x, fmt, sym, group, act, static, block=16)
        assert np.array_equal(codes, b_codes), f"{name}: blocked codes differ"
        assert np.array_equal(scales, b_scales) and np.array_equal(zps, b_zps), f"{name}: qparams"
        assert np.array_equal(perm, b_perm)
        r_codes, r_deq = rtn(w, x, fmt, sym, group)
        err_gptq = output_error(x, w, deq)
        err_rtn = output_error(x, w, r_deq)
        assert err_gptq < err_rtn, f"{name}: GPTQ {err_gptq} >= RTN {err_rtn}"
        print(f"{name}: err_gptq {err_gptq:.6g}  err_rtn {err_rtn:.6g}  "
              f"codes differing from RTN {int(np.sum(codes != r_codes))}/{codes.size}  "
              f"min margin {margin.min():.6g}  clamped {int(np.sum(margin == 1.0))}",
              file=sys.stderr)
        gf.emit(f"{name}.codes", codes)
        gf.emit(f"{name}.scale", scales)
        gf.emit(f"{name}.zero_point", zps)
        gf.emit(f"{name}.margin", margin.astype(F32))
        gf.emit(f"{name}.err_gptq", np.array([err_gptq], dtype=F32))
        gf.emit(f"{name}.err_rtn", np.array([err_rtn], dtype=F32))
        gf.emit(f"{name}.perm", perm.astype(np.int64))
    gf.write("gptq_golden.txt")


if __name__ == "__main__":
    main()
