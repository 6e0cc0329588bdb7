#!/usr/bin/python3
"""A safetensors file with lowbit's quantized tensors, written and read independently of lowbit.

Writes tests/data/safetensors_golden.safetensors: plain tensors of every dtype lowbit converts
(F32, F16, BF16, I8, U8; a scalar and an empty tensor), quantized tensors and packed sub-byte
weights in the layout documented in include/lowbit/io/safetensors.hpp (codes quantized here with
numpy, qparams as separate tensors, a JSON description per tensor in __metadata__), and for each
of them the float values it must dequantize to, as "expect.<name>" (F32). The file follows the
writer's canonical layout (compact header, spaces to a multiple of 8, tensors by decreasing
element size), so tests/io/safetensors_test.cpp checks that lowbit writes the same bytes.

    /usr/bin/python3 tests/golden/generate_safetensors.py              # writes the golden file
    /usr/bin/python3 tests/golden/generate_safetensors.py --check F    # reads a file lowbit wrote

--check reads F with json + numpy only, dequantizes every lowbit tensor from its metadata and
compares it bit for bit with its "expect.<name>" tensor (exit status 1 on any difference).
Only numpy is needed.
"""
import json
import os
import struct
import sys

import numpy as np

F32 = np.float32
SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4,
         "F64": 8, "I64": 8, "U64": 8}
NUMPY = {"U8": np.uint8, "I8": np.int8, "F16": np.float16, "I32": np.int32, "F32": np.float32}
FORMATS = {  # name: (bits, qmin, qmax)
    "int8": (8, -128, 127), "uint8": (8, 0, 255), "int4": (4, -8, 7), "uint4": (4, 0, 15),
    "int2": (2, -2, 1), "uint2": (2, 0, 3)}


def symmetric_zero_point(fmt):
    bits, qmin, qmax = FORMATS[fmt]
    if qmin < 0:
        return 0
    return 128 if (bits, qmin, qmax) == (8, 0, 255) else (qmin + qmax) // 2


# ---------------------------------------------------------------------------------------------
# Writing


class Writer:
    def __init__(self):
        self.tensors = []   # (name, dtype, shape, bytes)
        self.metadata = {}

    def add(self, name, dtype, shape, raw):
        assert len(raw) == int(np.prod(shape, dtype=np.int64)) * SIZES[dtype], name
        self.tensors.append((name, dtype, list(shape), bytes(raw)))

    def add_array(self, name, a, dtype):
        self.add(name, dtype, a.shape, np.ascontiguousarray(a).astype(NUMPY[dtype]).tobytes())

    def bytes(self):
        order = sorted(self.tensors, key=lambda t: -SIZES[t[1]])  # stable: insertion order within a size
        header = {}
        if self.metadata:
            header["__metadata__"] = self.metadata
        offset = 0
        for name, dtype, shape, raw in order:
            header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
            offset += len(raw)
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        text += b" " * (-len(text) % 8)
        return struct.pack("<Q", len(text)) + text + b"".join(t[3] for t in order)


