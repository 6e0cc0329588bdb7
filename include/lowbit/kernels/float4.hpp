// lowbit/kernels/float4.hpp: 4-bit table codes (NF4, FP4) to floats by table lookup, on every path.
//
// The contract (bitsandbytes' layout): element i's code is the high nibble of byte i / 2 for even
// i and the low nibble for odd i; its value is table[code] * absmax[i / block], one float multiply,
// so every path is bit-identical to the scalar loop. `block` is even (blocks start on a byte).
//
//   scalar      the loop itself
//   avx2        8 codes per step: two vpermps over the table's halves, blended on bit 3
//   avx512      32 codes per step: one vpshufb and two vpermps over the whole 16-entry table
//   neondot     16 codes per step: vqtbl4q_u8 over the table's 64 bytes (4 bytes per entry)
// The x86 kernels scale the table once per block (the same products) and run at their best on an
// output aligned to 64 bytes: a misaligned one splits every store across two cache lines. Calls
// of float4_stream_min floats or more into an aligned output (blocks a multiple of 16 floats for
// AVX-512, 8 for AVX2) write past the caches with non-temporal stores.
//
// float4_gemv multiplies input rows by such weights without expanding them (AVX2 and AVX-512
// kernels; other paths run the scalar loop).
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/kernels/x86.hpp"
#include "lowbit/runtime/path.hpp"

#if LOWBIT_HAVE_NEONDOT_PATH
#include <arm_neon.h>
#endif

