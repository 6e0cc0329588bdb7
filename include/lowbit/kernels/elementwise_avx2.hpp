// lowbit/kernels/elementwise_avx2.hpp: the elementwise kernels for AVX2, reached at run time.
//
// Bit-identical to kernels/elementwise_scalar.hpp: the same float operations in the same order,
// cvtps2dq rounds half to even under the default MXCSR (as std::nearbyint does), and the
// saturating packs never saturate because codes are clamped to [qmin, qmax] first.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "lowbit/config.hpp"
#include "lowbit/kernels/x86.hpp"
#include "lowbit/kernels/elementwise_scalar.hpp"

#if LOWBIT_HAVE_X86_PATHS

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace avx2 {

/// 8 floats -> 8 int32 codes: nearbyint(clamp(R(v, f), lo, hi)) + zp.
template <class Rounding>
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE __m256i round8(__m256 v, __m256 f, __m256 lo, __m256 hi,
                                                       __m256i zp) noexcept {
  __m256 r = Rounding::divides ? _mm256_div_ps(v, f) : _mm256_mul_ps(v, f);
  r = _mm256_min_ps(_mm256_max_ps(r, lo), hi);
  return _mm256_add_epi32(_mm256_cvtps_epi32(r), zp);
}

/// Four vectors of 8 int32 codes (already in the format's range) -> 32 bytes in element order.
template <bool Signed>
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE __m256i narrow32(__m256i a, __m256i b, __m256i c,
                                                         __m256i d) noexcept {
  __m256i r;
  if constexpr (Signed) {
    r = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
  } else {
    r = _mm256_packus_epi16(_mm256_packus_epi32(a, b), _mm256_packus_epi32(c, d));
  }
  // The packs work per 128-bit lane: dwords hold a0-3 b0-3 c0-3 d0-3 | a4-7 b4-7 c4-7 d4-7.
  return _mm256_permutevar8x32_epi32(r, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/// Stores 32 codes (one per byte, element order) packed for format F at `out`.
template <class F>
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE void store32(std::uint8_t* out, __m256i codes) noexcept {
  if constexpr (F::per_byte == 1) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), codes);
  } else if constexpr (F::per_byte == 2) {
    // 16-bit lane w = c[2j] | c[2j+1] << 8 -> byte (c[2j] & 15) | (c[2j+1] & 15) << 4.
    const __m256i lo = _mm256_and_si256(codes, _mm256_set1_epi16(0x000F));
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(codes, 4), _mm256_set1_epi16(0x00F0));
    const __m256i t = _mm256_or_si256(lo, hi);
    const __m128i p = _mm_packus_epi16(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), p);
  } else {
    // 32-bit lane d = c0 | c1 << 8 | c2 << 16 | c3 << 24 -> byte c0 | c1 << 2 | c2 << 4 | c3 << 6.
    const __m256i m = _mm256_and_si256(codes, _mm256_set1_epi8(0x03));
    __m256i t = _mm256_or_si256(m, _mm256_srli_epi32(m, 6));
    t = _mm256_or_si256(t, _mm256_srli_epi32(m, 12));
    t = _mm256_or_si256(t, _mm256_srli_epi32(m, 18));
    const __m256i gather = _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                            -1, -1, 0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1,
                                            -1, -1, -1, -1);
    const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(t, gather),
                                                      _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm256_castsi256_si128(bytes));
  }
}

