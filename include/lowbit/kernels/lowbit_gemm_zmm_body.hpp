// lowbit/kernels/lowbit_gemm_zmm_body.hpp: the sub-byte weight micro-kernel on zmm registers, included once per AVX-512 path.
//
// No include guard: kernels/lowbit_gemm_avx512.hpp includes this file inside the namespace of each
// zmm path, after defining
//   LOWBIT_LB_TARGET   the path's target attribute
//   LOWBIT_LB_PATH     its kernel_path
//   LOWBIT_LB_MR       rows per tile (the accumulators are named for up to 6)
//   LOWBIT_LB_WIDE_MR  rows per tile on expanded codes (0: the path does not expand)
//   LOWBIT_LB_PRESCALED  1 if lowbit_dot takes bytes up to 255 (vpdpbusd): tiles of 1 or 2 rows
//                      then mask the bit fields in place instead of shifting them down (the field
//                      at bit f multiplies by 2^f, divided out by an exact arithmetic shift of the
//                      group's sum; taller tiles have no registers for the extra masks)
// and, in that namespace, the path's integer dot products on 4-byte lanes:
//   lowbit_dot(acc, u, a)   acc + sum of 4 products u * a, u unsigned codes below 16, a signed bytes
//   lowbit_dot8(acc, u, a)  the same for any unsigned byte u
//
// A tile is R rows x 64 columns (4 zmm). Per group: the accumulators start at 0; each quad is one
// or two 64-byte loads unpacked by mask (and shift) into 4 vectors of 16 columns x 4 depths, and each row's 4 bytes are broadcast against them; at the group's end -o * asum is
// added (an exact integer addition: the same isum as the contract's) and the sums are converted
// and multiplied into the float sums (facc: in memory, in registers for tiles of 1 or 2 rows), in
// the order the contract states. A one-row tile (the GEMV) alternates two sets of accumulators between even and odd quads, so
// that the chain of dependent vpdpbusd does not bound it. The panel is prefetched 2 KiB ahead.

template <int Bits>
LOWBIT_LB_TARGET LOWBIT_ALWAYS_INLINE __m512i lb_dot(__m512i acc, __m512i u, __m512i a) noexcept {
  if constexpr (Bits == 8) {
    return lowbit_dot8(acc, u, a);
  } else {
    return lowbit_dot(acc, u, a);
  }
}

/// The 4 vectors of one quad: b_v holds columns 16v .. 16v + 15, 4 depths each, as unsigned bytes.
template <int Bits, bool Prescaled>
LOWBIT_LB_TARGET LOWBIT_ALWAYS_INLINE void lb_unpack(const std::uint8_t* quad, __m512i& b0, __m512i& b1, __m512i& b2,
                                                      __m512i& b3) noexcept {
  for (int i = 0; i < Bits / 2; ++i) _mm_prefetch(reinterpret_cast<const char*>(quad + 2048 + 64 * i), _MM_HINT_T0);
  if constexpr (Bits == 8) {
    b0 = _mm512_loadu_si512(quad);
    b1 = _mm512_loadu_si512(quad + 64);
    b2 = _mm512_loadu_si512(quad + 128);
    b3 = _mm512_loadu_si512(quad + 192);
  } else if constexpr (Bits == 4) {
    const __m512i m = _mm512_set1_epi8(0x0F);
    const __m512i r0 = _mm512_loadu_si512(quad), r1 = _mm512_loadu_si512(quad + 64);
    b0 = _mm512_and_si512(r0, m);
    b2 = _mm512_and_si512(r1, m);
    if constexpr (Prescaled) {
      b1 = _mm512_andnot_si512(m, r0);  // the high nibble in place: 16 u
      b3 = _mm512_andnot_si512(m, r1);
    } else {
      b1 = _mm512_and_si512(_mm512_srli_epi16(r0, 4), m);
      b3 = _mm512_and_si512(_mm512_srli_epi16(r1, 4), m);
    }
  } else {
    const __m512i r = _mm512_loadu_si512(quad);
    if constexpr (Prescaled) {
      b0 = _mm512_and_si512(r, _mm512_set1_epi8(0x03));
      b1 = _mm512_and_si512(r, _mm512_set1_epi8(0x0C));
      b2 = _mm512_and_si512(r, _mm512_set1_epi8(0x30));
      b3 = _mm512_and_si512(r, _mm512_set1_epi8(static_cast<char>(0xC0)));
    } else {
      const __m512i m = _mm512_set1_epi8(0x03);
      b0 = _mm512_and_si512(r, m);
      b1 = _mm512_and_si512(_mm512_srli_epi16(r, 2), m);
      b2 = _mm512_and_si512(_mm512_srli_epi16(r, 4), m);
      b3 = _mm512_and_si512(_mm512_srli_epi16(r, 6), m);
    }
  }
}

