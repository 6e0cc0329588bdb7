// lowbit/kernels/lowbit_gemm_ymm_body.hpp: the sub-byte weight micro-kernel on ymm registers, included once per AVX2-class path.
//
// No include guard: kernels/lowbit_gemm_avx2.hpp includes this file inside the namespace of each
// ymm path, after defining
//   LOWBIT_LB_TARGET   the path's target attribute
//   LOWBIT_LB_PATH     its kernel_path
//   LOWBIT_LB_MR       rows per tile (the accumulators are named for up to 3)
// and, in that namespace, lowbit_dot(acc, u, a) and lowbit_dot8(acc, u, a) as in lowbit_gemm_zmm_body.hpp.
//
// With 16 registers a tile covers the 64-column panel in two parts of 4 ymm vectors (32 columns,
// lowbit_vector_slot says which), one part after the other within each group: R x 4 accumulators,
// one unpacked vector at a time, the row's 4 bytes broadcast for each product. A one-row tile
// alternates two sets of accumulators between even and odd quads.

template <int Bits>
LOWBIT_LB_TARGET LOWBIT_ALWAYS_INLINE __m256i lb_dot(__m256i acc, __m256i u, __m256i a) noexcept {
  if constexpr (Bits == 8) {
    return lowbit_dot8(acc, u, a);
  } else {
    return lowbit_dot(acc, u, a);
  }
}

/// Vector I of part J of a quad: 8 columns x 4 depths as unsigned bytes.
template <int Bits, int J, int I>
LOWBIT_LB_TARGET LOWBIT_ALWAYS_INLINE __m256i lb_unpack(const std::uint8_t* quad) noexcept {
  constexpr lowbit_slot slot = lowbit_vector_slot(Bits, 8, 4 * J + I);
  const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(quad + slot.offset));
  if constexpr (Bits == 8) {
    return raw;
  } else {
    const __m256i m = _mm256_set1_epi8(static_cast<char>((1 << Bits) - 1));
    if constexpr (slot.shift == 0) {
      return _mm256_and_si256(raw, m);
    } else {
      return _mm256_and_si256(_mm256_srli_epi16(raw, slot.shift), m);
    }
  }
}

LOWBIT_LB_TARGET LOWBIT_ALWAYS_INLINE __m256i lb_broadcast(const std::int8_t* p) noexcept {
  std::int32_t quad;
  std::memcpy(&quad, p, 4);
  return _mm256_set1_epi32(quad);
}

#define LOWBIT_LB_DOTS1(r, i, ar) c##r##_##i = lb_dot<Bits>(c##r##_##i, b, lb_broadcast(ar));
#define LOWBIT_LB_VECTOR(i, q, ROWS)                                                               \
  {                                                                                                \
    const __m256i b = lb_unpack<Bits, J, i>(block + (q) * quad_bytes);                             \
    ROWS(i, q)                                                                                     \
  }
#define LOWBIT_LB_ALL_ROWS(i, q)                                                                   \
  LOWBIT_LB_DOTS1(0, i, a0 + 4 * (q))                                                              \
  if constexpr (R > 1) LOWBIT_LB_DOTS1(1, i, a1 + 4 * (q))                                         \
  if constexpr (R > 2) LOWBIT_LB_DOTS1(2, i, a2 + 4 * (q))
#define LOWBIT_LB_ODD_ROW(i, q) LOWBIT_LB_DOTS1(1, i, a0 + 4 * (q))
#define LOWBIT_LB_QUAD(q, ROWS)                                                                    \
  LOWBIT_LB_VECTOR(0, q, ROWS) LOWBIT_LB_VECTOR(1, q, ROWS) LOWBIT_LB_VECTOR(2, q, ROWS)           \
  LOWBIT_LB_VECTOR(3, q, ROWS)
#define LOWBIT_LB_INIT(r)                                                                          \
  if constexpr (R > r) {                                                                           \
    const std::int32_t s = t.asum[r * t.ldsum + g];                                                \
    if (t.kind == offset_kind::symmetric) {                                                        \
      c##r##_0 = c##r##_1 = c##r##_2 = c##r##_3 = _mm256_set1_epi32(-t.z * s);                     \
    } else if (t.kind == offset_kind::zero_point) {                                                \
      const __m256i sv = _mm256_set1_epi32(s);                                                     \
      c##r##_0 = _mm256_mullo_epi32((lb_negated_zero_points<Bits, J, 0>(offsets)), sv);              \
      c##r##_1 = _mm256_mullo_epi32((lb_negated_zero_points<Bits, J, 1>(offsets)), sv);              \
      c##r##_2 = _mm256_mullo_epi32((lb_negated_zero_points<Bits, J, 2>(offsets)), sv);              \
      c##r##_3 = _mm256_mullo_epi32((lb_negated_zero_points<Bits, J, 3>(offsets)), sv);              \
    } else {                                                                                       \
      c##r##_0 = c##r##_1 = c##r##_2 = c##r##_3 = _mm256_setzero_si256();                          \
    }                                                                                              \
  }