def pack_codes(codes, bits):
    """C-order codes, 8 / bits per byte, first element in the lowest bits (two's complement)."""
    codes = [int(c) & ((1 << bits) - 1) for c in np.asarray(codes).reshape(-1)]
    per = 8 // bits
    out = bytearray((len(codes) + per - 1) // per)
    for i, c in enumerate(codes):
        out[i // per] |= c << (bits * (i % per))
    return bytes(out)


def code_tensor(w, name, fmt, codes):
    bits, qmin, _ = FORMATS[fmt]
    if bits == 8:
        w.add_array(name, codes, "I8" if qmin < 0 else "U8")
    else:
        raw = pack_codes(codes, bits)
        w.add(name, "U8", [len(raw)], raw)


def slot_index(shape, gran, axis, group):
    """Qparam slot shape and, per element (C order), its index into the flattened slots."""
    idx = np.indices(shape).reshape(len(shape), -1)
    if gran == "tensor":
        return [], np.zeros(idx.shape[1], dtype=np.int64)
    if gran == "channel":
        return [shape[axis]], idx[axis]
    slots = list(shape)
    slots[axis] = -(-shape[axis] // group)
    blocked = idx.copy()
    blocked[axis] //= group
    return slots, np.ravel_multi_index(blocked, slots)


def quantized(w, rng, name, fmt, scheme, gran, axis, group, shape, rounding=None):
    bits, qmin, qmax = FORMATS[fmt]
    x = rng.standard_normal(shape).astype(F32)
    slots, slot = slot_index(shape, gran, axis, group)
    count = int(np.prod(slots, dtype=np.int64))
    scale = (rng.uniform(0.05, 0.5, count)).astype(F32)
    if scheme == "affine":
        zp = rng.integers(qmin, qmax + 1, count).astype(np.int32)
    else:
        zp = np.full(count, symmetric_zero_point(fmt), dtype=np.int32)
    codes = np.clip(np.rint(x.reshape(-1) / scale[slot]) + zp[slot], qmin, qmax).astype(np.int64)
    code_tensor(w, name, fmt, codes.reshape(shape))
    w.add_array(name + ".scale", scale.reshape(slots), "F32")
    if scheme == "affine":
        w.add_array(name + ".zero_point", zp.reshape(slots), "I32")
    meta = {"kind": "quantized_tensor", "format": fmt, "bits": bits, "qmin": qmin, "qmax": qmax, "scheme": scheme,
            "granularity": gran, "axis": axis if gran != "tensor" else 0,
            "group_size": group if gran == "group" else 0, "shape": list(shape)}
    if rounding:
        meta["rounding"] = rounding
    w.metadata["lowbit.version"] = "1"
    w.metadata["lowbit:" + name] = json.dumps(meta, separators=(",", ":"))
    return ((codes - zp[slot]).astype(F32) * scale[slot]).astype(F32).reshape(shape)


def half(v):
    return np.asarray(v, dtype=np.float32).astype(np.float16)


def packed(w, rng, name, fmt, offsets, group, n, k, bias=False):
    bits, qmin, qmax = FORMATS[fmt]
    groups = 1 if group == 0 else -(-k // group)
    codes = rng.integers(qmin, qmax + 1, (n, k)).astype(np.int64)
    scale = half(rng.uniform(0.01, 0.2, (n, groups)))
    slot = np.arange(k) // (group if group else max(k, 1))
    code_tensor(w, name, fmt, codes)
    w.add_array(name + ".scale", scale, "F16")
    d = scale.astype(np.float64)[:, slot]
    if offsets == "zero_point":
        zp = rng.integers(qmin, qmax + 1, (n, groups)).astype(np.int32)
        w.add_array(name + ".zero_point", zp, "I8" if qmin < 0 else "U8")  # a byte each, as the codes
        deq = ((codes - zp[:, slot]).astype(F32) * d.astype(F32)).astype(F32)
    elif offsets == "min":
        mn = half(rng.uniform(-1, 0, (n, groups)))
        w.add_array(name + ".min", mn, "F16")
        deq = (d * (codes - qmin) + mn.astype(np.float64)[:, slot]).astype(F32)  # exact in double: one rounding
    else:
        deq = ((codes - symmetric_zero_point(fmt)).astype(F32) * d.astype(F32)).astype(F32)
    if bias:
        w.add_array(name + ".bias", rng.standard_normal(n).astype(F32), "F32")
    meta = {"kind": "packed_lowbit_weights", "format": fmt, "bits": bits, "qmin": qmin, "qmax": qmax,
            "offsets": offsets, "group_size": group, "shape": [n, k]}
    w.metadata["lowbit.version"] = "1"
    w.metadata["lowbit:" + name] = json.dumps(meta, separators=(",", ":"))
    return deq


def bf16_bits(x):
    """float32 -> bfloat16 bits, rounded to nearest even."""
    b = np.asarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    b = (b + 0x7FFF + ((b >> 16) & 1)) >> 16
    return b.astype(np.uint16)


def generate():
    rng = np.random.default_rng(2026)
    w = Writer()
    w.metadata["format"] = "pt"
    expect = []
    f32 = np.array([[1.5, -0.0, 1e-40], [3.4e38, -2.25, 7.0]], dtype=F32)
    w.add_array("plain.f32", f32, "F32")
    f16 = half([0.1, -65504, 6e-8, 1.0, -0.0])
    w.add_array("plain.f16", f16, "F16")
    expect.append(("plain.f16", f16.astype(F32)))
    bf = bf16_bits([3.14159, -1e30, 1e-39, 0.5])
    w.add("plain.bf16", "BF16", [4], bf.tobytes())
    expect.append(("plain.bf16", (bf.astype(np.uint32) << 16).view(F32)))
    i8 = np.array([[-128, 127], [0, -1]], dtype=np.int8)
    w.add_array("plain.i8", i8, "I8")
    expect.append(("plain.i8", i8.astype(F32)))
    u8 = np.array([0, 255, 7], dtype=np.uint8)
    w.add_array("plain.u8", u8, "U8")
    expect.append(("plain.u8", u8.astype(F32)))
    w.add_array("plain.scalar", np.array(2.5, dtype=F32), "F32")
    w.add_array("plain.empty", np.zeros((0, 4), dtype=F32), "F32")
    configs = [
        ("q.int8_tensor_symmetric", "int8", "symmetric", "tensor", 0, 0, [3, 5], "reciprocal_multiply"),
        ("q.uint8_channel_affine", "uint8", "affine", "channel", 0, 0, [4, 6], None),
        ("q.int4_group_affine", "int4", "affine", "group", 1, 4, [3, 10], "true_divide"),
        ("q.uint4_channel_symmetric", "uint4", "symmetric", "channel", 1, 0, [5, 3], None),
        ("q.int2_tensor_affine", "int2", "affine", "tensor", 0, 0, [7], None),
        ("q.uint2_group_symmetric", "uint2", "symmetric", "group", 0, 2, [5, 3], None),
        ("q.int4_rank3_group", "int4", "symmetric", "group", 2, 8, [2, 3, 12], None),
    ]
    for name, fmt, scheme, gran, axis, group, shape, rounding in configs:
        expect.append((name, quantized(w, rng, name, fmt, scheme, gran, axis, group, shape, rounding)))
    expect.append(("p.int4_g32_symmetric", packed(w, rng, "p.int4_g32_symmetric", "int4", "symmetric", 32, 3, 40)))
    expect.append(("p.uint4_g32_min", packed(w, rng, "p.uint4_g32_min", "uint4", "min", 32, 2, 64, bias=True)))
    expect.append(("p.int8_channel_zero_point", packed(w, rng, "p.int8_channel_zero_point", "int8", "zero_point", 0, 3, 7)))
    expect.append(("p.uint2_g8_zero_point", packed(w, rng, "p.uint2_g8_zero_point", "uint2", "zero_point", 8, 2, 21)))
    for name, values in expect:
        w.add_array("expect." + name, np.asarray(values, dtype=F32), "F32")
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "safetensors_golden.safetensors")
    with open(out, "wb") as f:
        f.write(w.bytes())
    print(f"wrote {len(w.tensors)} tensors to {os.path.relpath(out)}", file=sys.stderr)


# ---------------------------------------------------------------------------------------------
# Reading (independent of the writer above: only the file)


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, t in header.items():
        b, e = t["data_offsets"]
        tensors[name] = (t["dtype"], t["shape"], data[base + b:base + e])
    return tensors, meta


def as_array(t):
    dtype, shape, raw = t
    if dtype == "BF16":
        return (np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16).view(F32).reshape(shape)
    return np.frombuffer(raw, dtype=NUMPY[dtype]).reshape(shape)


def unpack_codes(t, fmt, count):
    bits, qmin, _ = FORMATS[fmt]
    raw = np.frombuffer(t[2], dtype=np.uint8)
    if bits == 8:
        return raw.view(np.int8 if qmin < 0 else np.uint8).astype(np.int64)[:count]
    per = 8 // bits
    i = np.arange(count)
    u = (raw[i // per].astype(np.int64) >> (bits * (i % per))) & ((1 << bits) - 1)
    if qmin < 0:
        u = np.where(u >= 1 << (bits - 1), u - (1 << bits), u)
    return u


def dequantize(tensors, name, m):
    shape = m["shape"]
    count = int(np.prod(shape, dtype=np.int64))
    codes = unpack_codes(tensors[name], m["format"], count)
    if m["kind"] == "quantized_tensor":
        slots, slot = slot_index(shape, m["granularity"], m["axis"], m["group_size"])
        scale = as_array(tensors[name + ".scale"]).reshape(-1)
        if m["scheme"] == "affine":
            zp = as_array(tensors[name + ".zero_point"]).reshape(-1).astype(np.int64)
        else:
            zp = np.full(scale.size, symmetric_zero_point(m["format"]), dtype=np.int64)
        return ((codes - zp[slot]).astype(F32) * scale[slot]).astype(F32).reshape(shape)
    n, k = shape
    group = m["group_size"]
    codes = codes.reshape(n, k)
    slot = np.arange(k) // (group if group else max(k, 1))
    d = as_array(tensors[name + ".scale"]).astype(np.float64)[:, slot]
    if m["offsets"] == "min":
        mn = as_array(tensors[name + ".min"]).astype(np.float64)[:, slot]
        return (d * (codes - FORMATS[m["format"]][1]) + mn).astype(F32)
    if m["offsets"] == "zero_point":
        zp = as_array(tensors[name + ".zero_point"]).astype(np.int64)[:, slot]
    else:
        zp = symmetric_zero_point(m["format"])
    return ((codes - zp).astype(F32) * d.astype(F32)).astype(F32)


def check(path):
    tensors, meta = read(path)
    bad = 0
    checked = 0
    for name in [k[len("expect."):] for k in tensors if k.startswith("expect.")]:
        want = as_array(tensors["expect." + name])
        if "lowbit:" + name in meta:
            got = dequantize(tensors, name, json.loads(meta["lowbit:" + name]))
        else:
            got = as_array(tensors[name]).astype(F32)
        same = got.shape == want.shape and np.array_equal(got.view(np.uint32), want.view(np.uint32))
        checked += 1
        if not same:
            bad += 1
            print(f"{name}: differs", file=sys.stderr)
    print(f"{path}: {checked} tensors checked, {bad} differ")
    return 1 if bad or checked == 0 else 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        sys.exit(check(sys.argv[2]))
    generate()