LOWBIT_NAMESPACE_BEGIN
namespace kernels {

namespace scalar {

/// Element i's code: the high nibble of byte i / 2 for even i, the low nibble for odd i.
inline unsigned float4_code(const std::uint8_t* packed, index_t i) noexcept {
  const std::uint8_t byte = packed[i / 2];
  return (i % 2 == 0) ? (byte >> 4) : (byte & 0x0Fu);
}

/// Element i's value with its block's absmax: the one product every path computes.
inline float float4_value(const std::uint8_t* packed, index_t i, const float* table, float absmax) noexcept {
  return table[float4_code(packed, i)] * absmax;
}

inline void dequantize_float4(const std::uint8_t* packed, index_t n, const float* table, const float* absmax,
                              index_t block, float* out) noexcept {
  for (index_t i = 0; i < n; ++i) out[i] = float4_value(packed, i, table, absmax[i / block]);
}

/// y[m * ldy + n] = sum_k x[m * ldx + k] * (table[code(n, k)] * absmax[(n * K + k) / block]) for
/// n < N, m < M: the product with NF4 / FP4 weights [N, K] without expanding them. Requires
/// K % block == 0 and block % 16 == 0. The float sums run in each path's own order (not
/// bit-identical across paths; tests bound the difference).
inline void float4_gemv(const std::uint8_t* packed, const float* absmax, index_t N, index_t K, index_t block,
                        const float* table, const float* x, index_t M, index_t ldx, float* y, index_t ldy) {
  for (index_t n = 0; n < N; ++n) {
    for (index_t m = 0; m < M; ++m) {
      float acc = 0.0f;
      for (index_t k = 0; k < K; ++k) {
        const index_t i = n * K + k;
        acc += x[m * ldx + k] * float4_value(packed, i, table, absmax[i / block]);
      }
      y[m * ldy + n] = acc;
    }
  }
}

}  // namespace scalar

/// Outputs of at least this many floats (16 MiB) are written with non-temporal stores, past the
/// caches they would only evict (as memset does for large sizes): the kernel then writes each line
/// once instead of reading it first.
inline constexpr index_t float4_stream_min = index_t{1} << 22;

#if LOWBIT_HAVE_X86_PATHS

/// Whether a dequantization of n floats into out streams: large enough, out aligned to the
/// vector (`align` bytes) and every block starting on a vector.
inline bool float4_streams(index_t n, index_t block, const float* out, index_t align) noexcept {
  return n >= float4_stream_min && reinterpret_cast<std::uintptr_t>(out) % static_cast<std::uintptr_t>(align) == 0 &&
         (block * 4) % align == 0;
}

/// Runs kernel(std::true_type) when the call streams (float4_streams), kernel(std::false_type)
/// otherwise: one dispatch for the paths' stream / store instantiations. The kernels' lambdas carry
/// no target attribute, so the target functions they call must not be always_inline.
template <class Kernel>
inline void float4_with_streaming(index_t n, index_t block, const float* out, index_t align, Kernel&& kernel) {
  if (float4_streams(n, block, out, align)) {
    kernel(std::true_type{});
  } else {
    kernel(std::false_type{});
  }
}

namespace avx2 {

template <bool Stream>
LOWBIT_TARGET_AVX2 inline void dequantize_float4_impl(const std::uint8_t* packed, index_t n, const float* table,
                                                      const float* absmax, index_t block, float* out) noexcept {
  const __m256 lo_half = _mm256_loadu_ps(table), hi_half = _mm256_loadu_ps(table + 8);
  // Element k of 8 is the nibble at bit shifts[k] of their 4 bytes (high nibble first).
  const __m256i shifts = _mm256_setr_epi32(4, 0, 12, 8, 20, 16, 28, 24);
  const float* scale = absmax;
  for (index_t b0 = 0; b0 < n; b0 += block, ++scale) {
    const index_t end = b0 + block < n ? b0 + block : n;
    // The table scaled once per block: table[c] * absmax, the same product as the scalar loop's.
    const __m256 s = _mm256_set1_ps(*scale);
    const __m256 lo = _mm256_mul_ps(lo_half, s), hi = _mm256_mul_ps(hi_half, s);
    index_t i = b0;
    for (; i + 8 <= end; i += 8) {
      // The 4 bytes broadcast from memory (a load, no shuffle), each lane shifted to its nibble;
      // vpermps reads the low 3 bits, the blend bit 3 (moved to the sign).
      std::uint32_t bytes;
      std::memcpy(&bytes, packed + i / 2, sizeof bytes);
      const __m256i idx = _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(bytes)), shifts);
      const __m256 a = _mm256_permutevar8x32_ps(lo, idx), b = _mm256_permutevar8x32_ps(hi, idx);
      const __m256 value = _mm256_blendv_ps(a, b, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
      if constexpr (Stream) {
        _mm256_stream_ps(out + i, value);
      } else {
        _mm256_storeu_ps(out + i, value);
      }
    }
    for (; i < end; ++i) out[i] = scalar::float4_value(packed, i, table, *scale);
  }
  if constexpr (Stream) _mm_sfence();
}

LOWBIT_TARGET_AVX2 inline void dequantize_float4(const std::uint8_t* packed, index_t n, const float* table,
                                                 const float* absmax, index_t block, float* out) noexcept {
  float4_with_streaming(n, block, out, 32, [&](auto stream) {
    dequantize_float4_impl<decltype(stream)::value>(packed, n, table, absmax, block, out);
  });
}

/// scalar::float4_gemv's contract. Eight codes per step: their 4 bytes broadcast to every lane and
/// shifted per lane (vpsrlvd) so that each lane's low nibble is its code, in element order; the
/// table (scaled by the block's absmax) looked up by two vpermps blended on bit 3.
LOWBIT_TARGET_AVX2 inline void float4_gemv(const std::uint8_t* packed, const float* absmax, index_t N, index_t K,
                                           index_t block, const float* table, const float* x, index_t M, index_t ldx,
                                           float* y, index_t ldy) {
  const __m256i shifts = _mm256_setr_epi32(4, 0, 12, 8, 20, 16, 28, 24);
  const __m256 t_lo = _mm256_loadu_ps(table), t_hi = _mm256_loadu_ps(table + 8);
  for (index_t m0 = 0; m0 < M; m0 += 4) {
    const index_t mm = M - m0 < 4 ? M - m0 : 4;
    for (index_t n = 0; n < N; ++n) {
      // Two accumulators per row (8 codes each, in turn): independent FMA chains.
      __m256 acc[4][2];
      for (auto& a : acc) a[0] = a[1] = _mm256_setzero_ps();
      const std::uint8_t* row = packed + n * K / 2;
      const float* scale = absmax + n * K / block;
      for (index_t b = 0, jb = 0; b < K; b += block, ++jb) {  // jb = b / block without a division
        const __m256 s = _mm256_set1_ps(scale[jb]);
        const __m256 lo = _mm256_mul_ps(t_lo, s), hi = _mm256_mul_ps(t_hi, s);
        for (index_t k = b; k < b + block; k += 8) {
          std::uint32_t four;
          std::memcpy(&four, row + k / 2, sizeof four);
          const __m256i idx = _mm256_srlv_epi32(_mm256_set1_epi32(static_cast<int>(four)), shifts);
          const __m256 v = _mm256_blendv_ps(_mm256_permutevar8x32_ps(lo, idx), _mm256_permutevar8x32_ps(hi, idx),
                                            _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
          const int j = static_cast<int>((k / 8) & 1);
          for (index_t m = 0; m < mm; ++m) acc[m][j] = _mm256_fmadd_ps(v, _mm256_loadu_ps(x + (m0 + m) * ldx + k), acc[m][j]);
        }
      }
      for (index_t m = 0; m < mm; ++m) {
        const __m256 a = _mm256_add_ps(acc[m][0], acc[m][1]);
        const __m128 h = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        const __m128 h2 = _mm_add_ps(h, _mm_movehl_ps(h, h));
        y[(m0 + m) * ldy + n] = _mm_cvtss_f32(_mm_add_ss(h2, _mm_movehdup_ps(h2)));
      }
    }
  }
}

}  // namespace avx2

LOWBIT_AVX512_DIAGNOSTICS_BEGIN

namespace avx512 {

template <bool Stream>
LOWBIT_TARGET_AVX512 inline void dequantize_float4_impl(const std::uint8_t* packed, index_t n, const float* table,
                                                        const float* absmax, index_t block, float* out) noexcept {
  const __m512 tab = _mm512_loadu_ps(table);
  // 32 codes per step from their 16 bytes, broadcast to the four 128-bit lanes (a load, no
  // shuffle). One in-lane vpshufb puts bytes k / 2 and 8 + k / 2 into dword k; a shift per dword
  // then brings element k's nibble (first 16 elements) or element 16 + k's (second 16) to the low
  // 4 bits, which are all vpermps reads: one shuffle and two lookups per 32 floats.
  auto pick = [](int k) { return static_cast<int>((0x8080u << 16) | static_cast<unsigned>((8 + k / 2) << 8) | static_cast<unsigned>(k / 2)); };
  const __m512i gather = _mm512_setr_epi32(pick(0), pick(1), pick(2), pick(3), pick(4), pick(5), pick(6), pick(7), pick(8),
                                           pick(9), pick(10), pick(11), pick(12), pick(13), pick(14), pick(15));
  const __m512i first = _mm512_setr_epi32(4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0);
  const __m512i second = _mm512_add_epi32(first, _mm512_set1_epi32(8));
  const float* scale = absmax;
  for (index_t b0 = 0; b0 < n; b0 += block, ++scale) {
    const index_t end = b0 + block < n ? b0 + block : n;
    // The table scaled once per block: table[c] * absmax, the same product as the scalar loop's.
    const __m512 t = _mm512_mul_ps(tab, _mm512_set1_ps(*scale));
    index_t i = b0;
    for (; i + 32 <= end; i += 32) {
      const __m512i v = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(packed + i / 2)));
      const __m512i x = _mm512_shuffle_epi8(v, gather);
      const __m512 v0 = _mm512_permutexvar_ps(_mm512_srlv_epi32(x, first), t);
      const __m512 v1 = _mm512_permutexvar_ps(_mm512_srlv_epi32(x, second), t);
      if constexpr (Stream) {
#if defined(LOWBIT_EMULATE_X86_SIMD)  // SIMDe has no AVX-512 non-temporal store: an aligned one
        _mm512_store_ps(out + i, v0);
        _mm512_store_ps(out + i + 16, v1);
#else
        _mm512_stream_ps(out + i, v0);
        _mm512_stream_ps(out + i + 16, v1);
#endif
      } else {
        _mm512_storeu_ps(out + i, v0);
        _mm512_storeu_ps(out + i + 16, v1);
      }
    }
    for (; i < end; ++i) out[i] = scalar::float4_value(packed, i, table, *scale);
  }
  if constexpr (Stream) _mm_sfence();
}