/// Vector v's group sum with its bit field's factor divided out (exact: every term is a multiple).
template <int Bits, int V, bool Prescaled>
LOWBIT_LB_TARGET LOWBIT_ALWAYS_INLINE __m512i lb_unscale(__m512i c) noexcept {
  constexpr int shift = !Prescaled ? 0 : Bits == 4 ? (V % 2) * 4 : Bits == 2 ? 2 * V : 0;
  if constexpr (shift == 0) {
    return c;
  } else {
    return _mm512_srai_epi32(c, shift);
  }
}

/// 16 fp16 values widened to float.
LOWBIT_LB_TARGET LOWBIT_ALWAYS_INLINE __m512 lb_halves(const std::uint8_t* p) noexcept {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

/// -zp of 16 columns, as int32.
LOWBIT_LB_TARGET LOWBIT_ALWAYS_INLINE __m512i lb_negated_zero_points(const std::uint8_t* p) noexcept {
  return _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

LOWBIT_LB_TARGET LOWBIT_ALWAYS_INLINE __m512i lb_broadcast(const std::int8_t* p) noexcept {
  std::int32_t quad;
  std::memcpy(&quad, p, 4);
  return _mm512_set1_epi32(quad);
}

#define LOWBIT_LB_DOTS(r, ar)                                                                      \
  {                                                                                                \
    const __m512i av = lb_broadcast(ar);                                                           \
    c##r##_0 = lb_dot<Bits>(c##r##_0, b0, av);                                                     \
    c##r##_1 = lb_dot<Bits>(c##r##_1, b1, av);                                                     \
    c##r##_2 = lb_dot<Bits>(c##r##_2, b2, av);                                                     \
    c##r##_3 = lb_dot<Bits>(c##r##_3, b3, av);                                                     \
  }
#define LOWBIT_LB_ROW(r, ar) \
  if constexpr (R > r) LOWBIT_LB_DOTS(r, ar)
// The group's integer sums, completed with -o * asum (symmetric: o = z; zero_point: o = zp per
// column), then multiplied into the float sums. Kind is the same for the whole call: one branch
// per group outside the rows.
#define LOWBIT_LB_FLOAT_MEM(r, v, x)                                                               \
  {                                                                                                \
    float* f = facc + r * lowbit_nr + 16 * v;                                                      \
    __m512 y = _mm512_fmadd_ps(x, s##v, _mm512_loadu_ps(f));                                       \
    if (kind == offset_kind::min) y = _mm512_fmadd_ps(sumf, lb_halves(offsets + 32 * v), y);        \
    _mm512_storeu_ps(f, y);                                                                        \
  }
#define LOWBIT_LB_FLOAT_REG(r, v, x)                                                               \
  if constexpr (facc_in_regs) {                                                                        \
    f##r##_##v = _mm512_fmadd_ps(x, s##v, f##r##_##v);                                             \
    if (kind == offset_kind::min) f##r##_##v = _mm512_fmadd_ps(sumf, lb_halves(offsets + 32 * v), f##r##_##v); \
  } else                                                                                           \
    LOWBIT_LB_FLOAT_MEM(r, v, x)
#define LOWBIT_LB_FLOAT1(r, v, CORRECT, STORE)                                                     \
  {                                                                                                \
    const __m512i un = lb_unscale<Bits, v, prescaled>(c##r##_##v);                                            \
    const __m512 x = _mm512_cvtepi32_ps(CORRECT(un, v));                                           \
    STORE(r, v, x)                                                                                 \
  }
#define LOWBIT_LB_FLOAT(r, CORRECT, STORE)                                                         \
  if constexpr (R > r) {                                                                           \
    const std::int32_t sum = asum[r * ldsum + g];                                                  \
    const __m512i sumv = _mm512_set1_epi32(kind == offset_kind::symmetric ? -z * sum : sum);       \
    const __m512 sumf = _mm512_set1_ps(static_cast<float>(sum));                                   \
    (void)sumv, (void)sumf;                                                                        \
    LOWBIT_LB_FLOAT1(r, 0, CORRECT, STORE) LOWBIT_LB_FLOAT1(r, 1, CORRECT, STORE)                  \
    LOWBIT_LB_FLOAT1(r, 2, CORRECT, STORE) LOWBIT_LB_FLOAT1(r, 3, CORRECT, STORE)                  \
  }
#define LOWBIT_LB_FLOATS(CORRECT)                                                                  \
  LOWBIT_LB_FLOAT(0, CORRECT, LOWBIT_LB_FLOAT_REG) LOWBIT_LB_FLOAT(1, CORRECT, LOWBIT_LB_FLOAT_REG) \
  LOWBIT_LB_FLOAT(2, CORRECT, LOWBIT_LB_FLOAT_MEM) LOWBIT_LB_FLOAT(3, CORRECT, LOWBIT_LB_FLOAT_MEM) \
  LOWBIT_LB_FLOAT(4, CORRECT, LOWBIT_LB_FLOAT_MEM) LOWBIT_LB_FLOAT(5, CORRECT, LOWBIT_LB_FLOAT_MEM)
#define LOWBIT_LB_ADD_CONSTANT(c, v) _mm512_add_epi32(c, sumv)
#define LOWBIT_LB_ADD_ZERO_POINTS(c, v) _mm512_add_epi32(c, _mm512_mullo_epi32(nzp##v, sumv))
#define LOWBIT_LB_AS_IS(c, v) c


// One group of an R-row tile (R = 2 .. 6) on expanded codes in assembly (see lowbit_tile):
// accumulators zmm0 .. zmm(4R - 1) (row r, vector v in zmm 4r + v) start at the row's offset term
// (start[r], broadcast from memory: loads, no shuffles), the quad loop (rows 0-2 from p0, 3-5 from
// p3), then either the sums to memory (SUMS) or the contract's float step in place (FLOAT).
// Each piece is written once for one row; LOWBIT_LB_ASM_ROWS_R applies it to rows 0 .. R - 1.
// A row's arguments: the byte offset of its start term, the address of its 4 activation bytes, the
// byte offsets of its 4 vectors in sums and facc (row r at 256 r), and its 4 accumulators.
#define LOWBIT_LB_ASM_ROW0(P) P(0, "(%[p0])", 0, 64, 128, 192, 0, 1, 2, 3)
#define LOWBIT_LB_ASM_ROW1(P) P(4, "(%[p0],%[lda])", 256, 320, 384, 448, 4, 5, 6, 7)
#define LOWBIT_LB_ASM_ROW2(P) P(8, "(%[p0],%[lda],2)", 512, 576, 640, 704, 8, 9, 10, 11)
#define LOWBIT_LB_ASM_ROW3(P) P(12, "(%[p3])", 768, 832, 896, 960, 12, 13, 14, 15)
#define LOWBIT_LB_ASM_ROW4(P) P(16, "(%[p3],%[lda])", 1024, 1088, 1152, 1216, 16, 17, 18, 19)
#define LOWBIT_LB_ASM_ROW5(P) P(20, "(%[p3],%[lda],2)", 1280, 1344, 1408, 1472, 20, 21, 22, 23)
#define LOWBIT_LB_ASM_ROWS_2(P) LOWBIT_LB_ASM_ROW0(P) LOWBIT_LB_ASM_ROW1(P)
#define LOWBIT_LB_ASM_ROWS_3(P) LOWBIT_LB_ASM_ROWS_2(P) LOWBIT_LB_ASM_ROW2(P)
#define LOWBIT_LB_ASM_ROWS_4(P) LOWBIT_LB_ASM_ROWS_3(P) LOWBIT_LB_ASM_ROW3(P)
#define LOWBIT_LB_ASM_ROWS_5(P) LOWBIT_LB_ASM_ROWS_4(P) LOWBIT_LB_ASM_ROW4(P)
#define LOWBIT_LB_ASM_ROWS_6(P) LOWBIT_LB_ASM_ROWS_5(P) LOWBIT_LB_ASM_ROW5(P)
#define LOWBIT_LB_ASM_START_ROW(o, a, s0, s1, s2, s3, z0, z1, z2, z3) \
  "vpbroadcastd " #o "(%[o]), %%zmm" #z0 "\n\t"                      \
  "vpbroadcastd " #o "(%[o]), %%zmm" #z1 "\n\t"                      \
  "vpbroadcastd " #o "(%[o]), %%zmm" #z2 "\n\t"                      \
  "vpbroadcastd " #o "(%[o]), %%zmm" #z3 "\n\t"
#define LOWBIT_LB_ASM_DOTS_ROW(o, a, s0, s1, s2, s3, z0, z1, z2, z3) \
  "vpbroadcastd " a ", %%zmm28\n\t"                                  \
  "vpdpbusd %%zmm28, %%zmm24, %%zmm" #z0 "\n\t"                      \
  "vpdpbusd %%zmm28, %%zmm25, %%zmm" #z1 "\n\t"                      \
  "vpdpbusd %%zmm28, %%zmm26, %%zmm" #z2 "\n\t"                      \
  "vpdpbusd %%zmm28, %%zmm27, %%zmm" #z3 "\n\t"
#define LOWBIT_LB_ASM_SUMS_ROW(o, a, s0, s1, s2, s3, z0, z1, z2, z3) \
  "vmovdqa64 %%zmm" #z0 ", " #s0 "(%[s])\n\t"                        \
  "vmovdqa64 %%zmm" #z1 ", " #s1 "(%[s])\n\t"                        \
  "vmovdqa64 %%zmm" #z2 ", " #s2 "(%[s])\n\t"                        \
  "vmovdqa64 %%zmm" #z3 ", " #s3 "(%[s])\n\t"
// facc = fma(float(isum), d, facc): the 4 vectors of d (fp16 scales) are in zmm24..27.
#define LOWBIT_LB_ASM_FLOAT_VECTOR(s, z, d)      \
  "vcvtdq2ps %%zmm" #z ", %%zmm" #z "\n\t"        \
  "vfmadd213ps " #s "(%[f]), %%zmm" #d ", %%zmm" #z "\n\t" \
  "vmovups %%zmm" #z ", " #s "(%[f])\n\t"
#define LOWBIT_LB_ASM_FLOAT_ROW(o, a, s0, s1, s2, s3, z0, z1, z2, z3)                    \
  LOWBIT_LB_ASM_FLOAT_VECTOR(s0, z0, 24) LOWBIT_LB_ASM_FLOAT_VECTOR(s1, z1, 25)          \
  LOWBIT_LB_ASM_FLOAT_VECTOR(s2, z2, 26) LOWBIT_LB_ASM_FLOAT_VECTOR(s3, z3, 27)
// What precedes the rows' pieces at the group's end: the scales for FLOAT, nothing for SUMS.
#define LOWBIT_LB_ASM_SUMS_HEAD
#define LOWBIT_LB_ASM_FLOAT_HEAD        \
  "vcvtph2ps 0(%[sc]), %%zmm24\n\t"      \
  "vcvtph2ps 32(%[sc]), %%zmm25\n\t"     \
  "vcvtph2ps 64(%[sc]), %%zmm26\n\t"     \
  "vcvtph2ps 96(%[sc]), %%zmm27\n\t"
// The quad loop: 4 vectors of expanded codes, then each row's broadcast and 4 dot products.
#define LOWBIT_LB_ASM_LOOP(RR)               \
  "1:\n\t"                                  \
  "vmovdqa64 0(%[e]), %%zmm24\n\t"          \
  "vmovdqa64 64(%[e]), %%zmm25\n\t"         \
  "vmovdqa64 128(%[e]), %%zmm26\n\t"        \
  "vmovdqa64 192(%[e]), %%zmm27\n\t"        \
  LOWBIT_LB_ASM_ROWS_##RR(LOWBIT_LB_ASM_DOTS_ROW) \
  "add $256, %[e]\n\t"                      \
  "add $4, %[p0]\n\t"                       \
  "add $4, %[p3]\n\t"                       \
  "dec %[n]\n\t"                            \
  "jnz 1b\n\t"
#define LOWBIT_LB_ASM_CLOBBERS \
  "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "cc", "memory"

// The asm statement of one group for a tile of RR rows: FLOAT (symmetric weights) or SUMS.
#define LOWBIT_LB_ASM_GROUP(RR, KIND)                                                                 \
  __asm__ volatile(LOWBIT_LB_ASM_ROWS_##RR(LOWBIT_LB_ASM_START_ROW) LOWBIT_LB_ASM_LOOP(RR)            \
                   LOWBIT_LB_ASM_##KIND##_HEAD LOWBIT_LB_ASM_ROWS_##RR(LOWBIT_LB_ASM_##KIND##_ROW)    \
                   : [e] "+r"(e), [p0] "+r"(p0), [p3] "+r"(p3), [n] "+r"(n)                          \
                   : [lda] "r"(lda), [o] "r"(start), [sc] "r"(sc), [f] "r"(f), [s] "r"(sums)         \
                   : LOWBIT_LB_ASM_CLOBBERS)

/// Unpacks the codes of t.groups groups of the panel into bytes (kernels/lowbit_gemm_contract.hpp,
/// "expanded codes"): per quad the 4 vectors lb_unpack gives, 256 bytes, quads in order.
template <int Bits>
LOWBIT_LB_TARGET void lowbit_expand(const lowbit_tile_args& t, std::uint8_t* out) noexcept {
  constexpr index_t quad_bytes = 32 * Bits;
  for (index_t g = 0; g < t.groups; ++g) {
    const std::uint8_t* block = t.blocks + g * t.block_bytes;
    for (index_t q = 0; q < t.group_quads; ++q, out += 256) {
      __m512i b0, b1, b2, b3;
      lb_unpack<Bits, false>(block + q * quad_bytes, b0, b1, b2, b3);
      _mm512_store_si512(out, b0);
      _mm512_store_si512(out + 64, b1);
      _mm512_store_si512(out + 128, b2);
      _mm512_store_si512(out + 192, b3);
    }
  }
}

/// R rows x 64 columns over t.groups groups: the codes unpacked from t.blocks here, or (Expanded)
/// read as bytes from `expanded` (lowbit_expand's output for the same groups), which leaves the
/// registers for taller tiles and the unpacking to one pass per panel instead of one per tile.
template <int Bits, int R, bool Expanded = false>
LOWBIT_LB_TARGET void lowbit_tile(const lowbit_tile_args& t, const std::uint8_t* expanded = nullptr) noexcept {
  static_assert(R >= 1 && R <= (Expanded ? LOWBIT_LB_WIDE_MR : LOWBIT_LB_MR), "zmm sub-byte tiles: too many rows");
  static_assert(R <= 6, "the accumulators are named for up to 6 rows");
  constexpr index_t quad_bytes = 32 * Bits;
  const index_t group = t.group_quads * 4, quads = t.group_quads;
  // Fields masked in place (no shift) where registers allow: tiles of 1 or 2 rows.
  constexpr bool prescaled = LOWBIT_LB_PRESCALED && R <= 2 && !Expanded;
  // Tiles of 2 to 6 rows on expanded codes run each group in assembly (below), which starts the
  // sums at the symmetric offset's term and keeps the float sums in memory.
#if LOWBIT_LB_WIDE_ASM && !defined(LOWBIT_EMULATE_X86_SIMD)
  constexpr bool wide_asm = Expanded && R >= 2;
#else
  constexpr bool wide_asm = false;
#endif
  constexpr bool offset_in_sums = wide_asm;
  // Other tiles of 1 or 2 rows keep their float sums in registers.
  constexpr bool facc_in_regs = R <= 2 && !wide_asm;
  const offset_kind kind = t.kind;
  const std::int32_t z = t.z;
  const std::int32_t* const asum = t.asum;
  const index_t ldsum = t.ldsum;
  float* const facc = t.facc;
  const std::uint8_t* const blocks = t.blocks;
  const index_t block_bytes = t.block_bytes;
  __m512 f0_0 = _mm512_setzero_ps(), f0_1 = f0_0, f0_2 = f0_0, f0_3 = f0_0, f1_0 = f0_0, f1_1 = f0_0, f1_2 = f0_0, f1_3 = f0_0;
  if constexpr (facc_in_regs) {
    f0_0 = _mm512_loadu_ps(facc), f0_1 = _mm512_loadu_ps(facc + 16), f0_2 = _mm512_loadu_ps(facc + 32), f0_3 = _mm512_loadu_ps(facc + 48);
    if constexpr (R == 2) {
      f1_0 = _mm512_loadu_ps(facc + 64), f1_1 = _mm512_loadu_ps(facc + 80), f1_2 = _mm512_loadu_ps(facc + 96), f1_3 = _mm512_loadu_ps(facc + 112);
    }
  }
  const std::int8_t* a0 = t.a;
  const std::int8_t* a1 = t.a + (R > 1 ? 1 : 0) * t.lda;
  const std::int8_t* a2 = t.a + (R > 2 ? 2 : 0) * t.lda;
  const std::int8_t* a3 = t.a + (R > 3 ? 3 : 0) * t.lda;
  const std::int8_t* a4 = t.a + (R > 4 ? 4 : 0) * t.lda;
  const std::int8_t* a5 = t.a + (R > 5 ? 5 : 0) * t.lda;
  for (index_t g = 0; g < t.groups; ++g, a0 += group, a1 += group, a2 += group, a3 += group, a4 += group, a5 += group) {
    const std::uint8_t* block = blocks + g * block_bytes;
    const std::uint8_t* scales = block + group * 8 * Bits;
    const std::uint8_t* offsets = scales + 2 * lowbit_nr;
    const __m512i zero = _mm512_setzero_si512();
    __m512i c0_0 = zero, c0_1 = zero, c0_2 = zero, c0_3 = zero, c1_0 = zero, c1_1 = zero, c1_2 = zero, c1_3 = zero;
    __m512i c2_0 = zero, c2_1 = zero, c2_2 = zero, c2_3 = zero, c3_0 = zero, c3_1 = zero, c3_2 = zero, c3_3 = zero;
    __m512i c4_0 = zero, c4_1 = zero, c4_2 = zero, c4_3 = zero, c5_0 = zero, c5_1 = zero, c5_2 = zero, c5_3 = zero;
    __m512i b0, b1, b2, b3;
    if constexpr (R == 1) {
      // Two chains: even quads into c0_*, odd quads into c1_*.
      index_t q = 0;
      for (; q + 1 < quads; q += 2) {
        lb_unpack<Bits, prescaled>(block + q * quad_bytes, b0, b1, b2, b3);
        LOWBIT_LB_ROW(0, a0 + 4 * q)
        lb_unpack<Bits, prescaled>(block + (q + 1) * quad_bytes, b0, b1, b2, b3);
        LOWBIT_LB_DOTS(1, a0 + 4 * (q + 1))  // row 0's odd quad, into the second set
      }
      if (q < quads) {
        lb_unpack<Bits, prescaled>(block + q * quad_bytes, b0, b1, b2, b3);
        LOWBIT_LB_ROW(0, a0 + 4 * q)
      }
      c0_0 = _mm512_add_epi32(c0_0, c1_0);
      c0_1 = _mm512_add_epi32(c0_1, c1_1);
      c0_2 = _mm512_add_epi32(c0_2, c1_2);
      c0_3 = _mm512_add_epi32(c0_3, c1_3);
    } else if constexpr (Expanded) {
      const std::uint8_t* e = expanded + g * quads * 256;
#if LOWBIT_LB_WIDE_ASM && !defined(LOWBIT_EMULATE_X86_SIMD)
      if constexpr (wide_asm) {
        // GCC 12 cannot keep 24 accumulators in registers through this loop (it stores a copy of
        // each to the stack per quad and shuffles them between registers), and an asm statement
        // takes at most 30 operands: the whole group in assembly, accumulators zmm0 .. zmm(4R - 1)
        // (row r, vector v in zmm 4r + v), the weights in zmm24..27, the broadcast row in zmm28,
        // the symmetric offset's term already in the sums. Symmetric weights finish the group in
        // the same statement (the float step); the other kinds' sums leave through memory.
        alignas(64) std::int32_t sums[6 * 64];
        // The symmetric offset's term -z * asum starts each row's sums (the same exact int32 sum).
        std::int32_t start[6] = {};
        for (int r = 0; r < R; ++r) start[r] = kind == offset_kind::symmetric ? -z * asum[r * ldsum + g] : 0;
        const std::int8_t* p0 = a0;
        const std::int8_t* p3 = a3;
        const index_t lda = t.lda;
        index_t n = quads;
        // The float step's operands: facc = fma(float(isum), d, facc) per accumulator, d from the
        // group's fp16 scales, facc in memory (row r at facc + 64 r).
        const std::uint8_t* sc = scales;
        float* f = facc;
        if (kind == offset_kind::symmetric) {
          if constexpr (R == 2) LOWBIT_LB_ASM_GROUP(2, FLOAT);
          else if constexpr (R == 3) LOWBIT_LB_ASM_GROUP(3, FLOAT);
          else if constexpr (R == 4) LOWBIT_LB_ASM_GROUP(4, FLOAT);
          else if constexpr (R == 5) LOWBIT_LB_ASM_GROUP(5, FLOAT);
          else LOWBIT_LB_ASM_GROUP(6, FLOAT);
          continue;
        }
        if constexpr (R == 2) LOWBIT_LB_ASM_GROUP(2, SUMS);
        else if constexpr (R == 3) LOWBIT_LB_ASM_GROUP(3, SUMS);
        else if constexpr (R == 4) LOWBIT_LB_ASM_GROUP(4, SUMS);
        else if constexpr (R == 5) LOWBIT_LB_ASM_GROUP(5, SUMS);
        else LOWBIT_LB_ASM_GROUP(6, SUMS);
#define LOWBIT_LB_SUMS_ROW(r)                                                                              \
  if constexpr (R > r) {                                                                                   \
    c##r##_0 = _mm512_load_si512(sums + 64 * r), c##r##_1 = _mm512_load_si512(sums + 64 * r + 16);         \
    c##r##_2 = _mm512_load_si512(sums + 64 * r + 32), c##r##_3 = _mm512_load_si512(sums + 64 * r + 48);    \
  }
        LOWBIT_LB_SUMS_ROW(0) LOWBIT_LB_SUMS_ROW(1) LOWBIT_LB_SUMS_ROW(2)
        LOWBIT_LB_SUMS_ROW(3) LOWBIT_LB_SUMS_ROW(4) LOWBIT_LB_SUMS_ROW(5)
#undef LOWBIT_LB_SUMS_ROW
      } else
#endif
      for (index_t q = 0; q < quads; ++q, e += 256) {
        b0 = _mm512_load_si512(e);
        b1 = _mm512_load_si512(e + 64);
        b2 = _mm512_load_si512(e + 128);
        b3 = _mm512_load_si512(e + 192);
        LOWBIT_LB_ROW(0, a0 + 4 * q) LOWBIT_LB_ROW(1, a1 + 4 * q) LOWBIT_LB_ROW(2, a2 + 4 * q)
        LOWBIT_LB_ROW(3, a3 + 4 * q) LOWBIT_LB_ROW(4, a4 + 4 * q) LOWBIT_LB_ROW(5, a5 + 4 * q)
      }
    } else {
      for (index_t q = 0; q < quads; ++q) {
        lb_unpack<Bits, prescaled>(block + q * quad_bytes, b0, b1, b2, b3);
        LOWBIT_LB_ROW(0, a0 + 4 * q) LOWBIT_LB_ROW(1, a1 + 4 * q) LOWBIT_LB_ROW(2, a2 + 4 * q)
        LOWBIT_LB_ROW(3, a3 + 4 * q) LOWBIT_LB_ROW(4, a4 + 4 * q) LOWBIT_LB_ROW(5, a5 + 4 * q)
      }
    }
    const __m512 s0 = lb_halves(scales), s1 = lb_halves(scales + 32), s2 = lb_halves(scales + 64), s3 = lb_halves(scales + 96);
    // (The empty asm keeps GCC from hoisting the 24 loads of facc that the three branches share
    // above the branch, where it has no registers for them and spills.)
    if (kind == offset_kind::symmetric) {
      __asm__ volatile("" ::: "memory");
      if constexpr (offset_in_sums) {
        LOWBIT_LB_FLOATS(LOWBIT_LB_AS_IS)
      } else {
        LOWBIT_LB_FLOATS(LOWBIT_LB_ADD_CONSTANT)
      }
    } else if (kind == offset_kind::zero_point) {
      __asm__ volatile("" ::: "memory");
      const __m512i nzp0 = lb_negated_zero_points(offsets), nzp1 = lb_negated_zero_points(offsets + 16);
      const __m512i nzp2 = lb_negated_zero_points(offsets + 32), nzp3 = lb_negated_zero_points(offsets + 48);
      LOWBIT_LB_FLOATS(LOWBIT_LB_ADD_ZERO_POINTS)
    } else {
      __asm__ volatile("" ::: "memory");
      LOWBIT_LB_FLOATS(LOWBIT_LB_AS_IS)
    }
  }
  if constexpr (facc_in_regs) {
    _mm512_storeu_ps(facc, f0_0), _mm512_storeu_ps(facc + 16, f0_1), _mm512_storeu_ps(facc + 32, f0_2), _mm512_storeu_ps(facc + 48, f0_3);
    if constexpr (R == 2) {
      _mm512_storeu_ps(facc + 64, f1_0), _mm512_storeu_ps(facc + 80, f1_1), _mm512_storeu_ps(facc + 96, f1_2), _mm512_storeu_ps(facc + 112, f1_3);
    }
  }
  (void)f1_0, (void)f1_1, (void)f1_2, (void)f1_3;
}

#undef LOWBIT_LB_ROW
#undef LOWBIT_LB_ASM_ROW0
#undef LOWBIT_LB_ASM_ROW1
#undef LOWBIT_LB_ASM_ROW2
#undef LOWBIT_LB_ASM_ROW3
#undef LOWBIT_LB_ASM_ROW4
#undef LOWBIT_LB_ASM_ROW5
#undef LOWBIT_LB_ASM_ROWS_2
#undef LOWBIT_LB_ASM_ROWS_3
#undef LOWBIT_LB_ASM_ROWS_4
#undef LOWBIT_LB_ASM_ROWS_5
#undef LOWBIT_LB_ASM_ROWS_6
#undef LOWBIT_LB_ASM_START_ROW
#undef LOWBIT_LB_ASM_DOTS_ROW
#undef LOWBIT_LB_ASM_SUMS_ROW
#undef LOWBIT_LB_ASM_FLOAT_VECTOR
#undef LOWBIT_LB_ASM_FLOAT_ROW
#undef LOWBIT_LB_ASM_SUMS_HEAD
#undef LOWBIT_LB_ASM_FLOAT_HEAD
#undef LOWBIT_LB_ASM_LOOP
#undef LOWBIT_LB_ASM_GROUP
#undef LOWBIT_LB_ASM_CLOBBERS
#undef LOWBIT_LB_DOTS
#undef LOWBIT_LB_FLOAT1
#undef LOWBIT_LB_FLOAT_MEM
#undef LOWBIT_LB_FLOAT_REG
#undef LOWBIT_LB_FLOAT
#undef LOWBIT_LB_FLOATS
#undef LOWBIT_LB_ADD_CONSTANT
#undef LOWBIT_LB_ADD_ZERO_POINTS
#undef LOWBIT_LB_AS_IS

LOWBIT_LB_TARGET LOWBIT_ALWAYS_INLINE __m512 lb_float(const output_float& f, __m512 facc, float a_scale, const float* bias,
                                                     __mmask16 m) noexcept {
  const __m512 sa = _mm512_set1_ps(a_scale);
  __m512 y = bias != nullptr ? _mm512_fmadd_ps(facc, sa, _mm512_maskz_loadu_ps(m, bias)) : _mm512_mul_ps(facc, sa);
  y = _mm512_max_ps(_mm512_set1_ps(f.lo), y);  // std::max(y, lo): y unless y < lo (see kernels/gemm_avx512.hpp)
  return _mm512_min_ps(_mm512_set1_ps(f.hi), y);
}

/// Applies the output stage to `rows` rows of float sums (64 per row) for o.cols columns.
template <class Stage>
LOWBIT_LB_TARGET void lowbit_finish(const float* facc, int rows, const lowbit_tile_output<Stage>& o) noexcept {
  for (int r = 0; r < rows; ++r) {
    for (index_t c0 = 0; c0 < o.cols; c0 += 16) {
      const index_t n = std::min<index_t>(16, o.cols - c0);
      const auto m = static_cast<__mmask16>(n == 16 ? 0xFFFFu : (1u << n) - 1u);
      const __m512 f = _mm512_loadu_ps(facc + r * lowbit_nr + c0);
      const float* bias = o.bias != nullptr ? o.bias + c0 : nullptr;
      auto* out = o.out + r * o.ldo + c0;
      if constexpr (std::is_same_v<Stage, output_float>) {
        _mm512_mask_storeu_ps(out, m, lb_float(*o.stage, f, o.a_scale[r], bias, m));
      } else {
        using F = typename Stage::format;
        const Stage& q = *o.stage;
        __m512 v = _mm512_mul_ps(lb_float(q.pre, f, o.a_scale[r], bias, m), _mm512_set1_ps(1.0f / q.scale));
        v = _mm512_max_ps(_mm512_set1_ps(static_cast<float>(F::qmin - q.zero_point)), v);
        v = _mm512_min_ps(_mm512_set1_ps(static_cast<float>(F::qmax - q.zero_point)), v);
        const __m512i codes = _mm512_add_epi32(_mm512_cvtps_epi32(v), _mm512_set1_epi32(q.zero_point));
        _mm_mask_storeu_epi8(out, m, _mm512_cvtepi32_epi8(codes));
      }
    }
  }
}

struct lowbit_micro_kernel {
  static constexpr kernel_path path = LOWBIT_LB_PATH;
  static constexpr int mr = LOWBIT_LB_MR;
  static constexpr int wide_mr = LOWBIT_LB_WIDE_MR;
  template <int Bits, int R>
  static void tile(const lowbit_tile_args& t) noexcept {
    lowbit_tile<Bits, R>(t);
  }
  template <int Bits>
  static void expand(const lowbit_tile_args& t, std::uint8_t* codes) noexcept {
    lowbit_expand<Bits>(t, codes);
  }
  template <int Bits, int R>
  static void wide_tile(const lowbit_tile_args& t, const std::uint8_t* codes) noexcept {
    if constexpr (R <= LOWBIT_LB_WIDE_MR) lowbit_tile<Bits, R, true>(t, codes);
  }
  template <class Stage>
  static void finish(const float* facc, int rows, const lowbit_tile_output<Stage>& o) noexcept {
    lowbit_finish(facc, rows, o);
  }
};
