// lowbit/kernels/gemm_scalar.hpp: the GEMM micro-kernel in portable C++ (the scalar and simd paths).
//
// Vocabulary used by all GEMM micro-kernels (kernels/gemm_*.hpp):
//   MR      rows of activations one kernel call handles (a tile is MR x NR outputs)
//   NR      output columns of a weight panel (16, see gemm/packed_weights.hpp)
//   KR      depth of a quad: 4 consecutive k of one column, stored together
//   panel   NR columns of packed weights over the whole (padded) depth
//   depth   K; kq = K_padded / KR quads
//   packed A  activations rearranged for one kernel family (int16 minus zero point here; see
//           gemm/gemm.hpp for the others)
// A micro-kernel writes the raw sums of its tile; the driver compensates zero points and applies
// the output stage.
#pragma once

#include <cstdint>

#include "lowbit/config.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace gemm_scalar {

inline constexpr int mr = 4;

/// out[r * 16 + j] = sum over quads q, t < 4 of a[r * lda + 4q + t] * panel[64q + 4j + t].
template <int MR>
void tile(const std::int16_t* a, index_t lda, const std::int8_t* panel, index_t kq,
          std::int32_t* out) noexcept {
  std::int32_t acc[MR][16] = {};
  for (index_t q = 0; q < kq; ++q) {
    const std::int8_t* b = panel + q * 64;
    for (int r = 0; r < MR; ++r) {
      const std::int16_t* ar = a + r * lda + q * 4;
      for (int j = 0; j < 16; ++j) {
        acc[r][j] += ar[0] * b[4 * j] + ar[1] * b[4 * j + 1] + ar[2] * b[4 * j + 2] + ar[3] * b[4 * j + 3];
      }
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < 16; ++j) out[r * 16 + j] = acc[r][j];
}

}  // namespace gemm_scalar
}  // namespace kernels
LOWBIT_NAMESPACE_END