LOWBIT_TARGET_AVX512 inline void dequantize_float4(const std::uint8_t* packed, index_t n, const float* table,
                                                   const float* absmax, index_t block, float* out) noexcept {
  float4_with_streaming(n, block, out, 64, [&](auto stream) {
    dequantize_float4_impl<decltype(stream)::value>(packed, n, table, absmax, block, out);
  });
}

// MM input rows (1 .. 4, a template argument so that the accumulators stay in registers) times
// the weight rows [0, N); xp: the MM rows rearranged (see float4_gemv).
template <int MM>
LOWBIT_TARGET_AVX512 inline void float4_gemv_rows(const std::uint8_t* packed, const float* absmax, index_t N, index_t K,
                                                  index_t block, __m512 tab, const float* xp, float* y, index_t ldy) noexcept {
  const __m512i shifts = _mm512_setr_epi64(4, 0, 12, 8, 20, 16, 28, 24);
  for (index_t n = 0; n < N; ++n) {
    // Four accumulators per row (16 codes each, in turn): independent FMA chains.
    __m512 acc[MM][4];
    for (int m = 0; m < MM; ++m)
      for (int j = 0; j < 4; ++j) acc[m][j] = _mm512_setzero_ps();
    const std::uint8_t* row = packed + n * K / 2;
    const float* scale = absmax + n * K / block;
// One step: the 16 codes at c + off / 2 times the inputs at xk + off into accumulator j of every
// row (a macro: a lambda would not carry the function's target attribute). The codes' 8 bytes are
// broadcast from memory (a load, not a shuffle); c and xk advance by pointer, no index arithmetic.
#define LOWBIT_FLOAT4_STEP(off, j)                                                                             \
  do {                                                                                                         \
    const __m512i eight = _mm512_broadcastq_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(c + (off) / 2))); \
    const __m512 v = _mm512_permutexvar_ps(_mm512_srlv_epi64(eight, shifts), t);                               \
    for (int m = 0; m < MM; ++m) acc[m][j] = _mm512_fmadd_ps(v, _mm512_loadu_ps(xk + m * K + (off)), acc[m][j]); \
  } while (0)
    const std::uint8_t* c = row;  // the codes of depth k
    const float* xk = xp;         // the inputs at depth k
    for (index_t b = 0, j = 0; b < K; b += block, ++j) {  // j = b / block without a division
      const __m512 t = _mm512_mul_ps(tab, _mm512_set1_ps(scale[j]));
      index_t k = b;
      for (; k + 64 <= b + block; k += 64, c += 32, xk += 64) {
        _mm_prefetch(reinterpret_cast<const char*>(c + 1024), _MM_HINT_T0);  // the panel 1 KiB ahead
        LOWBIT_FLOAT4_STEP(0, 0);
        LOWBIT_FLOAT4_STEP(16, 1);
        LOWBIT_FLOAT4_STEP(32, 2);
        LOWBIT_FLOAT4_STEP(48, 3);
      }
      for (; k < b + block; k += 16, c += 8, xk += 16) LOWBIT_FLOAT4_STEP(0, 0);
    }
