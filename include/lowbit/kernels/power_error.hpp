// lowbit/kernels/power_error.hpp: the weight search's inner loop, sum |fake_quantize(x) - x|^norm, on every path.
//
// For one candidate (scale, zero point) and values x[0, n) the kernel returns
//
//   sum_i  (|r_i * scale - x_i| * ref)^norm,   r_i = nearbyint(clamp(R(x_i, factor), lo, hi))
//
// where R is the quantizer's rounding (x * factor or x / factor), [lo, hi] = [qmin - zp, qmax - zp]
// and r_i = code - zero point, so r_i * scale is what fake_quantize returns. `ref` is a power of
// two that brings the errors to [0, 4) (the caller picks it from the values' magnitude; it scales
// every candidate's sum by the same factor, so the search's choice does not depend on it).
//
// The power is not std::pow: it is exp2(norm * log2(v)), log2 of the mantissa (reduced to
// [sqrt(1/2), sqrt(2))) from a degree-8 polynomial fitted to log2(1 + u) / u (least squares on
// Chebyshev nodes, absolute error below 6e-8) and exp2 from the degree-7 Taylor polynomial on
// [-1/2, 1/2]: relative error about 1e-7, the float rounding of the result. No division, so the
// vector paths (AVX2, AVX-512, NEON; simd runs the scalar loop) are bound by their multiply-add
// throughput. Every path computes exactly the same float operations in the same order, every
// multiply-add as an explicit fused multiply-add (std::fma in the scalar reference), so all paths
// return bit-identical sums:
//
//   a    = |fma(r, scale, -x)|                      v = a * ref (exact: ref is a power of two)
//   e, m = exponent and mantissa of v, m in [1, 2); if m > sqrt(2): m *= 1/2, e += 1
//   u    = m - 1 (exact);  s = fma(u, P(u), float(e))               P: Horner, fma per step
//   y    = norm * s;  k = nearbyint(y);  f = fma(norm, s, -k);  q = Q(f)  (Horner, fma per step)
//   term = v >= FLT_MIN && k >= -126 ? q * 2^k : 0   (accumulated as fma(q, 2^k, acc))
//
// Terms go to 16 float lanes (element i to lane i % 16); every 256 elements each lane is added to
// its double, and the 16 doubles are summed as a tree at the end (sum_lanes). Values never reach NaN or
// Inf here: callers pass finite x (observers drop the rest) and norm in (0, 32].
//
// The search itself (least_power_error) needs only the first candidate of least sum, not every
// sum: a bounded sum stops once its partial sum (the same lanes and tree over the terms so far)
// shows the candidate cannot win. Terms are >= 0 and rounding is monotonic, so a partial sum never
// exceeds the whole sum and the choice is exactly power_errors' first minimum.
#pragma once

#include <cassert>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/kernels/x86.hpp"
#include "lowbit/runtime/path.hpp"

#if LOWBIT_HAVE_NEONDOT_PATH
#include <arm_neon.h>
#endif

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace power_error_detail {

inline constexpr index_t lanes = 16;
inline constexpr index_t chunk = 256;  // elements per float partial sum, then added to doubles
inline constexpr float sqrt2 = 1.41421356f;
// log2(1 + u) = u * (lg0 + lg1 u + ... + lg8 u^8) on u in [sqrt(1/2) - 1, sqrt(2) - 1].
inline constexpr float lg0 = 1.44269502f, lg1 = -0.721347332f, lg2 = 0.480910599f, lg3 = -0.360704839f,
                       lg4 = 0.287918329f, lg5 = -0.238920346f, lg6 = 0.215669855f, lg7 = -0.207421035f,
                       lg8 = 0.126148462f;
// 2^f = sum_i (ln 2)^i / i! f^i, i = 0 .. 7.
inline constexpr float ex1 = 0.693147181f, ex2 = 0.240226507f, ex3 = 0.0555041087f, ex4 = 0.00961812911f,
                       ex5 = 0.00133335581f, ex6 = 0.000154035304f, ex7 = 1.52527338e-05f;

// A bounded sum compares its partial sum with the limit after every `check` values of a short
// slot and every 4 * check of a long one (the comparison costs about a vector's terms).
inline constexpr index_t check = 32;
/// The mask m such that the comparison runs where (values done) & m == 0.
inline constexpr index_t check_mask(index_t n) noexcept { return (n <= 16 * check ? check : 4 * check) - 1; }
// Every chunk's end is a comparison point (the partial sum there is the flushed sum).
static_assert(chunk % (4 * check) == 0, "a chunk must end at a comparison point");

/// The 16 lanes' doubles summed as a tree: lane[i] += lane[i + h] for h = 8, 4, 2, 1.
inline double sum_lanes(double* lane) noexcept {
  for (index_t h = lanes / 2; h >= 1; h /= 2)
    for (index_t i = 0; i < h; ++i) lane[i] += lane[i + h];
  return lane[0];
}

}  // namespace power_error_detail

