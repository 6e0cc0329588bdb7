// Reads a GGUF file with Hugging Face's independent parser (npm package @huggingface/gguf) and
// prints what it found as JSON: version, data offset, metadata, and per tensor its name, shape
// (innermost first), ggml type and offset. Checks what that parser does not: every tensor offset
// and the data section are aligned to general.alignment (32 by default), and every tensor's
// bytes lie inside the file without overlapping another's.
//
//   npm install @huggingface/gguf          (once, in this folder or any parent)
//   node tests/golden/check_gguf.mjs FILE  (exit status 1 on a violation)
import { gguf } from "@huggingface/gguf";
import { statSync } from "node:fs";
import { resolve } from "node:path";

const file = resolve(process.argv[2]);
const out = await gguf(file, { allowLocalFile: true });
const blocks = { 0: [1, 4], 1: [1, 2], 2: [32, 18], 3: [32, 20], 8: [32, 34], 14: [256, 210], 30: [1, 2] };
const alignment = BigInt(out.metadata["general.alignment"] ?? 32);
const size = BigInt(statSync(file).size);
const problems = [];
if (out.tensorDataOffset % alignment !== 0n) problems.push(`data section at ${out.tensorDataOffset} is not aligned`);
const ranges = [];
for (const t of out.tensorInfos) {
  if (t.offset % alignment !== 0n) problems.push(`${t.name}: offset ${t.offset} is not aligned`);
  const [block, bytes] = blocks[t.dtype] ?? [0, 0];
  if (!block) { problems.push(`${t.name}: type ${t.dtype} not known to this check`); continue; }
  const n = t.shape.reduce((a, b) => a * b, 1n);
  const begin = out.tensorDataOffset + t.offset, end = begin + (n / BigInt(block)) * BigInt(bytes);
  if (end > size) problems.push(`${t.name}: bytes [${begin}, ${end}) past the file's ${size}`);
  ranges.push([begin, end, t.name]);
}
ranges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
for (let i = 1; i < ranges.length; ++i)
  if (ranges[i][0] < ranges[i - 1][1]) problems.push(`${ranges[i - 1][2]} and ${ranges[i][2]} overlap`);
const json = (v) => (typeof v === "bigint" ? v.toString() : v);
console.log(JSON.stringify({
  version: out.metadata.version, tensorDataOffset: out.tensorDataOffset,
  metadata: Object.fromEntries(Object.entries(out.metadata).filter(([k]) => k !== "version" && k !== "tensor_count" && k !== "kv_count")),
  tensors: out.tensorInfos.map((t) => ({ name: t.name, shape: t.shape, type: t.dtype, offset: t.offset })),
}, (k, v) => json(v), 1));
for (const p of problems) console.error(`check_gguf: ${p}`);
process.exit(problems.length ? 1 : 0);