#undef LOWBIT_FLOAT4_STEP
    for (int m = 0; m < MM; ++m)
      y[m * ldy + n] = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[m][0], acc[m][1]), _mm512_add_ps(acc[m][2], acc[m][3])));
  }
}

/// scalar::float4_gemv's contract. Sixteen codes per step: their 8 bytes broadcast to every qword
/// and shifted per qword (vpsrlvq) so that each dword lane's low nibble is a code (vpermps reads
/// only those 4 bits): lane 2q holds element q of the 16, lane 2q + 1 element q + 8. The inputs
/// are rearranged to that order once per call.
LOWBIT_TARGET_AVX512 inline void float4_gemv(const std::uint8_t* packed, const float* absmax, index_t N, index_t K,
                                             index_t block, const float* table, const float* x, index_t M, index_t ldx,
                                             float* y, index_t ldy) {
  const __m512i order = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
  const __m512 tab = _mm512_loadu_ps(table);
  const std::unique_ptr<float[]> xp(new float[static_cast<std::size_t>(4 * K)]);  // written before read
  for (index_t m0 = 0; m0 < M; m0 += 4) {
    const index_t mm = M - m0 < 4 ? M - m0 : 4;
    for (index_t m = 0; m < mm; ++m)
      for (index_t k = 0; k < K; k += 16)
        _mm512_storeu_ps(xp.get() + m * K + k, _mm512_permutexvar_ps(order, _mm512_loadu_ps(x + (m0 + m) * ldx + k)));
    float* yr = y + m0 * ldy;
    switch (mm) {
      case 1: float4_gemv_rows<1>(packed, absmax, N, K, block, tab, xp.get(), yr, ldy); break;
      case 2: float4_gemv_rows<2>(packed, absmax, N, K, block, tab, xp.get(), yr, ldy); break;
      case 3: float4_gemv_rows<3>(packed, absmax, N, K, block, tab, xp.get(), yr, ldy); break;
      default: float4_gemv_rows<4>(packed, absmax, N, K, block, tab, xp.get(), yr, ldy); break;
    }
  }
}

}  // namespace avx512