/// Accumulates evidence of non-finite input. With OnlyNaN false, acc = x * 0 + acc stays +-0
/// for finite x and becomes NaN once an x is NaN or +-Inf (one FMA per vector); with OnlyNaN
/// true (the saturating inf policy), NaN lanes set all bits.
template <bool OnlyNaN>
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE __m256 track(__m256 acc, __m256 x) noexcept {
  if constexpr (OnlyNaN) {
    return _mm256_or_ps(acc, _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
  } else {
    return _mm256_fmadd_ps(x, _mm256_setzero_ps(), acc);
  }
}

LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE bool tracked_nonfinite(__m256 acc) noexcept {
  return _mm256_movemask_ps(_mm256_cmp_ps(acc, acc, _CMP_UNORD_Q)) != 0;
}

/// Quantizes 32 elements into out, tracking non-finite values in four accumulators (four
/// chains: an FMA's latency stays off the critical path).
template <class F, class Rounding, bool OnlyNaN>
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE void quantize32(const float* x, __m256 f, __m256 lo, __m256 hi, __m256i vzp,
                                                        __m256 (&acc)[4], std::uint8_t* out) noexcept {
  const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
  const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
  acc[0] = track<OnlyNaN>(acc[0], v0);
  acc[1] = track<OnlyNaN>(acc[1], v1);
  acc[2] = track<OnlyNaN>(acc[2], v2);
  acc[3] = track<OnlyNaN>(acc[3], v3);
  const __m256i codes = narrow32<F::is_signed>(
      round8<Rounding>(v0, f, lo, hi, vzp), round8<Rounding>(v1, f, lo, hi, vzp),
      round8<Rounding>(v2, f, lo, hi, vzp), round8<Rounding>(v3, f, lo, hi, vzp));
  store32<F>(out, codes);
}

// The last n % 32 elements go through the same vector code, zero-padded to 32 in local buffers;
// only the codes of the real elements are copied out.
template <class F, class Rounding, bool OnlyNaN>
LOWBIT_TARGET_AVX2 bool quantize_body(const float* LOWBIT_RESTRICT x, index_t n, float factor,
                                      std::int32_t zp, std::uint8_t* LOWBIT_RESTRICT out) noexcept {
  const __m256 f = _mm256_set1_ps(factor);
  const __m256 lo = _mm256_set1_ps(static_cast<float>(F::qmin - zp));
  const __m256 hi = _mm256_set1_ps(static_cast<float>(F::qmax - zp));
  const __m256i vzp = _mm256_set1_epi32(zp);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  index_t i = 0;
  for (; i + 32 <= n; i += 32) quantize32<F, Rounding, OnlyNaN>(x + i, f, lo, hi, vzp, acc, out + i / F::per_byte);
  if (i < n) {
    alignas(32) float xt[32] = {};
    alignas(32) std::uint8_t ct[32];
    std::memcpy(xt, x + i, static_cast<std::size_t>(n - i) * sizeof(float));
    quantize32<F, Rounding, OnlyNaN>(xt, f, lo, hi, vzp, acc, ct);
    scalar::copy_codes<F>(out + i / F::per_byte, ct, n - i);
  }
  return !tracked_nonfinite(_mm256_or_ps(_mm256_or_ps(acc[0], acc[1]), _mm256_or_ps(acc[2], acc[3])));
}

template <class F, class Rounding>
LOWBIT_TARGET_AVX2 bool quantize(const float* LOWBIT_RESTRICT x, index_t n, float factor,
                                 std::int32_t zp, inf_policy inf,
                                 std::uint8_t* LOWBIT_RESTRICT out) noexcept {
  return inf == inf_policy::error ? quantize_body<F, Rounding, false>(x, n, factor, zp, out)
                                  : quantize_body<F, Rounding, true>(x, n, factor, zp, out);
}

template <class Rounding>
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE __m256i round8_vec(__m256 v, const float* factors,
                                                           const std::int32_t* zps, __m256i qmin,
                                                           __m256i qmax) noexcept {
  const __m256i zp = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(zps));
  const __m256 lo = _mm256_cvtepi32_ps(_mm256_sub_epi32(qmin, zp));
  const __m256 hi = _mm256_cvtepi32_ps(_mm256_sub_epi32(qmax, zp));
  return round8<Rounding>(v, _mm256_loadu_ps(factors), lo, hi, zp);
}

template <class F, class Rounding, bool OnlyNaN>
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE void quantize32_vec(const float* x, const float* factors, const std::int32_t* zps,
                                                            __m256i qmin, __m256i qmax, __m256 (&acc)[4],
                                                            std::uint8_t* out) noexcept {
  const __m256 v0 = _mm256_loadu_ps(x), v1 = _mm256_loadu_ps(x + 8);
  const __m256 v2 = _mm256_loadu_ps(x + 16), v3 = _mm256_loadu_ps(x + 24);
  acc[0] = track<OnlyNaN>(acc[0], v0);
  acc[1] = track<OnlyNaN>(acc[1], v1);
  acc[2] = track<OnlyNaN>(acc[2], v2);
  acc[3] = track<OnlyNaN>(acc[3], v3);
  const __m256i codes = narrow32<F::is_signed>(round8_vec<Rounding>(v0, factors, zps, qmin, qmax),
                                               round8_vec<Rounding>(v1, factors + 8, zps + 8, qmin, qmax),
                                               round8_vec<Rounding>(v2, factors + 16, zps + 16, qmin, qmax),
                                               round8_vec<Rounding>(v3, factors + 24, zps + 24, qmin, qmax));
  store32<F>(out, codes);
}

