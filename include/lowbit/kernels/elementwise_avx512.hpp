// lowbit/kernels/elementwise_avx512.hpp: the elementwise kernels for AVX-512 (F/BW/DQ/VL), reached at run time.
//
// Bit-identical to kernels/elementwise_scalar.hpp for the same reasons as the AVX2 path; codes are
// narrowed with vpmovdb / vpmovwb (truncation), exact because they are clamped first.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>

#include "lowbit/config.hpp"
#include "lowbit/kernels/x86.hpp"
#include "lowbit/kernels/elementwise_scalar.hpp"

#if LOWBIT_HAVE_X86_PATHS

LOWBIT_AVX512_DIAGNOSTICS_BEGIN

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace avx512 {

LOWBIT_TARGET_AVX512 LOWBIT_ALWAYS_INLINE __mmask16 nonfinite(__m512 v, __m512 limit) noexcept {
  return _mm512_cmp_ps_mask(_mm512_abs_ps(v), limit, _CMP_NLE_UQ);
}

template <class Rounding>
LOWBIT_TARGET_AVX512 LOWBIT_ALWAYS_INLINE __m128i round16(__m512 v, __m512 f, __m512 lo, __m512 hi,
                                                          __m512i zp) noexcept {
  __m512 r = Rounding::divides ? _mm512_div_ps(v, f) : _mm512_mul_ps(v, f);
  r = _mm512_min_ps(_mm512_max_ps(r, lo), hi);
  return _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(r), zp));
}

/// Stores 64 codes (four vectors of 16 bytes, element order) packed for format F at `out`.
template <class F>
LOWBIT_TARGET_AVX512 LOWBIT_ALWAYS_INLINE void store64(std::uint8_t* out, __m128i a, __m128i b,
                                                       __m128i c, __m128i d) noexcept {
  if constexpr (F::per_byte == 1) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), a);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 16), b);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 32), c);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 48), d);
  } else {
    __m512i z = _mm512_castsi128_si512(a);
    z = _mm512_inserti32x4(z, b, 1);
    z = _mm512_inserti32x4(z, c, 2);
    z = _mm512_inserti32x4(z, d, 3);
    if constexpr (F::per_byte == 2) {
      const __m512i lo = _mm512_and_si512(z, _mm512_set1_epi16(0x000F));
      const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(z, 4), _mm512_set1_epi16(0x00F0));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out),
                          _mm512_cvtepi16_epi8(_mm512_or_si512(lo, hi)));
    } else {
      const __m512i m = _mm512_and_si512(z, _mm512_set1_epi8(0x03));
      __m512i t = _mm512_or_si512(m, _mm512_srli_epi32(m, 6));
      t = _mm512_or_si512(t, _mm512_srli_epi32(m, 12));
      t = _mm512_or_si512(t, _mm512_srli_epi32(m, 18));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm512_cvtepi32_epi8(t));
    }
  }
}

/// Quantizes 64 elements into out; returns the lanes that held a value beyond `limit`.
template <class F, class Rounding>
LOWBIT_TARGET_AVX512 LOWBIT_ALWAYS_INLINE __mmask16 quantize64(const float* x, __m512 f, __m512 lo, __m512 hi,
                                                               __m512i vzp, __m512 limit, std::uint8_t* out) noexcept {
  const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
  const __m512 v2 = _mm512_loadu_ps(x + 32), v3 = _mm512_loadu_ps(x + 48);
  store64<F>(out, round16<Rounding>(v0, f, lo, hi, vzp), round16<Rounding>(v1, f, lo, hi, vzp),
             round16<Rounding>(v2, f, lo, hi, vzp), round16<Rounding>(v3, f, lo, hi, vzp));
  return static_cast<__mmask16>(nonfinite(v0, limit) | nonfinite(v1, limit) | nonfinite(v2, limit) |
                                nonfinite(v3, limit));
}

// The last n % 64 elements go through the same vector code, zero-padded to 64 in local buffers
// (so that short runs, a group of 32 say, do not fall back to scalar rounding); only the codes
// of the real elements are copied out.
template <class F, class Rounding>
LOWBIT_TARGET_AVX512 bool quantize(const float* LOWBIT_RESTRICT x, index_t n, float factor,
                                   std::int32_t zp, inf_policy inf,
                                   std::uint8_t* LOWBIT_RESTRICT out) noexcept {
  const __m512 f = _mm512_set1_ps(factor);
  const __m512 lo = _mm512_set1_ps(static_cast<float>(F::qmin - zp));
  const __m512 hi = _mm512_set1_ps(static_cast<float>(F::qmax - zp));
  const __m512 limit = _mm512_set1_ps(finite_limit(inf));
  const __m512i vzp = _mm512_set1_epi32(zp);
  __mmask16 bad = 0;
  index_t i = 0;
  for (; i + 64 <= n; i += 64)
    bad = static_cast<__mmask16>(bad | quantize64<F, Rounding>(x + i, f, lo, hi, vzp, limit, out + i / F::per_byte));
  if (i < n) {
    alignas(64) float xt[64] = {};
    alignas(64) std::uint8_t ct[64];
    std::memcpy(xt, x + i, static_cast<std::size_t>(n - i) * sizeof(float));
    bad = static_cast<__mmask16>(bad | quantize64<F, Rounding>(xt, f, lo, hi, vzp, limit, ct));
    scalar::copy_codes<F>(out + i / F::per_byte, ct, n - i);
  }
  return bad == 0;
}