/// One candidate of the search: the quantizer's rounding factor (Rounding::factor(scale)), the
/// scale and the clamp bounds [qmin - zp, qmax - zp].
struct power_candidate {
  float factor, scale, lo, hi;
};

namespace scalar {

/// Adds x's term to acc (see the file comment): the reference every path matches bit for bit.
template <class Rounding>
inline void add_power_error(float x, float factor, float scale, float lo, float hi, float ref, float norm,
                            float& acc) noexcept {
  namespace d = power_error_detail;
  float r = Rounding::apply(x, factor);
  r = r < lo ? lo : r;
  r = r > hi ? hi : r;
  r = std::nearbyint(r);
  const float v = std::fabs(std::fma(r, scale, -x)) * ref;
  std::uint32_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  auto e = static_cast<std::int32_t>(bits >> 23) - 127;
  bits = (bits & 0x007FFFFFu) | 0x3F800000u;
  float m;
  std::memcpy(&m, &bits, sizeof m);
  if (m > d::sqrt2) {
    m = m * 0.5f;
    e = e + 1;
  }
  const float u = m - 1.0f;
  float p = std::fma(d::lg8, u, d::lg7);
  p = std::fma(p, u, d::lg6);
  p = std::fma(p, u, d::lg5);
  p = std::fma(p, u, d::lg4);
  p = std::fma(p, u, d::lg3);
  p = std::fma(p, u, d::lg2);
  p = std::fma(p, u, d::lg1);
  p = std::fma(p, u, d::lg0);
  const float s = std::fma(u, p, static_cast<float>(e));
  const float k = std::nearbyint(norm * s);
  const float f = std::fma(norm, s, -k);
  float q = std::fma(d::ex7, f, d::ex6);
  q = std::fma(q, f, d::ex5);
  q = std::fma(q, f, d::ex4);
  q = std::fma(q, f, d::ex3);
  q = std::fma(q, f, d::ex2);
  q = std::fma(q, f, d::ex1);
  q = std::fma(q, f, 1.0f);
  if (!(v >= std::numeric_limits<float>::min()) || k < -126.0f) return;
  const auto pbits = static_cast<std::uint32_t>(static_cast<std::int32_t>(k) + 127) << 23;
  float pow2k;
  std::memcpy(&pow2k, &pbits, sizeof pow2k);
  acc = std::fma(q, pow2k, acc);
}

/// The sum for one candidate; with Bounded, the sum stops early once a partial sum (the same
/// lanes and tree with the terms so far) reaches limit, and that partial sum is returned: it is at
/// most the whole sum (every term is >= 0 and rounding is monotonic), so a result >= limit means
/// the whole sum is >= limit too. A result below limit is always the whole sum.
template <class Rounding, bool Bounded = false>
double power_error(const float* x, index_t n, float factor, float scale, float lo, float hi, float ref, float norm,
                   double limit = 0.0) noexcept {
  namespace d = power_error_detail;
  double dacc[d::lanes] = {};
  float facc[d::lanes] = {};
  for (index_t i = 0; i < n; ++i) {
    add_power_error<Rounding>(x[i], factor, scale, lo, hi, ref, norm, facc[i % d::lanes]);
    if (Bounded && ((i + 1) & d::check_mask(n)) == 0 && i + 1 < n) {
      double partial[d::lanes];
      for (index_t l = 0; l < d::lanes; ++l) partial[l] = dacc[l] + static_cast<double>(facc[l]);
      const double sum = d::sum_lanes(partial);
      if (sum >= limit) return sum;
    }
    if ((i + 1) % d::chunk == 0 || i + 1 == n) {
      for (index_t l = 0; l < d::lanes; ++l) {
        dacc[l] += static_cast<double>(facc[l]);
        facc[l] = 0.0f;
      }
    }
  }
  return d::sum_lanes(dacc);
}

template <class Rounding>
void power_errors(const float* x, index_t n, const power_candidate* c, index_t count, float ref, float norm,
                  double* out) noexcept {
  for (index_t j = 0; j < count; ++j) out[j] = power_error<Rounding>(x, n, c[j].factor, c[j].scale, c[j].lo, c[j].hi, ref, norm);
}

}  // namespace scalar

#if LOWBIT_HAVE_X86_PATHS