LOWBIT_AVX512_DIAGNOSTICS_END

#endif  // LOWBIT_HAVE_X86_PATHS

#if LOWBIT_HAVE_NEONDOT_PATH

namespace neondot {

inline void dequantize_float4(const std::uint8_t* packed, index_t n, const float* table, const float* absmax,
                              index_t block, float* out) noexcept {
  uint8x16x4_t tab;  // the 16 floats' 64 bytes
  tab.val[0] = vld1q_u8(reinterpret_cast<const std::uint8_t*>(table));
  tab.val[1] = vld1q_u8(reinterpret_cast<const std::uint8_t*>(table) + 16);
  tab.val[2] = vld1q_u8(reinterpret_cast<const std::uint8_t*>(table) + 32);
  tab.val[3] = vld1q_u8(reinterpret_cast<const std::uint8_t*>(table) + 48);
  // Byte k of a float lane: 4 * code + k.
  const uint8x16_t lane_byte = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3};
  for (index_t b0 = 0, j = 0; b0 < n; b0 += block, ++j) {  // j = b0 / block without a division
    const index_t end = b0 + block < n ? b0 + block : n;
    const float32x4_t scale = vdupq_n_f32(absmax[j]);
    index_t i = b0;
    for (; i + 16 <= end; i += 16) {
      const uint8x8_t v = vld1_u8(packed + i / 2);
      const uint8x8x2_t z = vzip_u8(vshr_n_u8(v, 4), vand_u8(v, vdup_n_u8(0x0F)));  // element order
      const uint8x16_t codes4 = vshlq_n_u8(vcombine_u8(z.val[0], z.val[1]), 2);      // 4 * code
      for (int q = 0; q < 4; ++q) {
        // The four codes of this quarter, each repeated over its lane's 4 bytes.
        const uint8x16_t rep = vqtbl1q_u8(codes4, vaddq_u8(vdupq_n_u8(static_cast<std::uint8_t>(4 * q)),
                                                           uint8x16_t{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3}));
        const uint8x16_t bytes = vqtbl4q_u8(tab, vaddq_u8(rep, lane_byte));
        vst1q_f32(out + i + 4 * q, vmulq_f32(vreinterpretq_f32_u8(bytes), scale));
      }
    }
    for (; i < end; ++i) out[i] = scalar::float4_value(packed, i, table, absmax[j]);
  }
}

}  // namespace neondot

