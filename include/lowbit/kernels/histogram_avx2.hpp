// lowbit/kernels/histogram_avx2.hpp: histogram binning with AVX2 bin arithmetic.
//
// Bins of 8 values are computed at once with the reference's float32 operations (sub, mul, div,
// truncation), values outside [lo, hi] go to a spare bin that is dropped. Exactly the reference's
// counts.
#pragma once

#include <cstdint>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/kernels/x86.hpp"
#include "lowbit/kernels/histogram_scalar.hpp"

#if LOWBIT_HAVE_X86_PATHS

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace avx2 {

/// Bins of 8 values at once; `out(j, index)` receives lane j's bin (bins = outside the range).
template <class Count>
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE void histc_blocks(const float* x, index_t n, float lo, float hi,
                                                          index_t bins, Count&& out) {
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  const __m256 vnb = _mm256_set1_ps(static_cast<float>(bins)), vwidth = _mm256_set1_ps(hi - lo);
  const __m256i last = _mm256_set1_epi32(static_cast<int>(bins - 1)), spare = _mm256_set1_epi32(static_cast<int>(bins));
  alignas(32) std::int32_t idx[8];
  for (index_t i = 0; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 inside = _mm256_and_ps(_mm256_cmp_ps(v, vlo, _CMP_GE_OQ), _mm256_cmp_ps(v, vhi, _CMP_LE_OQ));
    const __m256 scaled = _mm256_div_ps(_mm256_mul_ps(_mm256_sub_ps(v, vlo), vnb), vwidth);
    // scaled is in [0, bins (1 + eps)] for values inside (the caller checked histc_float_safe); the
    // clamps keep every index in [0, bins - 1] even so.
    const __m256i pos = _mm256_max_epi32(_mm256_min_epi32(_mm256_cvttps_epi32(scaled), last), _mm256_setzero_si256());
    _mm256_store_si256(reinterpret_cast<__m256i*>(idx), _mm256_blendv_epi8(spare, pos, _mm256_castps_si256(inside)));
    for (int j = 0; j < 8; ++j) out(j, idx[j]);
  }
}

/// Adds the counts of x[0, n) to counts[0, bins). Long runs count into four interleaved arrays
/// (lane j into array j % 4) so that repeated hits on one bin do not wait on each other.
LOWBIT_TARGET_AVX2 inline void histc(const float* x, index_t n, float lo, float hi, index_t bins,
                                     std::uint32_t* counts) {
  if (!scalar::histc_float_safe(lo, hi, bins)) return scalar::histc(x, n, lo, hi, bins, counts);
  const index_t body = n / 8 * 8;
  if (n >= 16 * bins) {
    const index_t stride = bins + 1;
    std::vector<std::uint32_t> lanes(static_cast<std::size_t>(4 * stride), 0u);
    std::uint32_t* l = lanes.data();
    histc_blocks(x, body, lo, hi, bins, [&](int j, std::int32_t b) { ++l[(j & 3) * stride + b]; });
    for (index_t b = 0; b < bins; ++b) counts[b] += l[b] + l[stride + b] + l[2 * stride + b] + l[3 * stride + b];
  } else {
    std::uint32_t spare = 0;
    histc_blocks(x, body, lo, hi, bins, [&](int, std::int32_t b) { ++(b == bins ? spare : counts[b]); });
  }
  scalar::histc(x + body, n - body, lo, hi, bins, counts);
}

}  // namespace avx2
}  // namespace kernels
LOWBIT_NAMESPACE_END

#endif  // LOWBIT_HAVE_X86_PATHS