namespace avx2 {

template <class Rounding>
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE __m256 power_error8(__m256 x, __m256 acc, __m256 factor, __m256 scale,
                                                           __m256 lo, __m256 hi, __m256 ref, __m256 norm) noexcept {
  namespace d = power_error_detail;
  __m256 r = Rounding::divides ? _mm256_div_ps(x, factor) : _mm256_mul_ps(x, factor);
  r = _mm256_min_ps(_mm256_max_ps(r, lo), hi);
  r = _mm256_round_ps(r, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 v = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), _mm256_fmsub_ps(r, scale, x)), ref);
  const __m256i bits = _mm256_castps_si256(v);
  __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127));
  __m256 m = _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(bits, _mm256_set1_epi32(0x007FFFFF)),
                                                 _mm256_set1_epi32(0x3F800000)));
  const __m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(d::sqrt2), _CMP_GT_OQ);
  m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
  e = _mm256_sub_epi32(e, _mm256_castps_si256(big));  // big lanes are -1 as integers
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 u = _mm256_sub_ps(m, one);
  __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(d::lg8), u, _mm256_set1_ps(d::lg7));
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(d::lg6));
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(d::lg5));
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(d::lg4));
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(d::lg3));
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(d::lg2));
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(d::lg1));
  p = _mm256_fmadd_ps(p, u, _mm256_set1_ps(d::lg0));
  const __m256 s = _mm256_fmadd_ps(u, p, _mm256_cvtepi32_ps(e));
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(norm, s), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 f = _mm256_fmsub_ps(norm, s, k);
  __m256 q = _mm256_fmadd_ps(_mm256_set1_ps(d::ex7), f, _mm256_set1_ps(d::ex6));
  q = _mm256_fmadd_ps(q, f, _mm256_set1_ps(d::ex5));
  q = _mm256_fmadd_ps(q, f, _mm256_set1_ps(d::ex4));
  q = _mm256_fmadd_ps(q, f, _mm256_set1_ps(d::ex3));
  q = _mm256_fmadd_ps(q, f, _mm256_set1_ps(d::ex2));
  q = _mm256_fmadd_ps(q, f, _mm256_set1_ps(d::ex1));
  q = _mm256_fmadd_ps(q, f, one);
  const __m256 keep = _mm256_and_ps(_mm256_cmp_ps(v, _mm256_set1_ps(std::numeric_limits<float>::min()), _CMP_GE_OQ),
                                    _mm256_cmp_ps(k, _mm256_set1_ps(-126.0f), _CMP_GE_OQ));
  const __m256 pow2k = _mm256_and_ps(
      keep, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23)));
  return _mm256_fmadd_ps(q, pow2k, acc);
}

/// sum_lanes of lanes 0-3, 4-7, 8-11, 12-15 in d0 .. d3, the same tree in registers.
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE double sum_lanes(__m256d d0, __m256d d1, __m256d d2, __m256d d3) noexcept {
  const __m256d t = _mm256_add_pd(_mm256_add_pd(d0, d2), _mm256_add_pd(d1, d3));    // h = 8, then h = 4
  const __m128d u = _mm_add_pd(_mm256_castpd256_pd128(t), _mm256_extractf128_pd(t, 1));  // h = 2
  return _mm_cvtsd_f64(_mm_add_sd(u, _mm_unpackhi_pd(u, u)));                        // h = 1
}

/// Adds the float lanes of a0 (lanes 0-7) and a1 (8-15), widened, to the doubles d0 .. d3.
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE void add_lanes(__m256d& d0, __m256d& d1, __m256d& d2, __m256d& d3, __m256 a0,
                                                       __m256 a1) noexcept {
  d0 = _mm256_add_pd(d0, _mm256_cvtps_pd(_mm256_castps256_ps128(a0)));
  d1 = _mm256_add_pd(d1, _mm256_cvtps_pd(_mm256_extractf128_ps(a0, 1)));
  d2 = _mm256_add_pd(d2, _mm256_cvtps_pd(_mm256_castps256_ps128(a1)));
  d3 = _mm256_add_pd(d3, _mm256_cvtps_pd(_mm256_extractf128_ps(a1, 1)));
}

/// The partial sum of a bounded sum: the doubles plus the chunk's float lanes so far.
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE double partial_sum(__m256d d0, __m256d d1, __m256d d2, __m256d d3, __m256 a0,
                                                           __m256 a1) noexcept {
  add_lanes(d0, d1, d2, d3, a0, a1);
  return sum_lanes(d0, d1, d2, d3);
}

