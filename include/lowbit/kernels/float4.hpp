// lowbit/kernels/float4.hpp: 4-bit table codes (NF4, FP4) to floats by table lookup, on every path.
//
// The contract (bitsandbytes' layout): element i's code is the high nibble of byte i / 2 for even
// i and the low nibble for odd i; its value is table[code] * absmax[i / block], one float multiply,
// so every path is bit-identical to the scalar loop. `block` is even (blocks start on a byte).
//
//   scalar      the loop itself
//   avx2        8 codes per step: two vpermps over the table's halves, blended on bit 3
//   avx512      16 codes per step: one vpermps over the whole 16-entry table
//   neondot     16 codes per step: vqtbl4q_u8 over the table's 64 bytes (4 bytes per entry)
#pragma once

#include <cstdint>
#include <cstring>

#include "lowbit/config.hpp"
#include "lowbit/kernels/x86.hpp"
#include "lowbit/runtime/path.hpp"

#if LOWBIT_HAVE_NEONDOT_PATH
#include <arm_neon.h>
#endif

LOWBIT_NAMESPACE_BEGIN
namespace kernels {

namespace scalar {

inline void dequantize_float4(const std::uint8_t* packed, index_t n, const float* table, const float* absmax,
                              index_t block, float* out) noexcept {
  for (index_t i = 0; i < n; ++i) {
    const std::uint8_t byte = packed[i / 2];
    const unsigned code = (i % 2 == 0) ? (byte >> 4) : (byte & 0x0Fu);
    out[i] = table[code] * absmax[i / block];
  }
}

}  // namespace scalar

#if LOWBIT_HAVE_X86_PATHS

namespace avx2 {

LOWBIT_TARGET_AVX2 inline void dequantize_float4(const std::uint8_t* packed, index_t n, const float* table,
                                                 const float* absmax, index_t block, float* out) noexcept {
  const __m256 lo_half = _mm256_loadu_ps(table), hi_half = _mm256_loadu_ps(table + 8);
  for (index_t b0 = 0; b0 < n; b0 += block) {
    const index_t end = b0 + block < n ? b0 + block : n;
    const __m256 scale = _mm256_set1_ps(absmax[b0 / block]);
    index_t i = b0;
    for (; i + 16 <= end; i += 16) {
      std::uint64_t bytes;
      std::memcpy(&bytes, packed + i / 2, sizeof bytes);
      const __m128i v = _mm_cvtsi64_si128(static_cast<long long>(bytes));
      const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0x0F));
      const __m128i lo = _mm_and_si128(v, _mm_set1_epi8(0x0F));
      const __m128i codes = _mm_unpacklo_epi8(hi, lo);  // element order: high nibble first
      for (int half = 0; half < 2; ++half) {
        const __m256i idx = _mm256_cvtepu8_epi32(half == 0 ? codes : _mm_srli_si128(codes, 8));
        const __m256 a = _mm256_permutevar8x32_ps(lo_half, idx), b = _mm256_permutevar8x32_ps(hi_half, idx);
        const __m256 value = _mm256_blendv_ps(a, b, _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
        _mm256_storeu_ps(out + i + 8 * half, _mm256_mul_ps(value, scale));
      }
    }
    for (; i < end; ++i) {
      const std::uint8_t byte = packed[i / 2];
      out[i] = table[(i % 2 == 0) ? (byte >> 4) : (byte & 0x0F)] * absmax[b0 / block];
    }
  }
}

}  // namespace avx2

LOWBIT_AVX512_DIAGNOSTICS_BEGIN

namespace avx512 {

LOWBIT_TARGET_AVX512 inline void dequantize_float4(const std::uint8_t* packed, index_t n, const float* table,
                                                   const float* absmax, index_t block, float* out) noexcept {
  const __m512 tab = _mm512_loadu_ps(table);
  for (index_t b0 = 0; b0 < n; b0 += block) {
    const index_t end = b0 + block < n ? b0 + block : n;
    const __m512 scale = _mm512_set1_ps(absmax[b0 / block]);
    index_t i = b0;
    for (; i + 32 <= end; i += 32) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed + i / 2));
      const __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0x0F));
      const __m128i lo = _mm_and_si128(v, _mm_set1_epi8(0x0F));
      const __m512i i0 = _mm512_cvtepu8_epi32(_mm_unpacklo_epi8(hi, lo));
      const __m512i i1 = _mm512_cvtepu8_epi32(_mm_unpackhi_epi8(hi, lo));
      _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_permutexvar_ps(i0, tab), scale));
      _mm512_storeu_ps(out + i + 16, _mm512_mul_ps(_mm512_permutexvar_ps(i1, tab), scale));
    }
    for (; i < end; ++i) {
      const std::uint8_t byte = packed[i / 2];
      out[i] = table[(i % 2 == 0) ? (byte >> 4) : (byte & 0x0F)] * absmax[b0 / block];
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
  for (index_t b0 = 0; b0 < n; b0 += block) {
    const index_t end = b0 + block < n ? b0 + block : n;
    const float32x4_t scale = vdupq_n_f32(absmax[b0 / block]);
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
    for (; i < end; ++i) {
      const std::uint8_t byte = packed[i / 2];
      out[i] = table[(i % 2 == 0) ? (byte >> 4) : (byte & 0x0F)] * absmax[b0 / block];
    }
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

/// out[i] = table[code i] * absmax[i / block] for n codes (see the file comment), on path p.
inline void dequantize_float4(kernel_path p, const std::uint8_t* packed, index_t n, const float* table,
                              const float* absmax, index_t block, float* out) noexcept {
  dispatch(p, [&](auto tag) { dequantize_float4(tag, packed, n, table, absmax, block, out); });
}

}  // namespace kernels
LOWBIT_NAMESPACE_END
