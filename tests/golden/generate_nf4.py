#!/usr/bin/python3
"""Golden NF4 / FP4 blocks and double-quantized absmax for lowbit's bitsandbytes-compatible 4-bit
formats: writes tests/data/nf4_golden.txt.

An independent numpy re-implementation, in float32 arithmetic, of what bitsandbytes does, written
from reading bitsandbytes-foundation/bitsandbytes (tag 0.45.0 and main at 95f9af30, 0.50.1+):

4-bit quantization (functional.quantize_4bit -> CUDA kQuantizeBlockwise / kQuantizeBlockwiseSmall
in csrc/kernels.cu, DATA_TYPE FP4 or NF4, blocksize 64 by default):
  * the input is flattened and cut into blocks of `blocksize` consecutive elements; the last block
    may be short. absmax[b] = max |x| over the valid elements of block b (the kernel pads loads
    with 0.0, which cannot change a maximum of absolute values); stored as float32.
  * the kernel computes the reciprocal once per block, r = 1.0f / absmax, and quantizes
    x * r (one float32 multiply), not x / absmax.
  * NF4 (dQuantizeNF4): a binary tree of strict `x > t` comparisons over the 15 midpoints of the
    NF4 table; the literals in the kernel equal the float32 rounding of the midpoints of adjacent
    table entries (checked below). Equivalent: code = #{thresholds t : x > t}. A value exactly on
    a midpoint therefore takes the LOWER code (toward -1), on both sides of zero.
  * FP4 (dQuantizeFP4): sign bit 0b1000 if x < 0 (so -0.0 and NaN get sign 0); then |x| goes
    through a tree of strict `>` comparisons against 7 decimal literals (0.00260417, 0.0859375,
    0.20833333, 0.29166667, 0.4166667, 0.583333, 0.8333333) which are NOT all the exact float32
    midpoints of the FP4 magnitudes (0.583333f is about 3.4e-7 below the midpoint 7/12); the
    3-bit magnitude codes in increasing value are 000, 001, 110, 111, 100, 101, 010, 011 for
    0, 0.0625, 2, 3, 4, 6, 8, 12 (divided by 12).
  * packing: two codes per byte, the element with the even index in the HIGH nibble
    (byte = code[2i] << 4 | code[2i+1]); ceil(n/2) bytes. An odd element count pads the low
    nibble of the last byte with the code of 0.0 (NF4 0b0111, FP4 0b0000).
  * absmax == 0 (an all-zero block): r = 1/0 = +inf and x * r = 0 * inf = NaN; every comparison
    is false, so NF4 gives code 0b0000 (-1.0) and FP4 code 0b0000. The stored absmax is 0, so the
    dequantized values are still (signed) zeros. (The pure-PyTorch "default" backend clamps the
    divisor to 1e-38 instead and gives NF4 0b0111; see the caveats below.)

4-bit dequantization (functional.dequantize_4bit -> kDequantizeBlockwise): value =
table[code] * absmax[block] in float32 (FP4: the 8-entry magnitude table times a sign of +-1,
then times absmax, so code 0b1000 gives -0.0).

Double quantization (quantize_4bit(..., compress_statistics=True)):
  * offset = absmax.mean() (a torch float32 reduction on the device), absmax - offset in float32,
    then quantize_blockwise(absmax - offset, blocksize=256) with the default code,
    create_dynamic_map(signed=True) (nested=False).
  * quantize_blockwise on CUDA = kQuantizeBlockwise<General8bit>: per block of 256,
    scale = max |x|, r = 1.0f / scale, dQuantize<0>(code, x * r): a 7-step binary search over
    the sorted 256-entry code starting at pivot 127 (`x > code[pivot]` goes up), ending at an
    even leaf p in [0, 254]; then if x > code[p] it picks p + 1 when x > (code[p+1] + code[p]) *
    0.5f, else p; otherwise it picks p - 1 when x < (code[p-1] + code[p]) * 0.5f, else p
    (at p == 0 the lower neighbour is code[0] itself). So an exact float32 midpoint between
    code[j] and code[j+1] goes to whichever of j, j+1 is EVEN. Inputs below code[0] = -0.99297
    (e.g. -1.0, the block's own absmax when it is negative) get code 0.
  * dequantize_4bit: absmax = dequantize_blockwise(qabsmax, state2) = code[q] * scale (float32),
    then absmax += offset (float32 add, torch in-place).
  * create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8) (functional.py): for
    i = 0..6: b = torch.linspace(0.1, 1, 2**i + 1) (float32), means = (b[:-1] + b[1:]) / 2.0,
    append (10**(i-6)) * means and its negation (the Python scalar applied as float32); then 0
    and 1.0; sorted; 256 float32 values, code[0] = -0.99296874, code[127] = 0, code[255] = 1.
    torch's CPU linspace is vectorized: runs of 2*V elements use base + k*step from a base
    computed as start + step*idx (or end - step*(steps-idx-1) past the halfway point), the tail
    uses the scalar formula (compiled with FMA); V is 8 floats with AVX2 and 16 with AVX-512, so
    the map differs by one ulp in 28 entries between the two. This script reproduces the AVX2
    layout (the one torch reports on this machine) and checks it against torch.linspace.

Caveats (other bitsandbytes paths that do not give bit-identical results):
  * the CUDA library is built with --use_fast_math (CMakeLists.txt: no precise division, subnormals
    flushed to zero), so 1.0f / absmax on the GPU may be an approximate, not correctly rounded,
    reciprocal; the values below use the IEEE float32 reciprocal. Blocks whose absmax is a power
    of two are exact either way (all the tie tests use absmax 0.5); w.recip depends on it.
  * bitsandbytes <= 0.45 quantize_blockwise on CPU (csrc/common.cpp quantize_block) normalizes
    with x / absmax, finds the left neighbour by binary search and moves right only when it is
    strictly closer (ties go to the lower index), and overwrites code[0] with -1.0.
    The current CPU path (csrc/cpu_ops.cpp quantize_cpu_impl) maps x * (1/absmax) through a
    65536-entry lookup table (approximate nearest code). The pure-PyTorch default backend
    (backends/default/ops.py) clamps to [-1, 1] and bucketizes against float32 midpoints (ties to
    the lower index), using x * (1/absmax) for full blocks but x / absmax for a short last block.
  * offset: torch's float32 mean depends on the reduction order; this file uses the float64 sum of
    the float32 values divided by n, rounded to float32, and prints whether torch's CPU mean agrees.

Records (n = 1000, blocksize 64: 16 blocks, the last one 40 elements):
  code.nf4 (16 f32), code.fp4 (16 f32, index = 4-bit code), code.dynamic (256 f32);
  w (n f32); nf4.packed / fp4.packed (500 i64 bytes), nf4.absmax / fp4.absmax (16 f32),
  nf4.dequant / fp4.dequant (n f32);
  dq.absmax_in (600 f32), dq.offset (1 f32), dq.codes (600 i64), dq.scale (3 f32, blocks of 256,
  the last one 88), dq.absmax_out (600 f32);
  dyn.x / dyn.codes: normalized inputs (midpoints, out-of-range values) and their dQuantize codes;
  w.ties_nf4, w.ties_fp4, w.recip (i64 indices into w of the planted special values).

    /usr/bin/python3 tests/golden/generate_nf4.py
"""
import sys
from fractions import Fraction