/// scalar::power_error's contract (Bounded: the partial sum is compared as check_mask says).
template <class Rounding, bool Bounded = false>
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE double power_error(const float* x, index_t n, float factor, float scale,
                                                           float lo, float hi, float ref, float norm,
                                                           double limit = 0.0) noexcept {
  namespace d = power_error_detail;
  static_assert(d::check == 2 * d::lanes, "at most one comparison per step of the main loop");
  const index_t every = d::check_mask(n);
  const __m256 vf = _mm256_set1_ps(factor), vs = _mm256_set1_ps(scale), vlo = _mm256_set1_ps(lo);
  const __m256 vhi = _mm256_set1_ps(hi), vref = _mm256_set1_ps(ref), vnorm = _mm256_set1_ps(norm);
  __m256d d0 = _mm256_setzero_pd(), d1 = d0, d2 = d0, d3 = d0;  // lanes 0-3, 4-7, 8-11, 12-15
  for (index_t c = 0; c < n; c += d::chunk) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    const index_t end = c + d::chunk < n ? c + d::chunk : n;
    index_t i = c;
    for (; i + 2 * d::lanes <= end; i += 2 * d::lanes) {
      const __m256 x0 = _mm256_loadu_ps(x + i), x1 = _mm256_loadu_ps(x + i + 8);
      const __m256 x2 = _mm256_loadu_ps(x + i + 16), x3 = _mm256_loadu_ps(x + i + 24);
      a0 = power_error8<Rounding>(x0, a0, vf, vs, vlo, vhi, vref, vnorm);
      a1 = power_error8<Rounding>(x1, a1, vf, vs, vlo, vhi, vref, vnorm);
      a0 = power_error8<Rounding>(x2, a0, vf, vs, vlo, vhi, vref, vnorm);
      a1 = power_error8<Rounding>(x3, a1, vf, vs, vlo, vhi, vref, vnorm);
      if constexpr (Bounded) {
        if (i + 2 * d::lanes < n && ((i + 2 * d::lanes) & every) == 0) {
          const double partial = partial_sum(d0, d1, d2, d3, a0, a1);
          if (partial >= limit) return partial;
        }
      }
    }
    for (; i < end; i += d::lanes) {
      __m256 x0, x1;
      if (i + d::lanes <= end) {
        x0 = _mm256_loadu_ps(x + i);
        x1 = _mm256_loadu_ps(x + i + 8);
      } else {
        alignas(32) float tail[d::lanes] = {};
        std::memcpy(tail, x + i, sizeof(float) * static_cast<std::size_t>(end - i));
        x0 = _mm256_load_ps(tail);
        x1 = _mm256_load_ps(tail + 8);
      }
      a0 = power_error8<Rounding>(x0, a0, vf, vs, vlo, vhi, vref, vnorm);
      a1 = power_error8<Rounding>(x1, a1, vf, vs, vlo, vhi, vref, vnorm);
    }
    add_lanes(d0, d1, d2, d3, a0, a1);
  }
  return sum_lanes(d0, d1, d2, d3);
}

template <class Rounding>
LOWBIT_TARGET_AVX2 void power_errors(const float* x, index_t n, const power_candidate* c, index_t count, float ref,
                                     float norm, double* out) noexcept {
  for (index_t j = 0; j < count; ++j) out[j] = power_error<Rounding>(x, n, c[j].factor, c[j].scale, c[j].lo, c[j].hi, ref, norm);
}

}  // namespace avx2

LOWBIT_AVX512_DIAGNOSTICS_BEGIN

namespace avx512 {

/// q and 2^k (0 where the term vanishes) of 16 values: the term is fma(q, 2^k, acc).
template <class Rounding>
LOWBIT_TARGET_AVX512 LOWBIT_ALWAYS_INLINE void power_error16(__m512 xv, __m512 vf, __m512 vs, __m512 vlo, __m512 vhi,
                                                            __m512 vref, __m512 vnorm, __m512& q, __m512& pow2k) noexcept {
  namespace d = power_error_detail;
  constexpr int nearest = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 r = Rounding::divides ? _mm512_div_ps(xv, vf) : _mm512_mul_ps(xv, vf);
  r = _mm512_min_ps(_mm512_max_ps(r, vlo), vhi);
  r = _mm512_roundscale_ps(r, nearest);
  const __m512 v = _mm512_mul_ps(_mm512_abs_ps(_mm512_fmsub_ps(r, vs, xv)), vref);
  const __m512i bits = _mm512_castps_si512(v);
  __m512i e = _mm512_sub_epi32(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(127));
  __m512 m = _mm512_castsi512_ps(_mm512_or_si512(_mm512_and_si512(bits, _mm512_set1_epi32(0x007FFFFF)),
                                                 _mm512_set1_epi32(0x3F800000)));
  const __mmask16 big = _mm512_cmp_ps_mask(m, _mm512_set1_ps(d::sqrt2), _CMP_GT_OQ);
  m = _mm512_mask_mul_ps(m, big, m, _mm512_set1_ps(0.5f));
  e = _mm512_mask_add_epi32(e, big, e, _mm512_set1_epi32(1));
  const __m512 u = _mm512_sub_ps(m, one);
  __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(d::lg8), u, _mm512_set1_ps(d::lg7));
  p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(d::lg6));
  p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(d::lg5));
  p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(d::lg4));
  p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(d::lg3));
  p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(d::lg2));
  p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(d::lg1));
  p = _mm512_fmadd_ps(p, u, _mm512_set1_ps(d::lg0));
  const __m512 s = _mm512_fmadd_ps(u, p, _mm512_cvtepi32_ps(e));
  const __m512 k = _mm512_roundscale_ps(_mm512_mul_ps(vnorm, s), nearest);
  const __m512 f = _mm512_fmsub_ps(vnorm, s, k);
  q = _mm512_fmadd_ps(_mm512_set1_ps(d::ex7), f, _mm512_set1_ps(d::ex6));
  q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(d::ex5));
  q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(d::ex4));
  q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(d::ex3));
  q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(d::ex2));
  q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(d::ex1));
  q = _mm512_fmadd_ps(q, f, one);
  const __mmask16 keep = _mm512_cmp_ps_mask(v, _mm512_set1_ps(std::numeric_limits<float>::min()), _CMP_GE_OQ) &
                         _mm512_cmp_ps_mask(k, _mm512_set1_ps(-126.0f), _CMP_GE_OQ);
  pow2k = _mm512_maskz_mov_ps(
      keep, _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(k), _mm512_set1_epi32(127)), 23)));
}