template <class F, class Rounding, bool OnlyNaN>
LOWBIT_TARGET_AVX2 bool quantize_vec_body(const float* LOWBIT_RESTRICT x, index_t n,
                                          const float* factors, const std::int32_t* zps,
                                          std::uint8_t* LOWBIT_RESTRICT out) noexcept {
  const __m256i qmin = _mm256_set1_epi32(F::qmin), qmax = _mm256_set1_epi32(F::qmax);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  index_t i = 0;
  for (; i + 32 <= n; i += 32)
    quantize32_vec<F, Rounding, OnlyNaN>(x + i, factors + i, zps + i, qmin, qmax, acc, out + i / F::per_byte);
  if (i < n) {  // padded as in quantize_body(); factor 1 and zero point 0 for the padding
    const auto r = static_cast<std::size_t>(n - i);
    alignas(32) float xt[32] = {}, ft[32];
    alignas(32) std::int32_t zt[32] = {};
    alignas(32) std::uint8_t ct[32];
    std::fill(ft, ft + 32, 1.0f);
    std::memcpy(xt, x + i, r * sizeof(float));
    std::memcpy(ft, factors + i, r * sizeof(float));
    std::memcpy(zt, zps + i, r * sizeof(std::int32_t));
    quantize32_vec<F, Rounding, OnlyNaN>(xt, ft, zt, qmin, qmax, acc, ct);
    scalar::copy_codes<F>(out + i / F::per_byte, ct, n - i);
  }
  return !tracked_nonfinite(_mm256_or_ps(_mm256_or_ps(acc[0], acc[1]), _mm256_or_ps(acc[2], acc[3])));
}

template <class F, class Rounding>
LOWBIT_TARGET_AVX2 bool quantize_vec(const float* LOWBIT_RESTRICT x, index_t n,
                                     const float* factors, const std::int32_t* zps,
                                     inf_policy inf, std::uint8_t* LOWBIT_RESTRICT out) noexcept {
  return inf == inf_policy::error
             ? quantize_vec_body<F, Rounding, false>(x, n, factors, zps, out)
             : quantize_vec_body<F, Rounding, true>(x, n, factors, zps, out);
}

/// 8 codes of format F starting at element i (a multiple of 8) of a packed run, as int32.
template <class F>
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE __m256i load8(const std::uint8_t* in, index_t i) noexcept {
  if constexpr (F::per_byte == 1) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(in + i));
    return F::is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
  } else {
    constexpr int per_byte = F::per_byte;
    std::uint32_t word = 0;
    std::memcpy(&word, in + i / per_byte, 8 / per_byte);
    // Repeat each byte per_byte times, widen, shift each code to bit 0 and mask it.
    const __m128i dup = per_byte == 2
                            ? _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, -1, -1, -1, -1, -1, -1, -1, -1)
                            : _mm_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i shifts = per_byte == 2 ? _mm256_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4)
                                         : _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    const __m128i bytes = _mm_shuffle_epi8(_mm_cvtsi32_si128(static_cast<int>(word)), dup);
    const __m256i raw = _mm256_and_si256(_mm256_srlv_epi32(_mm256_cvtepu8_epi32(bytes), shifts),
                                         _mm256_set1_epi32(F::code_mask));
    if constexpr (F::is_signed) {
      const __m256i sign = _mm256_set1_epi32(1 << (F::bits - 1));
      return _mm256_sub_epi32(_mm256_xor_si256(raw, sign), sign);
    } else {
      return raw;
    }
  }
}

