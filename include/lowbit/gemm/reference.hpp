// lowbit/gemm/reference.hpp: the specification of the quantized GEMM, as plain loops.
//
// Reads the weights as the caller's unpacked int8 matrix [N, K] (not the packed layout), so the
// tests compare every kernel path, packing included, against an independent computation. Sums are
// formed in int64 and must fit in int32 (guaranteed for K <= gemm_max_k).
#pragma once

#include <cstdint>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/gemm/activations.hpp"
#include "lowbit/gemm/output.hpp"

LOWBIT_NAMESPACE_BEGIN

/// c[m][n] = stage(sum_k (a[m][k] - za[m]) * w[n][k]) for an int8 weight matrix w [N, K] with
/// leading dimension ldw, per-channel weight scales and an optional bias (N values each).
template <class F, class Stage>
void reference_gemm(const activations<F>& a, const std::int8_t* w, index_t n, index_t ldw, const float* w_scales,
                    const float* bias, const Stage& stage, typename Stage::value_type* c, index_t ldc) {
  std::vector<std::int32_t> acc(static_cast<std::size_t>(n));
  for (index_t m = 0; m < a.rows(); ++m) {
    const std::int64_t za = a.zero_point(m);
    for (index_t j = 0; j < n; ++j) {
      std::int64_t sum = 0;
      for (index_t k = 0; k < a.cols(); ++k) sum += (a.code(m, k) - za) * static_cast<std::int64_t>(w[j * ldw + k]);
      acc[static_cast<std::size_t>(j)] = static_cast<std::int32_t>(sum);
    }
    detail::store_output(stage, acc.data(), n, a.scale(m), w_scales, bias, c + m * ldc);
  }
}

LOWBIT_NAMESPACE_END