import numpy as np
import torch

from golden_io import GoldenFile

F32 = np.float32
BLOCKSIZE = 64
DQ_BLOCKSIZE = 256

# The NF4 table (csrc/kernels.cu nf4 lookup table, functional.get_4bit_type("nf4")), as the
# double literals of the source, rounded to float32 where they are used.
NF4_DOUBLE = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
              -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
              0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
              0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0]
NF4 = np.array(NF4_DOUBLE, dtype=F32)
# dQuantizeNF4's pivots: the midpoints of neighbouring entries, rounded to float32.
NF4_THRESHOLDS = np.array([(NF4_DOUBLE[i] + NF4_DOUBLE[i + 1]) / 2 for i in range(15)], dtype=F32)

# FP4 (bias 3, one mantissa bit, subnormal 0.0625) magnitudes by 3-bit code, divided by 12.
FP4_MAG = (np.array([0, 0.0625, 8, 12, 4, 6, 2, 3], dtype=F32) / F32(12)).astype(F32)
FP4_ORDER = np.argsort(FP4_MAG, kind="stable")          # magnitude codes by increasing value
# dQuantizeFP4's literals (not all equal to the float32 midpoints of FP4_MAG).
FP4_THRESHOLDS = np.array([float(s) for s in ("0.00260417", "0.0859375", "0.20833333", "0.29166667",
                                              "0.4166667", "0.583333", "0.8333333")], dtype=F32)