#endif  // LOWBIT_HAVE_NEONDOT_PATH

inline void dequantize_float4(paths::scalar, const std::uint8_t* packed, index_t n, const float* table,
                              const float* absmax, index_t block, float* out) noexcept {
  scalar::dequantize_float4(packed, n, table, absmax, block, out);
}
#if LOWBIT_HAVE_X86_PATHS
inline void dequantize_float4(paths::avx2, const std::uint8_t* packed, index_t n, const float* table,
                              const float* absmax, index_t block, float* out) noexcept {
  avx2::dequantize_float4(packed, n, table, absmax, block, out);
}
inline void dequantize_float4(paths::avx512, const std::uint8_t* packed, index_t n, const float* table,
                              const float* absmax, index_t block, float* out) noexcept {
  avx512::dequantize_float4(packed, n, table, absmax, block, out);
}
#endif
#if LOWBIT_HAVE_NEONDOT_PATH
inline void dequantize_float4(paths::neondot, const std::uint8_t* packed, index_t n, const float* table,
                              const float* absmax, index_t block, float* out) noexcept {
  neondot::dequantize_float4(packed, n, table, absmax, block, out);
}
#endif

inline void float4_gemv(paths::scalar, const std::uint8_t* packed, const float* absmax, index_t N, index_t K, index_t block,
                        const float* table, const float* x, index_t M, index_t ldx, float* y, index_t ldy) {
  scalar::float4_gemv(packed, absmax, N, K, block, table, x, M, ldx, y, ldy);
}
#if LOWBIT_HAVE_X86_PATHS
inline void float4_gemv(paths::avx2, const std::uint8_t* packed, const float* absmax, index_t N, index_t K, index_t block,
                        const float* table, const float* x, index_t M, index_t ldx, float* y, index_t ldy) {
  avx2::float4_gemv(packed, absmax, N, K, block, table, x, M, ldx, y, ldy);
}
inline void float4_gemv(paths::avx512, const std::uint8_t* packed, const float* absmax, index_t N, index_t K, index_t block,
                        const float* table, const float* x, index_t M, index_t ldx, float* y, index_t ldy) {
  avx512::float4_gemv(packed, absmax, N, K, block, table, x, M, ldx, y, ldy);
}
#endif

/// True when path p has a vector float4_gemv (the others run the scalar loop).
inline bool has_float4_gemv(kernel_path p) noexcept {
  return dispatch(p, [](auto tag) { return std::is_base_of_v<paths::avx2, decltype(tag)>; });
}

/// The product of M input rows with NF4 / FP4 weights [N, K] (scalar::float4_gemv's contract).
inline void float4_gemv(kernel_path p, const std::uint8_t* packed, const float* absmax, index_t N, index_t K, index_t block,
                        const float* table, const float* x, index_t M, index_t ldx, float* y, index_t ldy) {
  dispatch(p, [&](auto tag) { float4_gemv(tag, packed, absmax, N, K, block, table, x, M, ldx, y, ldy); });
}

/// out[i] = table[code i] * absmax[i / block] for n codes (see the file comment), on path p.
inline void dequantize_float4(kernel_path p, const std::uint8_t* packed, index_t n, const float* table,
                              const float* absmax, index_t block, float* out) noexcept {
  dispatch(p, [&](auto tag) { dequantize_float4(tag, packed, n, table, absmax, block, out); });
}

}  // namespace kernels
LOWBIT_NAMESPACE_END