/// sum_lanes of lanes 0-7 and 8-15 in lo and hi, the same tree in registers.
LOWBIT_TARGET_AVX512 LOWBIT_ALWAYS_INLINE double sum_lanes(__m512d lo, __m512d hi) noexcept {
  const __m512d t = _mm512_add_pd(lo, hi);                                                   // h = 8
  const __m256d u = _mm256_add_pd(_mm512_castpd512_pd256(t), _mm512_extractf64x4_pd(t, 1));  // h = 4
  const __m128d w = _mm_add_pd(_mm256_castpd256_pd128(u), _mm256_extractf128_pd(u, 1));      // h = 2
  return _mm_cvtsd_f64(_mm_add_sd(w, _mm_unpackhi_pd(w, w)));                              // h = 1
}

LOWBIT_TARGET_AVX512 LOWBIT_ALWAYS_INLINE __m512d low_doubles(__m512 acc) noexcept {
  return _mm512_cvtps_pd(_mm512_castps512_ps256(acc));
}
LOWBIT_TARGET_AVX512 LOWBIT_ALWAYS_INLINE __m512d high_doubles(__m512 acc) noexcept {
  return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc), 1)));
}

/// scalar::power_error's contract (Bounded: the partial sum is compared as check_mask says).
template <class Rounding, bool Bounded = false>
LOWBIT_TARGET_AVX512 LOWBIT_ALWAYS_INLINE double power_error(const float* x, index_t n, float factor, float scale,
                                                             float lo, float hi, float ref, float norm,
                                                             double limit = 0.0) noexcept {
  namespace d = power_error_detail;
  static_assert(d::check == 2 * d::lanes, "at most one comparison per two vectors of the main loop");
  const index_t every = d::check_mask(n);
  const __m512 vf = _mm512_set1_ps(factor), vs = _mm512_set1_ps(scale), vlo = _mm512_set1_ps(lo);
  const __m512 vhi = _mm512_set1_ps(hi), vref = _mm512_set1_ps(ref), vnorm = _mm512_set1_ps(norm);
  __m512d dlo = _mm512_setzero_pd(), dhi = dlo;  // lanes 0-7, 8-15
  for (index_t c = 0; c < n; c += d::chunk) {
    __m512 acc = _mm512_setzero_ps();
    const index_t end = c + d::chunk < n ? c + d::chunk : n;
    index_t i = c;
    // Four vectors' terms at a time (independent work the core can overlap), added in order.
    for (; i + 4 * d::lanes <= end; i += 4 * d::lanes) {
      __m512 q0, p0, q1, p1, q2, p2, q3, p3;
      power_error16<Rounding>(_mm512_loadu_ps(x + i), vf, vs, vlo, vhi, vref, vnorm, q0, p0);
      power_error16<Rounding>(_mm512_loadu_ps(x + i + 16), vf, vs, vlo, vhi, vref, vnorm, q1, p1);
      power_error16<Rounding>(_mm512_loadu_ps(x + i + 32), vf, vs, vlo, vhi, vref, vnorm, q2, p2);
      power_error16<Rounding>(_mm512_loadu_ps(x + i + 48), vf, vs, vlo, vhi, vref, vnorm, q3, p3);
      acc = _mm512_fmadd_ps(q0, p0, acc);
      acc = _mm512_fmadd_ps(q1, p1, acc);
      if constexpr (Bounded) {
        if (i + 2 * d::lanes < n && ((i + 2 * d::lanes) & every) == 0) {
          const double partial = sum_lanes(_mm512_add_pd(dlo, low_doubles(acc)), _mm512_add_pd(dhi, high_doubles(acc)));
          if (partial >= limit) return partial;
        }
      }
      acc = _mm512_fmadd_ps(q2, p2, acc);
      acc = _mm512_fmadd_ps(q3, p3, acc);
      if constexpr (Bounded) {
        if (i + 4 * d::lanes < n && ((i + 4 * d::lanes) & every) == 0) {
          const double partial = sum_lanes(_mm512_add_pd(dlo, low_doubles(acc)), _mm512_add_pd(dhi, high_doubles(acc)));
          if (partial >= limit) return partial;
        }
      }
    }
    for (; i < end; i += d::lanes) {
      const __mmask16 live = end - i >= d::lanes ? __mmask16(0xFFFF) : __mmask16((1u << (end - i)) - 1u);
      __m512 q, p;
      power_error16<Rounding>(_mm512_maskz_loadu_ps(live, x + i), vf, vs, vlo, vhi, vref, vnorm, q, p);
      acc = _mm512_fmadd_ps(q, p, acc);
      if constexpr (Bounded) {  // the last 1 to 3 vectors of a chunk may pass a comparison point too
        if (i + d::lanes < n && ((i + d::lanes) & every) == 0) {
          const double partial = sum_lanes(_mm512_add_pd(dlo, low_doubles(acc)), _mm512_add_pd(dhi, high_doubles(acc)));
          if (partial >= limit) return partial;
        }
      }
    }
    dlo = _mm512_add_pd(dlo, low_doubles(acc));
    dhi = _mm512_add_pd(dhi, high_doubles(acc));
  }
  return sum_lanes(dlo, dhi);
}