template <class Rounding>
LOWBIT_TARGET_AVX512 LOWBIT_ALWAYS_INLINE __m128i round16_vec(__m512 v, const float* factors,
                                                              const std::int32_t* zps,
                                                              __m512i qmin, __m512i qmax) noexcept {
  const __m512i zp = _mm512_loadu_si512(zps);
  const __m512 lo = _mm512_cvtepi32_ps(_mm512_sub_epi32(qmin, zp));
  const __m512 hi = _mm512_cvtepi32_ps(_mm512_sub_epi32(qmax, zp));
  return round16<Rounding>(v, _mm512_loadu_ps(factors), lo, hi, zp);
}

template <class F, class Rounding>
LOWBIT_TARGET_AVX512 LOWBIT_ALWAYS_INLINE __mmask16 quantize64_vec(const float* x, const float* factors,
                                                                   const std::int32_t* zps, __m512i qmin, __m512i qmax,
                                                                   __m512 limit, std::uint8_t* out) noexcept {
  const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
  const __m512 v2 = _mm512_loadu_ps(x + 32), v3 = _mm512_loadu_ps(x + 48);
  store64<F>(out, round16_vec<Rounding>(v0, factors, zps, qmin, qmax),
             round16_vec<Rounding>(v1, factors + 16, zps + 16, qmin, qmax),
             round16_vec<Rounding>(v2, factors + 32, zps + 32, qmin, qmax),
             round16_vec<Rounding>(v3, factors + 48, zps + 48, qmin, qmax));
  return static_cast<__mmask16>(nonfinite(v0, limit) | nonfinite(v1, limit) | nonfinite(v2, limit) |
                                nonfinite(v3, limit));
}

template <class F, class Rounding>
LOWBIT_TARGET_AVX512 bool quantize_vec(const float* LOWBIT_RESTRICT x, index_t n,
                                       const float* factors, const std::int32_t* zps,
                                       inf_policy inf, std::uint8_t* LOWBIT_RESTRICT out) noexcept {
  const __m512 limit = _mm512_set1_ps(finite_limit(inf));
  const __m512i qmin = _mm512_set1_epi32(F::qmin), qmax = _mm512_set1_epi32(F::qmax);
  __mmask16 bad = 0;
  index_t i = 0;
  for (; i + 64 <= n; i += 64)
    bad = static_cast<__mmask16>(
        bad | quantize64_vec<F, Rounding>(x + i, factors + i, zps + i, qmin, qmax, limit, out + i / F::per_byte));
  if (i < n) {  // padded as in quantize(); factor 1 and zero point 0 for the padding
    const auto r = static_cast<std::size_t>(n - i);
    alignas(64) float xt[64] = {}, ft[64];
    alignas(64) std::int32_t zt[64] = {};
    alignas(64) std::uint8_t ct[64];
    std::fill(ft, ft + 64, 1.0f);
    std::memcpy(xt, x + i, r * sizeof(float));
    std::memcpy(ft, factors + i, r * sizeof(float));
    std::memcpy(zt, zps + i, r * sizeof(std::int32_t));
    bad = static_cast<__mmask16>(bad | quantize64_vec<F, Rounding>(xt, ft, zt, qmin, qmax, limit, ct));
    scalar::copy_codes<F>(out + i / F::per_byte, ct, n - i);
  }
  return bad == 0;
}

/// 16 codes of format F starting at element i (a multiple of 16) of a packed run, as int32.
template <class F>
LOWBIT_TARGET_AVX512 LOWBIT_ALWAYS_INLINE __m512i load16(const std::uint8_t* in, index_t i) noexcept {
  if constexpr (F::per_byte == 1) {
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    return F::is_signed ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
  } else {
    constexpr int per_byte = F::per_byte;
    std::uint64_t word = 0;
    std::memcpy(&word, in + i / per_byte, 16 / per_byte);
    const __m128i dup = per_byte == 2 ? _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7)
                                      : _mm_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    const __m512i shifts = per_byte == 2 ? _mm512_setr_epi32(0, 4, 0, 4, 0, 4, 0, 4, 0, 4, 0, 4,
                                                             0, 4, 0, 4)
                                         : _mm512_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6, 0, 2, 4, 6,
                                                             0, 2, 4, 6);
    const __m128i bytes =
        _mm_shuffle_epi8(_mm_cvtsi64_si128(static_cast<long long>(word)), dup);
    const __m512i raw = _mm512_and_si512(_mm512_srlv_epi32(_mm512_cvtepu8_epi32(bytes), shifts),
                                         _mm512_set1_epi32(F::code_mask));
    if constexpr (F::is_signed) {
      const __m512i sign = _mm512_set1_epi32(1 << (F::bits - 1));
      return _mm512_sub_epi32(_mm512_xor_si512(raw, sign), sign);
    } else {
      return raw;
    }
  }
}