#define LOWBIT_LB_FLOAT1(r, i)                                                                     \
  {                                                                                                \
    constexpr index_t col = lowbit_vector_slot(Bits, 8, 4 * J + i).col;                            \
    float* f = t.facc + r * lowbit_nr + col;                                                       \
    const __m256 s = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(scales + 2 * col))); \
    __m256 y = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c##r##_##i), s, _mm256_loadu_ps(f));             \
    if (t.kind == offset_kind::min)                                                                \
      y = _mm256_fmadd_ps(sum, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(offsets + 2 * col))), y); \
    _mm256_storeu_ps(f, y);                                                                        \
  }
#define LOWBIT_LB_FLOAT(r)                                                                         \
  if constexpr (R > r) {                                                                           \
    const __m256 sum = _mm256_set1_ps(static_cast<float>(t.asum[r * t.ldsum + g]));                \
    (void)sum;                                                                                     \
    LOWBIT_LB_FLOAT1(r, 0) LOWBIT_LB_FLOAT1(r, 1) LOWBIT_LB_FLOAT1(r, 2) LOWBIT_LB_FLOAT1(r, 3)    \
  }

/// -zp of the 8 columns of vector I of part J, as int32.
template <int Bits, int J, int I>
LOWBIT_LB_TARGET LOWBIT_ALWAYS_INLINE __m256i lb_negated_zero_points(const std::uint8_t* offsets) noexcept {
  constexpr index_t col = lowbit_vector_slot(Bits, 8, 4 * J + I).col;
  return _mm256_sub_epi32(_mm256_setzero_si256(),
                          _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(offsets + col))));
}

/// Part J of group g for R rows.
template <int Bits, int R, int J>
LOWBIT_LB_TARGET LOWBIT_ALWAYS_INLINE void lowbit_part(const lowbit_tile_args& t, index_t g) noexcept {
  constexpr index_t quad_bytes = 32 * Bits;
  const index_t group = t.group_quads * 4, quads = t.group_quads;
  const std::uint8_t* block = t.blocks + g * t.block_bytes;
  const std::uint8_t* scales = block + group * 8 * Bits;
  const std::uint8_t* offsets = scales + 2 * lowbit_nr;
  const std::int8_t* a0 = t.a + g * group;
  const std::int8_t* a1 = a0 + (R > 1 ? t.lda : 0);
  const std::int8_t* a2 = a0 + (R > 2 ? 2 * t.lda : 0);
  (void)a1, (void)a2;
  __m256i c0_0, c0_1, c0_2, c0_3, c1_0, c1_1, c1_2, c1_3, c2_0, c2_1, c2_2, c2_3;
  LOWBIT_LB_INIT(0) LOWBIT_LB_INIT(1) LOWBIT_LB_INIT(2)
  if constexpr (R == 1) {
    c1_0 = c1_1 = c1_2 = c1_3 = _mm256_setzero_si256();
    index_t q = 0;
    for (; q + 1 < quads; q += 2) {
      if constexpr (J == 0)
        for (int i = 0; i < Bits / 2; ++i)
          _mm_prefetch(reinterpret_cast<const char*>(block + q * quad_bytes + 2048 + 64 * i), _MM_HINT_T0);
      LOWBIT_LB_QUAD(q, LOWBIT_LB_ALL_ROWS)
      LOWBIT_LB_QUAD(q + 1, LOWBIT_LB_ODD_ROW)
    }
    if (q < quads) {
      LOWBIT_LB_QUAD(q, LOWBIT_LB_ALL_ROWS)
    }
    c0_0 = _mm256_add_epi32(c0_0, c1_0);
    c0_1 = _mm256_add_epi32(c0_1, c1_1);
    c0_2 = _mm256_add_epi32(c0_2, c1_2);
    c0_3 = _mm256_add_epi32(c0_3, c1_3);
  } else {
    for (index_t q = 0; q < quads; ++q) {
      if constexpr (J == 0)
        for (int i = 0; i < Bits / 2; ++i)
          _mm_prefetch(reinterpret_cast<const char*>(block + q * quad_bytes + 2048 + 64 * i), _MM_HINT_T0);
      LOWBIT_LB_QUAD(q, LOWBIT_LB_ALL_ROWS)
    }
  }
  LOWBIT_LB_FLOAT(0) LOWBIT_LB_FLOAT(1) LOWBIT_LB_FLOAT(2)
}