FP4 = np.array([FP4_MAG[c & 7] * (F32(-1) if c & 8 else F32(1)) for c in range(16)], dtype=F32)


# --------------------------------------------------------------------------- 4-bit codes

def nf4_code(x):
    """dQuantizeNF4 on float32 values: the number of pivots strictly below x (NaN -> 0)."""
    x = np.asarray(x, dtype=F32)
    return (x[..., None] > NF4_THRESHOLDS).sum(axis=-1).astype(np.int64)


def fp4_code(x):
    """dQuantizeFP4: sign bit for x < 0, magnitude from strict comparisons of |x|."""
    x = np.asarray(x, dtype=F32)
    sign = np.where(x < 0, 8, 0)
    rank = (np.abs(x)[..., None] > FP4_THRESHOLDS).sum(axis=-1)
    return (FP4_ORDER[rank] + sign).astype(np.int64)


def quantize_4bit(w, kind, blocksize=BLOCKSIZE):
    """kQuantizeBlockwise for FP4/NF4: (packed bytes, absmax per block)."""
    code_of = nf4_code if kind == "nf4" else fp4_code
    n = w.size
    blocks = -(-n // blocksize)
    absmax = np.zeros(blocks, dtype=F32)
    codes = np.zeros(n + (n & 1), dtype=np.int64)
    for b in range(blocks):
        lo, hi = b * blocksize, min((b + 1) * blocksize, n)
        blk = w[lo:hi].astype(F32)
        absmax[b] = np.abs(blk).max()
        with np.errstate(divide="ignore", invalid="ignore"):
            r = F32(1) / absmax[b]                        # +inf for an all-zero block
            if (hi - lo) & 1:                             # the kernel loads 0.0 past the end
                blk = np.append(blk, F32(0))
            codes[lo:lo + blk.size] = code_of((blk * r).astype(F32))
    packed = (codes[0::2] << 4) | codes[1::2]
    return packed.astype(np.int64), absmax


def dequantize_4bit(packed, absmax, n, kind, blocksize=BLOCKSIZE):
    table = NF4 if kind == "nf4" else FP4
    codes = np.empty(2 * packed.size, dtype=np.int64)
    codes[0::2] = packed >> 4
    codes[1::2] = packed & 0xF
    codes = codes[:n]
    scale = absmax[np.arange(n) // blocksize]
    return (table[codes] * scale).astype(F32)


# --------------------------------------------------------------------------- dynamic map

def _fma_f32(a, b, c):
    """a * b + c rounded once to float32 (nearest, ties to even)."""
    exact = Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))
    f = F32(float(exact))
    best = None
    for cand in (np.nextafter(f, F32(-np.inf)), f, np.nextafter(f, F32(np.inf))):
        key = (abs(Fraction(float(cand)) - exact), int(np.array(cand, dtype=F32).view(np.uint32)) & 1)
        if best is None or key < best[0]:
            best = (key, cand)
    return F32(best[1])


def torch_linspace_f32(start, end, steps, vec=8):
    """torch.linspace(start, end, steps) in float32 as ATen's CPU kernel computes it: step in
    float32; runs of 2*vec elements from Vectorized::arange(base, step) = base + k*step, the
    base by the scalar formula; the tail by the scalar formula (FMA-contracted)."""
    s, e = F32(start), F32(end)
    step = F32((e - s) / F32(steps - 1))
    half = steps // 2

    def scalar(idx):
        if idx < half:
            return _fma_f32(step, F32(idx), s)
        return _fma_f32(-step, F32(steps - idx - 1), e)

    out, i = [], 0
    while i <= steps - 2 * vec:
        for _ in range(2):
            base = scalar(i)
            out += [base] + [F32(base + F32(step * F32(k))) for k in range(1, vec)]
            i += vec
    while i < steps:
        out.append(scalar(i))
        i += 1
    return np.array(out, dtype=F32)


def create_dynamic_map(vec=8):
    data = []
    for i in range(7):
        b = torch_linspace_f32(0.1, 1.0, 2 ** i + 1, vec)
        means = ((b[:-1] + b[1:]) / F32(2)).astype(F32)
        scale = F32(10.0 ** (i - 6)) if i < 6 else F32(1)
        data += list((scale * means).astype(F32))
        data += list((-scale * means).astype(F32))
    data += [F32(0), F32(1)]
    assert len(data) == 256
    return np.array(sorted(data), dtype=F32)


