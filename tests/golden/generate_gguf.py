#!/usr/bin/python3
"""A GGUF v3 file written independently of lowbit, for tests/io/gguf_test.cpp.

Writes tests/data/gguf_golden.gguf following ggml's docs/gguf.md: metadata of every value type
(strings, numbers, a bool, arrays of strings and of integers, a non-default general.alignment of
64), and tensors of type F32, F16, BF16, Q4_0, Q4_1 and Q8_0 (blocks quantized by
generate_ggml.py's independent implementation of ggml's reference code), an opaque Q6_K tensor,
and for the float-convertible ones the values they hold as "expect.<name>" (F32). Layout:
metadata in the order written, tensors in the order added, each tensor's data padded with zeros
to the alignment (the last one too), as lowbit's writer does, so the test checks that lowbit
writes the same bytes after reading them.

    /usr/bin/python3 tests/golden/generate_gguf.py
"""
import os
import struct
import sys

import numpy as np

import generate_ggml as ggml

F32 = np.float32
TYPES = {"F32": (0, 1, 4), "F16": (1, 1, 2), "Q4_0": (2, 32, 18), "Q4_1": (3, 32, 20), "Q8_0": (8, 32, 34),
         "Q6_K": (14, 256, 210), "BF16": (30, 1, 2)}
# value types: u8 i8 u16 i16 u32 i32 f32 bool string array u64 i64 f64
FMT = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<B", 10: "<Q", 11: "<q", 12: "<d"}


def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gvalue(t, v):
    if t == 8:
        return gstr(v)
    if t == 9:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(gvalue(et, x) for x in items)
    return struct.pack(FMT[t], v)


def main():
    rng = np.random.default_rng(99)
    alignment = 64
    kv = [("general.architecture", 8, "lowbit-test"), ("general.alignment", 4, alignment), ("u8", 0, 200), ("i8", 1, -100),
          ("u16", 2, 60000), ("i16", 3, -30000), ("i32", 5, -2_000_000_000), ("f32", 6, 0.1), ("flag", 7, 1),
          ("u64", 10, 2**63 + 5), ("i64", 11, -2**62), ("f64", 12, 3.141592653589793),
          ("tokens", 9, (8, ["<s>", "</s>", "h\u00e9llo", ""])), ("ids", 9, (5, [1, -2, 3])),
          ("nested", 9, (9, [(4, [7, 8]), (4, [])]))]
    tensors = []   # (name, type, dims innermost first, raw)
    expect = []

    w = rng.normal(0, 1, (3, 5)).astype(F32)
    tensors.append(("t.f32", "F32", [5, 3], w.tobytes()))
    h = rng.normal(0, 1, 7).astype(np.float16)
    tensors.append(("t.f16", "F16", [7], h.tobytes()))
    expect.append(("t.f16", h.astype(F32)))
    bf = np.array([0x3F80, 0xC0A0, 0x0001, 0x7F7F], dtype=np.uint16)
    tensors.append(("t.bf16", "BF16", [4], bf.tobytes()))
    expect.append(("t.bf16", (bf.astype(np.uint32) << 16).view(F32)))
    for name, kind, rows, fn in (("w.q4_0", "Q4_0", 2, ggml.q4_0_block), ("w.q4_1", "Q4_1", 3, ggml.q4_1_block),
                                 ("w.q8_0", "Q8_0", 2, ggml.q8_0_block)):
        x = rng.normal(0, 0.1, (rows, 64)).astype(F32)
        blocks = ggml.blocks(x, fn).astype(np.uint8)
        tensors.append((name, kind, [64, rows], blocks.tobytes()))
        expect.append((name, dequantize(kind, blocks, rows, 64)))
    tensors.append(("opaque.q6_k", "Q6_K", [256, 1], rng.integers(0, 256, 210).astype(np.uint8).tobytes()))
    for name, values in expect:
        v = np.asarray(values, dtype=F32)
        dims = list(reversed(v.shape)) if v.ndim else [1]
        tensors.append(("expect." + name, "F32", dims, v.tobytes()))

    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv)))
    for key, t, v in kv:
        out += gstr(key) + struct.pack("<I", t) + gvalue(t, v)
    pad = lambda n: (alignment - n % alignment) % alignment
    offset = 0
    for name, kind, dims, raw in tensors:
        out += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", TYPES[kind][0], offset)
        offset += len(raw) + pad(len(raw))
    out += bytes(pad(len(out)))
    for _, _, _, raw in tensors:
        out += raw + bytes(pad(len(raw)))
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "gguf_golden.gguf")
    with open(path, "wb") as f:
        f.write(out)
    print(f"wrote {len(tensors)} tensors, {len(out)} bytes to {os.path.relpath(path)}", file=sys.stderr)


def half(lo, hi):
    return np.array([lo | (hi << 8)], dtype=np.uint16).view(np.float16)[0].astype(F32)


def dequantize(kind, blocks, rows, k):
    """ggml's dequantize_row_*: Q4_0 (q - 8) d, Q4_1 q d + m, Q8_0 q d, each step in fp32."""
    out = np.zeros((rows, k), dtype=F32)
    per_row = k // 32
    for r in range(rows):
        for b in range(per_row):
            blk = [int(v) for v in blocks[r * per_row + b]]
            d = half(blk[0], blk[1])
            if kind == "Q8_0":
                q = [v - 256 if v >= 128 else v for v in blk[2:34]]
                vals = [F32(F32(c) * d) for c in q]
            else:
                qs = blk[4:20] if kind == "Q4_1" else blk[2:18]
                q = [qs[j] & 0xF for j in range(16)] + [qs[j] >> 4 for j in range(16)]
                if kind == "Q4_1":
                    m = half(blk[2], blk[3])
                    vals = [F32(F32(F32(c) * d) + m) for c in q]
                else:
                    vals = [F32(F32(c - 8) * d) for c in q]
            out[r, 32 * b:32 * (b + 1)] = vals
    return out


if __name__ == "__main__":
    main()