template <class F>
LOWBIT_TARGET_AVX512 void dequantize(const std::uint8_t* LOWBIT_RESTRICT in, index_t n,
                                     float scale, std::int32_t zp,
                                     float* LOWBIT_RESTRICT out) noexcept {
  const __m512 s = _mm512_set1_ps(scale);
  const __m512i vzp = _mm512_set1_epi32(zp);
  index_t i = 0;
  for (; i + 64 <= n; i += 64) {
    for (index_t j = 0; j < 64; j += 16) {
      const __m512i q = _mm512_sub_epi32(load16<F>(in, i + j), vzp);
      _mm512_storeu_ps(out + i + j, _mm512_mul_ps(_mm512_cvtepi32_ps(q), s));
    }
  }
  for (; i < n; ++i) out[i] = static_cast<float>(scalar::load_code<F>(in, i) - zp) * scale;
}

template <class F>
LOWBIT_TARGET_AVX512 void dequantize_vec(const std::uint8_t* LOWBIT_RESTRICT in, index_t n,
                                         const float* scales, const std::int32_t* zps,
                                         float* LOWBIT_RESTRICT out) noexcept {
  index_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i q = _mm512_sub_epi32(load16<F>(in, i), _mm512_loadu_si512(zps + i));
    _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_cvtepi32_ps(q), _mm512_loadu_ps(scales + i)));
  }
  for (; i < n; ++i) out[i] = static_cast<float>(scalar::load_code<F>(in, i) - zps[i]) * scales[i];
}

LOWBIT_TARGET_AVX512 inline bool minmax(const float* x, index_t n, float& mn, float& mx) noexcept {
  const __m512 limit = _mm512_set1_ps(std::numeric_limits<float>::max());
  __m512 lo0 = _mm512_set1_ps(mn), lo1 = lo0, hi0 = _mm512_set1_ps(mx), hi1 = hi0;
  __mmask16 bad = 0;
  index_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 v0 = _mm512_loadu_ps(x + i), v1 = _mm512_loadu_ps(x + i + 16);
    bad = static_cast<__mmask16>(bad | nonfinite(v0, limit) | nonfinite(v1, limit));
    lo0 = _mm512_min_ps(lo0, v0);
    lo1 = _mm512_min_ps(lo1, v1);
    hi0 = _mm512_max_ps(hi0, v0);
    hi1 = _mm512_max_ps(hi1, v1);
  }
  alignas(64) float l[16], h[16];
  _mm512_store_ps(l, _mm512_min_ps(lo0, lo1));
  _mm512_store_ps(h, _mm512_max_ps(hi0, hi1));
  float a = mn, b = mx;
  for (int j = 0; j < 16; ++j) {
    a = l[j] < a ? l[j] : a;
    b = h[j] > b ? h[j] : b;
  }
  mn = a;
  mx = b;
  const bool tail_ok = scalar::minmax(x + i, n - i, mn, mx);
  return tail_ok && bad == 0;
}

LOWBIT_TARGET_AVX512 inline bool minmax_vec(const float* LOWBIT_RESTRICT x, index_t n,
                                            float* LOWBIT_RESTRICT mins,
                                            float* LOWBIT_RESTRICT maxs) noexcept {
  const __m512 limit = _mm512_set1_ps(std::numeric_limits<float>::max());
  __mmask16 bad = 0;
  index_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(x + i);
    bad = static_cast<__mmask16>(bad | nonfinite(v, limit));
    _mm512_storeu_ps(mins + i, _mm512_min_ps(_mm512_loadu_ps(mins + i), v));
    _mm512_storeu_ps(maxs + i, _mm512_max_ps(_mm512_loadu_ps(maxs + i), v));
  }
  const bool tail_ok = scalar::minmax_vec(x + i, n - i, mins + i, maxs + i);
  return tail_ok && bad == 0;
}

}  // namespace avx512
}  // namespace kernels
LOWBIT_NAMESPACE_END

LOWBIT_AVX512_DIAGNOSTICS_END

#endif  // LOWBIT_HAVE_X86_PATHS