#undef LOWBIT_LB_DOTS1
#undef LOWBIT_LB_VECTOR
#undef LOWBIT_LB_ALL_ROWS
#undef LOWBIT_LB_ODD_ROW
#undef LOWBIT_LB_QUAD
#undef LOWBIT_LB_INIT
#undef LOWBIT_LB_FLOAT1
#undef LOWBIT_LB_FLOAT

/// R rows x 64 columns over t.groups groups.
template <int Bits, int R>
LOWBIT_LB_TARGET void lowbit_tile(const lowbit_tile_args& t) noexcept {
  static_assert(R >= 1 && R <= LOWBIT_LB_MR, "ymm sub-byte tiles have 1 to LOWBIT_LB_MR rows");
  for (index_t g = 0; g < t.groups; ++g) {
    lowbit_part<Bits, R, 0>(t, g);
    lowbit_part<Bits, R, 1>(t, g);
  }
}

LOWBIT_LB_TARGET LOWBIT_ALWAYS_INLINE __m256 lb_float(const output_float& f, __m256 facc, float a_scale, const float* bias,
                                                     index_t n) noexcept {
  const __m256 sa = _mm256_set1_ps(a_scale);
  __m256 y;
  if (bias != nullptr) {
    alignas(32) float b[8] = {};
    std::memcpy(b, bias, static_cast<std::size_t>(n) * sizeof(float));
    y = _mm256_fmadd_ps(facc, sa, _mm256_load_ps(b));
  } else {
    y = _mm256_mul_ps(facc, sa);
  }
  y = _mm256_max_ps(_mm256_set1_ps(f.lo), y);  // std::max(y, lo): y unless y < lo
  return _mm256_min_ps(_mm256_set1_ps(f.hi), y);
}

/// Applies the output stage to `rows` rows of float sums (64 per row) for o.cols columns.
template <class Stage>
LOWBIT_LB_TARGET void lowbit_finish(const float* facc, int rows, const lowbit_tile_output<Stage>& o) noexcept {
  for (int r = 0; r < rows; ++r) {
    for (index_t c0 = 0; c0 < o.cols; c0 += 8) {
      const index_t n = std::min<index_t>(8, o.cols - c0);
      const __m256 f = _mm256_loadu_ps(facc + r * lowbit_nr + c0);
      const float* bias = o.bias != nullptr ? o.bias + c0 : nullptr;
      auto* out = o.out + r * o.ldo + c0;
      if constexpr (std::is_same_v<Stage, output_float>) {
        alignas(32) float y[8];
        _mm256_store_ps(y, lb_float(*o.stage, f, o.a_scale[r], bias, n));
        std::memcpy(out, y, static_cast<std::size_t>(n) * sizeof(float));
      } else {
        using F = typename Stage::format;
        const Stage& q = *o.stage;
        __m256 v = _mm256_mul_ps(lb_float(q.pre, f, o.a_scale[r], bias, n), _mm256_set1_ps(1.0f / q.scale));
        v = _mm256_max_ps(_mm256_set1_ps(static_cast<float>(F::qmin - q.zero_point)), v);
        v = _mm256_min_ps(_mm256_set1_ps(static_cast<float>(F::qmax - q.zero_point)), v);
        alignas(32) std::int32_t codes[8];
        _mm256_store_si256(reinterpret_cast<__m256i*>(codes),
                           _mm256_add_epi32(_mm256_cvtps_epi32(v), _mm256_set1_epi32(q.zero_point)));
        for (index_t j = 0; j < n; ++j) out[j] = static_cast<typename F::code_type>(codes[j]);
      }
    }
  }
}

struct lowbit_micro_kernel {
  static constexpr kernel_path path = LOWBIT_LB_PATH;
  static constexpr int mr = LOWBIT_LB_MR;
  template <int Bits, int R>
  static void tile(const lowbit_tile_args& t) noexcept {
    lowbit_tile<Bits, R>(t);
  }
  template <class Stage>
  static void finish(const float* facc, int rows, const lowbit_tile_output<Stage>& o) noexcept {
    lowbit_finish(facc, rows, o);
  }
};