template <class Rounding>
LOWBIT_TARGET_AVX512 void power_errors(const float* x, index_t n, const power_candidate* c, index_t count, float ref,
                                       float norm, double* out) noexcept {
  for (index_t j = 0; j < count; ++j) out[j] = power_error<Rounding>(x, n, c[j].factor, c[j].scale, c[j].lo, c[j].hi, ref, norm);
}

}  // namespace avx512

LOWBIT_AVX512_DIAGNOSTICS_END

#endif  // LOWBIT_HAVE_X86_PATHS

#if LOWBIT_HAVE_NEONDOT_PATH

namespace neondot {

/// x's 4 terms added to acc: scalar::add_power_error's operations, lane by lane (vfmaq_f32 is a
/// fused multiply-add, vrndnq_f32 rounds to nearest even as nearbyint does).
template <class Rounding>
inline float32x4_t power_error4(float32x4_t x, float32x4_t acc, float32x4_t factor, float32x4_t scale, float32x4_t lo,
                                float32x4_t hi, float32x4_t ref, float32x4_t norm) noexcept {
  namespace d = power_error_detail;
  const float32x4_t one = vdupq_n_f32(1.0f);
  float32x4_t r = Rounding::divides ? vdivq_f32(x, factor) : vmulq_f32(x, factor);
  r = vrndnq_f32(vminq_f32(vmaxq_f32(r, lo), hi));
  const float32x4_t v = vmulq_f32(vabsq_f32(vfmaq_f32(vnegq_f32(x), r, scale)), ref);
  const uint32x4_t bits = vreinterpretq_u32_f32(v);
  int32x4_t e = vsubq_s32(vreinterpretq_s32_u32(vshrq_n_u32(bits, 23)), vdupq_n_s32(127));
  float32x4_t m = vreinterpretq_f32_u32(vorrq_u32(vandq_u32(bits, vdupq_n_u32(0x007FFFFFu)), vdupq_n_u32(0x3F800000u)));
  const uint32x4_t big = vcgtq_f32(m, vdupq_n_f32(d::sqrt2));
  m = vbslq_f32(big, vmulq_f32(m, vdupq_n_f32(0.5f)), m);
  e = vsubq_s32(e, vreinterpretq_s32_u32(big));  // big lanes are -1 as integers
  const float32x4_t u = vsubq_f32(m, one);
  float32x4_t p = vfmaq_f32(vdupq_n_f32(d::lg7), vdupq_n_f32(d::lg8), u);
  p = vfmaq_f32(vdupq_n_f32(d::lg6), p, u);
  p = vfmaq_f32(vdupq_n_f32(d::lg5), p, u);
  p = vfmaq_f32(vdupq_n_f32(d::lg4), p, u);
  p = vfmaq_f32(vdupq_n_f32(d::lg3), p, u);
  p = vfmaq_f32(vdupq_n_f32(d::lg2), p, u);
  p = vfmaq_f32(vdupq_n_f32(d::lg1), p, u);
  p = vfmaq_f32(vdupq_n_f32(d::lg0), p, u);
  const float32x4_t s = vfmaq_f32(vcvtq_f32_s32(e), u, p);
  const float32x4_t k = vrndnq_f32(vmulq_f32(norm, s));
  const float32x4_t f = vfmaq_f32(vnegq_f32(k), norm, s);
  float32x4_t q = vfmaq_f32(vdupq_n_f32(d::ex6), vdupq_n_f32(d::ex7), f);
  q = vfmaq_f32(vdupq_n_f32(d::ex5), q, f);
  q = vfmaq_f32(vdupq_n_f32(d::ex4), q, f);
  q = vfmaq_f32(vdupq_n_f32(d::ex3), q, f);
  q = vfmaq_f32(vdupq_n_f32(d::ex2), q, f);
  q = vfmaq_f32(vdupq_n_f32(d::ex1), q, f);
  q = vfmaq_f32(one, q, f);
  const uint32x4_t keep = vandq_u32(vcgeq_f32(v, vdupq_n_f32(std::numeric_limits<float>::min())),
                                    vcgeq_f32(k, vdupq_n_f32(-126.0f)));
  // k is an integer, so the conversion (toward zero) is exact.
  const uint32x4_t pbits = vshlq_n_u32(vreinterpretq_u32_s32(vaddq_s32(vcvtq_s32_f32(k), vdupq_n_s32(127))), 23);
  return vfmaq_f32(acc, q, vreinterpretq_f32_u32(vandq_u32(keep, pbits)));
}

/// The 16 double lanes, two per register (d[j] holds lanes 2j and 2j + 1), summed as sum_lanes does.
inline double sum_lanes(const float64x2_t* d) noexcept {
  const float64x2_t h8_0 = vaddq_f64(d[0], d[4]), h8_1 = vaddq_f64(d[1], d[5]);  // h = 8
  const float64x2_t h8_2 = vaddq_f64(d[2], d[6]), h8_3 = vaddq_f64(d[3], d[7]);
  const float64x2_t h4_0 = vaddq_f64(h8_0, h8_2), h4_1 = vaddq_f64(h8_1, h8_3);  // h = 4
  const float64x2_t h2 = vaddq_f64(h4_0, h4_1);                                   // h = 2
  return vgetq_lane_f64(h2, 0) + vgetq_lane_f64(h2, 1);                           // h = 1
}

/// The double lanes plus the chunk's float lanes (a[j] holds lanes 4j .. 4j + 3), into out.
inline void add_lanes(const float64x2_t* d, const float32x4_t* a, float64x2_t* out) noexcept {
  for (int j = 0; j < 4; ++j) {
    out[2 * j] = vaddq_f64(d[2 * j], vcvt_f64_f32(vget_low_f32(a[j])));
    out[2 * j + 1] = vaddq_f64(d[2 * j + 1], vcvt_high_f64_f32(a[j]));
  }
}

/// scalar::power_error's contract (Bounded: the partial sum is compared as check_mask says).
template <class Rounding, bool Bounded = false>
inline double power_error(const float* x, index_t n, float factor, float scale, float lo, float hi, float ref,
                          float norm, double limit = 0.0) noexcept {
  namespace d = power_error_detail;
  const float32x4_t vf = vdupq_n_f32(factor), vs = vdupq_n_f32(scale), vlo = vdupq_n_f32(lo);
  const float32x4_t vhi = vdupq_n_f32(hi), vref = vdupq_n_f32(ref), vnorm = vdupq_n_f32(norm);
  const index_t every = d::check_mask(n);
  float64x2_t dl[8];
  for (auto& v : dl) v = vdupq_n_f64(0.0);
  for (index_t c = 0; c < n; c += d::chunk) {
    float32x4_t a[4];
    for (auto& v : a) v = vdupq_n_f32(0.0f);
    const index_t end = c + d::chunk < n ? c + d::chunk : n;
    index_t i = c;
    for (; i + d::lanes <= end; i += d::lanes) {
      for (int j = 0; j < 4; ++j) a[j] = power_error4<Rounding>(vld1q_f32(x + i + 4 * j), a[j], vf, vs, vlo, vhi, vref, vnorm);
      if constexpr (Bounded) {
        if (i + d::lanes < n && ((i + d::lanes) & every) == 0) {
          float64x2_t partial[8];
          add_lanes(dl, a, partial);
          const double sum = sum_lanes(partial);
          if (sum >= limit) return sum;
        }
      }
    }
    if (i < end) {  // the last values of the slot, padded with zeros (whose terms are 0)
      float tail[d::lanes] = {};
      for (index_t l = 0; l < end - i; ++l) tail[l] = x[i + l];
      for (int j = 0; j < 4; ++j) a[j] = power_error4<Rounding>(vld1q_f32(tail + 4 * j), a[j], vf, vs, vlo, vhi, vref, vnorm);
    }
    add_lanes(dl, a, dl);
  }
  return sum_lanes(dl);
}

template <class Rounding>
void power_errors(const float* x, index_t n, const power_candidate* c, index_t count, float ref, float norm,
                  double* out) noexcept {
  for (index_t j = 0; j < count; ++j) out[j] = power_error<Rounding>(x, n, c[j].factor, c[j].scale, c[j].lo, c[j].hi, ref, norm);
}

}  // namespace neondot