template <class F>
LOWBIT_TARGET_AVX2 void dequantize(const std::uint8_t* LOWBIT_RESTRICT in, index_t n, float scale,
                                   std::int32_t zp, float* LOWBIT_RESTRICT out) noexcept {
  const __m256 s = _mm256_set1_ps(scale);
  const __m256i vzp = _mm256_set1_epi32(zp);
  index_t i = 0;
  for (; i + 32 <= n; i += 32) {
    for (index_t j = 0; j < 32; j += 8) {
      const __m256i q = _mm256_sub_epi32(load8<F>(in, i + j), vzp);
      _mm256_storeu_ps(out + i + j, _mm256_mul_ps(_mm256_cvtepi32_ps(q), s));
    }
  }
  for (; i < n; ++i) out[i] = static_cast<float>(scalar::load_code<F>(in, i) - zp) * scale;
}

template <class F>
LOWBIT_TARGET_AVX2 void dequantize_vec(const std::uint8_t* LOWBIT_RESTRICT in, index_t n,
                                       const float* scales, const std::int32_t* zps,
                                       float* LOWBIT_RESTRICT out) noexcept {
  index_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i zp = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(zps + i));
    const __m256i q = _mm256_sub_epi32(load8<F>(in, i), zp);
    _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_cvtepi32_ps(q), _mm256_loadu_ps(scales + i)));
  }
  for (; i < n; ++i) out[i] = static_cast<float>(scalar::load_code<F>(in, i) - zps[i]) * scales[i];
}

LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE float hmin(__m256 v) noexcept {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE float hmax(__m256 v) noexcept {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
  return _mm_cvtss_f32(m);
}

LOWBIT_TARGET_AVX2 inline bool minmax(const float* x, index_t n, float& mn, float& mx) noexcept {
  __m256 lo0 = _mm256_set1_ps(mn), lo1 = lo0, hi0 = _mm256_set1_ps(mx), hi1 = hi0;
  __m256 acc = _mm256_setzero_ps(), acc1 = acc, acc2 = acc, acc3 = acc;
  index_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256 v0 = _mm256_loadu_ps(x + i), v1 = _mm256_loadu_ps(x + i + 8);
    const __m256 v2 = _mm256_loadu_ps(x + i + 16), v3 = _mm256_loadu_ps(x + i + 24);
    acc = track<false>(acc, v0);
    acc1 = track<false>(acc1, v1);
    acc2 = track<false>(acc2, v2);
    acc3 = track<false>(acc3, v3);
    lo0 = _mm256_min_ps(lo0, _mm256_min_ps(v0, v2));
    lo1 = _mm256_min_ps(lo1, _mm256_min_ps(v1, v3));
    hi0 = _mm256_max_ps(hi0, _mm256_max_ps(v0, v2));
    hi1 = _mm256_max_ps(hi1, _mm256_max_ps(v1, v3));
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    acc = track<false>(acc, v);
    lo0 = _mm256_min_ps(lo0, v);
    hi0 = _mm256_max_ps(hi0, v);
  }
  acc = _mm256_or_ps(_mm256_or_ps(acc, acc1), _mm256_or_ps(acc2, acc3));
  const float a = hmin(_mm256_min_ps(lo0, lo1)), b = hmax(_mm256_max_ps(hi0, hi1));
  mn = a < mn ? a : mn;
  mx = b > mx ? b : mx;
  const bool tail_ok = scalar::minmax(x + i, n - i, mn, mx);
  return tail_ok && !tracked_nonfinite(acc);
}

LOWBIT_TARGET_AVX2 inline bool minmax_vec(const float* LOWBIT_RESTRICT x, index_t n,
                                          float* LOWBIT_RESTRICT mins,
                                          float* LOWBIT_RESTRICT maxs) noexcept {
  __m256 acc = _mm256_setzero_ps();
  index_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    acc = track<false>(acc, v);
    _mm256_storeu_ps(mins + i, _mm256_min_ps(_mm256_loadu_ps(mins + i), v));
    _mm256_storeu_ps(maxs + i, _mm256_max_ps(_mm256_loadu_ps(maxs + i), v));
  }
  const bool tail_ok = scalar::minmax_vec(x + i, n - i, mins + i, maxs + i);
  return tail_ok && !tracked_nonfinite(acc);
}

}  // namespace avx2
}  // namespace kernels
LOWBIT_NAMESPACE_END

#endif  // LOWBIT_HAVE_X86_PATHS
