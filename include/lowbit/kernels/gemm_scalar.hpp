// lowbit/kernels/gemm_scalar.hpp: the GEMM micro-kernel in portable C++ (the scalar and simd paths).
//
// The reference micro-kernel: packed A is int16 a - za, so the driver has nothing to compensate.
// Also the kernel of the simd path (the GEMM has no xsimd version).
#pragma once

#include <cstdint>

#include "lowbit/config.hpp"
#include "lowbit/kernels/gemm_contract.hpp"
#include "lowbit/runtime/path.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace scalar {

struct gemm_micro_kernel {
  static constexpr kernel_path path = kernel_path::scalar;
  static constexpr int mr = 4;
  static constexpr index_t nr = 16, kr = 4;
  static constexpr a_layout packed_a = a_layout::s16;

  /// out[r * 16 + j] = sum over quads q, t < 4 of a[r * lda + 4q + t] * panel[64q + 4j + t].
  template <int MR>
  static void tile(const std::int16_t* a, index_t lda, const std::int8_t* panel, index_t kq,
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
};

}  // namespace scalar

scalar::gemm_micro_kernel gemm_kernel(paths::scalar);
}  // namespace kernels
LOWBIT_NAMESPACE_END