#endif  // LOWBIT_HAVE_NEONDOT_PATH

template <class Rounding>
void power_errors(paths::scalar, const float* x, index_t n, const power_candidate* c, index_t count, float ref,
                  float norm, double* out) noexcept {
  scalar::power_errors<Rounding>(x, n, c, count, ref, norm, out);
}
#if LOWBIT_HAVE_X86_PATHS
template <class Rounding>
void power_errors(paths::avx2, const float* x, index_t n, const power_candidate* c, index_t count, float ref,
                  float norm, double* out) noexcept {
  avx2::power_errors<Rounding>(x, n, c, count, ref, norm, out);
}
template <class Rounding>
void power_errors(paths::avx512, const float* x, index_t n, const power_candidate* c, index_t count, float ref,
                  float norm, double* out) noexcept {
  avx512::power_errors<Rounding>(x, n, c, count, ref, norm, out);
}
#endif
#if LOWBIT_HAVE_NEONDOT_PATH
template <class Rounding>
void power_errors(paths::neondot, const float* x, index_t n, const power_candidate* c, index_t count, float ref,
                  float norm, double* out) noexcept {
  neondot::power_errors<Rounding>(x, n, c, count, ref, norm, out);
}
#endif

/// out[j] = sum (|fake_quantize_j(x) - x| * ref)^norm for each candidate j, on path p (the file
/// comment states the contract).
template <class Rounding>
void power_errors(kernel_path p, const float* x, index_t n, const power_candidate* c, index_t count, float ref,
                  float norm, double* out) noexcept {
  dispatch(p, [&](auto tag) { power_errors<Rounding>(tag, x, n, c, count, ref, norm, out); });
}