def dquantize(code, x):
    """dQuantize<0> (csrc/kernels.cu): binary search from pivot 127, then the float32 midpoint."""
    x = F32(x)
    pivot, upper_pivot, lower_pivot = 127, 255, 0
    lower, upper = F32(-1), F32(1)
    val = code[pivot]
    i = 64
    while i > 0:
        if x > val:
            lower_pivot, lower = pivot, val
            pivot += i
        else:
            upper_pivot, upper = pivot, val
            pivot -= i
        val = code[pivot]
        i >>= 1
    if upper_pivot == 255:
        upper = code[upper_pivot]
    if lower_pivot == 0:
        lower = code[lower_pivot]
    if x > val:
        return upper_pivot if x > F32(F32(upper + val) * F32(0.5)) else pivot
    return lower_pivot if x < F32(F32(lower + val) * F32(0.5)) else pivot


def quantize_blockwise(a, code, blocksize=DQ_BLOCKSIZE):
    """kQuantizeBlockwise<General8bit>: (codes, absmax per block)."""
    n = a.size
    blocks = -(-n // blocksize)
    absmax = np.zeros(blocks, dtype=F32)
    q = np.zeros(n, dtype=np.int64)
    for b in range(blocks):
        lo, hi = b * blocksize, min((b + 1) * blocksize, n)
        absmax[b] = np.abs(a[lo:hi]).max()
        r = F32(1) / absmax[b]
        for j in range(lo, hi):
            q[j] = dquantize(code, F32(a[j] * r))
    return q, absmax


def dequantize_blockwise(q, absmax, code, blocksize=DQ_BLOCKSIZE):
    return (code[q] * absmax[np.arange(q.size) // blocksize]).astype(F32)


# --------------------------------------------------------------------------- inputs

NF4_TIE_BLOCK, FP4_TIE_BLOCK, RECIP_BLOCK, ZERO_BLOCK = 5, 9, 3, 12


def make_w(rng):
    n = 1000
    w = rng.normal(0, 0.05, n).astype(F32)
    # scattered exact zeros (and one negative zero: FP4 code 0, not 8) outside the special blocks
    for i in (3, 77, 150, 222, 401, 530, 700, 905):
        w[i] = 0.0
    w[645] = -0.0
    w[130] = 0.5                                       # outliers
    w[880] = -0.5
    w[ZERO_BLOCK * 64:(ZERO_BLOCK + 1) * 64] = 0.0     # one all-zero block

    ties_nf4 = []                                      # block 5: absmax exactly 0.5, r = 2
    base = NF4_TIE_BLOCK * 64
    w[base] = 0.5
    for k, t in enumerate(NF4_THRESHOLDS):
        w[base + 1 + k] = F32(t * F32(0.5))                                    # on a pivot: lower code
        w[base + 16 + k] = F32(np.nextafter(t, F32(np.inf)) * F32(0.5))         # one ulp above: upper
        ties_nf4 += [base + 1 + k, base + 16 + k]

    ties_fp4 = []                                      # block 9: absmax exactly 0.5 (from -0.5)
    base = FP4_TIE_BLOCK * 64
    w[base] = -0.5
    mids = ((FP4_MAG[FP4_ORDER][:-1] + FP4_MAG[FP4_ORDER][1:]) * F32(0.5)).astype(F32)
    pos = base + 1
    for t, m in zip(FP4_THRESHOLDS, mids):
        for v in (t, np.nextafter(t, F32(np.inf)), m):   # literal pivot, one ulp above, true midpoint
            for s in (F32(1), F32(-1)):
                w[pos] = F32(s * v * F32(0.5))
                ties_fp4.append(pos)
                pos += 1
    assert pos <= base + 64

    # block 3: values where x * (1/absmax) and x / absmax give different codes
    base = RECIP_BLOCK * 64
    blk = w[base:base + 64]
    a = F32(np.abs(blk).max())
    assert a != F32(2.0) ** np.round(np.log2(a))
    r = F32(1) / a
    free = [j for j in range(1, 64) if abs(blk[j]) < F32(0.9) * a]
    recip = []
    for code_of, pivots in ((nf4_code, NF4_THRESHOLDS), (fp4_code, FP4_THRESHOLDS)):
        found = None
        for t in pivots:
            v0 = F32(t * a)
            cands = [v0]
            for _ in range(6):
                cands = [np.nextafter(cands[0], F32(-np.inf))] + cands + [np.nextafter(cands[-1], F32(np.inf))]
            for v in cands:
                if abs(v) < a and code_of(F32(v * r)) != code_of(F32(v / a)):
                    found = v
                    break
            if found is not None:
                break
        if found is not None:
            j = free.pop(0)
            w[base + j] = found
            recip.append(base + j)
    assert F32(np.abs(w[base:base + 64]).max()) == a
    return w, np.array(ties_nf4), np.array(ties_fp4), np.array(recip, dtype=np.int64)


def make_absmax_in(rng):
    a = (np.abs(rng.normal(0, 1, 600)) * 0.1 + 0.01).astype(F32)
    a[512:] = (np.abs(rng.normal(0, 1, 88)) * 0.02 + 0.01).astype(F32)   # a quieter last block
    a[17], a[300], a[301] = 2.5, 1.75, 0.9                              # a few large ones
    return a


def dyn_inputs(code):
    """Normalized inputs for dQuantize: exact float32 midpoints (even and odd lower index, both
    signs), one ulp either side, code entries themselves, and values outside [code[0], 1]."""
    xs = []
    for j in (0, 1, 2, 3, 62, 63, 64, 125, 126, 127, 128, 129, 190, 191, 252, 253, 254):
        m = F32(F32(code[j] + code[j + 1]) * F32(0.5))
        xs += [m, np.nextafter(m, F32(-np.inf)), np.nextafter(m, F32(np.inf))]
    xs += [code[0], code[1], code[127], code[200], code[254], code[255]]
    xs += [F32(-1), np.nextafter(code[0], F32(-np.inf)), F32(-0.0), F32(1e-9), F32(-1e-9)]
    return np.array(xs, dtype=F32)


# --------------------------------------------------------------------------- checks

def self_checks(code):
    assert np.array_equal(NF4_THRESHOLDS, ((NF4[:-1] + NF4[1:]) * F32(0.5)).astype(F32))
    assert FP4[8] == 0 and np.signbit(FP4[8])
    # the AVX2 linspace emulation against this torch (which reports its CPU capability)
    cap = torch.backends.cpu.get_cpu_capability() if hasattr(torch.backends, "cpu") else "AVX2?"
    for k in range(7):
        mine = torch_linspace_f32(0.1, 1.0, 2 ** k + 1)
        theirs = torch.linspace(0.1, 1, 2 ** k + 1).numpy()
        if not np.array_equal(mine, theirs):
            print(f"warning: torch.linspace (capability {cap}) differs from the AVX2 layout "
                  f"for {2 ** k + 1} steps", file=sys.stderr)
    # bitsandbytes' create_dynamic_map, run with this torch
    data = []
    for i in range(7):
        b = torch.linspace(0.1, 1, 2 ** i + 1, dtype=torch.float32)
        means = (b[:-1] + b[1:]) / 2.0
        data += ((10 ** (-6 + i)) * means).tolist() + (-(10 ** (-6 + i)) * means).tolist()
    data = sorted(data + [0, 1.0])
    ref = torch.tensor(data, dtype=torch.float32).numpy()
    print(f"dynamic map vs this torch's create_dynamic_map: {int((ref != code).sum())} entries differ; "
          f"AVX-512 layout differs in {int((create_dynamic_map(16) != code).sum())}", file=sys.stderr)


def compare_nearest(x, codes, table, label):
    """Report where the kernel rule differs from a plain nearest-value (ties to lower) rule."""
    x = np.asarray(x, dtype=F32)
    order = np.argsort(table, kind="stable")
    srt = table[order]
    mids = ((srt[:-1] + srt[1:]) * F32(0.5)).astype(F32)
    near = order[np.searchsorted(mids, np.clip(x, -1, 1), side="left")]
    diff = np.nonzero(table[near] != table[codes])[0]
    print(f"{label}: {diff.size} of {x.size} differ from nearest/ties-down", file=sys.stderr)
    return diff


def main():
    rng = np.random.RandomState(20261202)
    code_dyn = create_dynamic_map()
    self_checks(code_dyn)

    w, ties_nf4, ties_fp4, recip = make_w(rng)
    n = w.size
    gf = GoldenFile("generate_nf4.py")
    gf.lines.append("# bitsandbytes 4-bit (NF4, FP4; blocksize 64) and double quantization (dynamic map, "
                    "blocksize 256) as the CUDA kernels compute them (see the generator's docstring)")
    gf.lines.append(f"# w: block {NF4_TIE_BLOCK} absmax 0.5 with NF4 pivots*0.5 (ties, lower code) and one "
                    f"ulp above; block {FP4_TIE_BLOCK} absmax 0.5 with +-FP4 literal pivots*0.5, one ulp "
                    f"above and the float32 midpoints; block {ZERO_BLOCK} all zero (NF4 codes 0, FP4 0); "
                    f"w[645] = -0.0; w.recip = indices in block {RECIP_BLOCK} where x*(1/absmax) and "
                    f"x/absmax give different codes (nf4 first, then fp4)")
    gf.emit("code.nf4", NF4)
    gf.emit("code.fp4", FP4)
    gf.emit("code.dynamic", code_dyn)
    gf.emit("w", w)
    gf.emit("w.ties_nf4", ties_nf4.astype(np.int64))
    gf.emit("w.ties_fp4", ties_fp4.astype(np.int64))
    gf.emit("w.recip", recip)

    for kind, table in (("nf4", NF4), ("fp4", FP4)):
        packed, absmax = quantize_4bit(w, kind)
        deq = dequantize_4bit(packed, absmax, n, kind)
        gf.emit(f"{kind}.packed", packed)
        gf.emit(f"{kind}.absmax", absmax)
        gf.emit(f"{kind}.dequant", deq)
        codes = np.empty(2 * packed.size, dtype=np.int64)
        codes[0::2], codes[1::2] = packed >> 4, packed & 0xF
        with np.errstate(divide="ignore", invalid="ignore"):
            xn = (w * (F32(1) / absmax[np.arange(n) // BLOCKSIZE])).astype(F32)
        d = compare_nearest(np.nan_to_num(xn, nan=0.0), codes[:n], table, f"{kind} codes")
        print(f"  at w indices {d.tolist()}", file=sys.stderr)
        print(f"{kind}: first bytes {packed[:8].tolist()}, absmax[:3] {absmax[:3].tolist()}",
              file=sys.stderr)

    a = make_absmax_in(rng)
    offset = F32(a.astype(np.float64).sum() / a.size)
    t_mean = F32(torch.from_numpy(a).mean().item())
    seq = F32(0)
    for v in a:
        seq = F32(seq + v)
    seq = F32(seq / F32(a.size))
    print(f"offset {offset!r} (float64 sum / n); torch CPU float32 mean {t_mean!r}; "
          f"sequential float32 sum / n {seq!r}", file=sys.stderr)
    centered = (a - offset).astype(F32)
    q, scale = quantize_blockwise(centered, code_dyn)
    out = (dequantize_blockwise(q, scale, code_dyn) + offset).astype(F32)
    gf.lines.append("# dq: offset = float32(float64 sum of dq.absmax_in / 600); codes of absmax_in - offset "
                    "(float32) with the dynamic map, blocks of 256; absmax_out = code[q]*scale + offset")
    gf.emit("dq.absmax_in", a)
    gf.emit("dq.offset", np.array([offset], dtype=F32))
    gf.emit("dq.codes", q)
    gf.emit("dq.scale", scale)
    gf.emit("dq.absmax_out", out)
    xn = np.concatenate([(centered[b * 256:(b + 1) * 256] * (F32(1) / scale[b])).astype(F32)
                         for b in range(scale.size)])
    compare_nearest(xn, q, code_dyn, "dq codes")
    print(f"dq: codes[:8] {q[:8].tolist()}, scale {scale.tolist()}, "
          f"max |out - in| {float(np.abs(out - a).max()):.3g}", file=sys.stderr)

    xs = dyn_inputs(code_dyn)
    dcodes = np.array([dquantize(code_dyn, x) for x in xs], dtype=np.int64)
    gf.emit("dyn.x", xs)
    gf.emit("dyn.codes", dcodes)
    compare_nearest(xs, dcodes, code_dyn, "dyn codes")
    gf.write("nf4_golden.txt")


if __name__ == "__main__":
    main()