/// Candidate c's sum, or (once a partial sum reaches limit) a partial sum >= limit: see
/// scalar::power_error's Bounded form. Below limit, the result is the whole sum.
template <class Rounding>
double bounded_power_error(paths::scalar, const float* x, index_t n, const power_candidate& c, float ref, float norm,
                           double limit) noexcept {
  return scalar::power_error<Rounding, true>(x, n, c.factor, c.scale, c.lo, c.hi, ref, norm, limit);
}
#if LOWBIT_HAVE_X86_PATHS
template <class Rounding>
LOWBIT_TARGET_AVX2 double bounded_power_error(paths::avx2, const float* x, index_t n, const power_candidate& c, float ref,
                                              float norm, double limit) noexcept {
  return avx2::power_error<Rounding, true>(x, n, c.factor, c.scale, c.lo, c.hi, ref, norm, limit);
}
LOWBIT_AVX512_DIAGNOSTICS_BEGIN
template <class Rounding>
LOWBIT_TARGET_AVX512 double bounded_power_error(paths::avx512, const float* x, index_t n, const power_candidate& c,
                                                float ref, float norm, double limit) noexcept {
  return avx512::power_error<Rounding, true>(x, n, c.factor, c.scale, c.lo, c.hi, ref, norm, limit);
}
LOWBIT_AVX512_DIAGNOSTICS_END
#endif
#if LOWBIT_HAVE_NEONDOT_PATH
template <class Rounding>
double bounded_power_error(paths::neondot, const float* x, index_t n, const power_candidate& c, float ref, float norm,
                           double limit) noexcept {
  return neondot::power_error<Rounding, true>(x, n, c.factor, c.scale, c.lo, c.hi, ref, norm, limit);
}
#endif

/// The index of the candidate with the least sum (the first of equal least sums): the same index
/// as the first minimum of power_errors' out, found with less work. Each candidate's sum stops as
/// soon as a partial sum shows it cannot win: sums only grow as terms are added (every term is
/// >= 0, and float and double rounding are monotonic), so a partial sum above the best so far (or
/// equal to it, for a candidate after the best one) settles it. The candidates are visited every
/// 8th first, then by distance from the best of those, so a good bound is known early; the order
/// changes the work, not the result. count >= 1.
template <class Rounding>
index_t least_power_error(kernel_path p, const float* x, index_t n, const power_candidate* c, index_t count, float ref,
                          float norm) {
  assert(count >= 1 && "least_power_error needs a candidate");
  return dispatch(p, [&](auto tag) {
    constexpr double inf = std::numeric_limits<double>::infinity();
    index_t best = -1;
    double least = inf;
    std::vector<char> seen(static_cast<std::size_t>(count), 0);
    auto visit = [&](index_t j) {
      if (j < 0 || j >= count || seen[static_cast<std::size_t>(j)]) return;
      seen[static_cast<std::size_t>(j)] = 1;
      // A later candidate must be below the least sum; an earlier one wins a tie.
      const double limit = best < 0 ? inf : (j > best ? least : std::nextafter(least, inf));
      const double sum = bounded_power_error<Rounding>(tag, x, n, c[j], ref, norm, limit);
      if (sum < limit) {
        best = j;
        least = sum;
      }
    };
    constexpr index_t stride = 8;
    for (index_t j = 0; j < count; j += stride) visit(j);
    const index_t centre = best;
    for (index_t dist = 1; dist < count; ++dist) {
      visit(centre - dist);
      visit(centre + dist);
    }
    return best;
  });
}

}  // namespace kernels
LOWBIT_NAMESPACE_END
