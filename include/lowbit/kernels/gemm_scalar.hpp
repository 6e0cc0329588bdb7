// lowbit/kernels/gemm_scalar.hpp: the GEMM's output-stage arithmetic (the specification) and the portable micro-kernel.
//
// store_output below is what every path's output stage computes, bit for bit (the vectorized
// epilogues of the other kernels follow it operation by operation). finish_tile is how a kernel
// without a vectorized epilogue (this one, NEON's) carries or finishes a tile from its raw sums.
//
// The scalar micro-kernel reads packed A as int16 a - za, so it has nothing to compensate; it is
// also the kernel of the simd path (the GEMM has no xsimd version).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "lowbit/config.hpp"
#include "lowbit/core/output_stages.hpp"
#include "lowbit/kernels/gemm_contract.hpp"
#include "lowbit/runtime/path.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace scalar {

/// Writes one row segment of results: acc[j] for `count` columns. `w_scales` and `bias` point at
/// the segment's first column; bias is nullptr for none.
inline void store_output(const output_int32&, const std::int32_t* acc, index_t count, float, const float*,
                         const float*, std::int32_t* out) noexcept {
  for (index_t j = 0; j < count; ++j) out[j] = acc[j];
}

/// y = fma(float(acc), sa * sw, bias) (or float(acc) * (sa * sw) without bias), clamped:
/// std::min(std::max(y, lo), hi).
inline float float_result(const output_float& o, std::int32_t acc, float a_scale, float w_scale,
                          const float* bias) noexcept {
  const float s = a_scale * w_scale;
  const float y = bias != nullptr && o.use_bias ? std::fma(static_cast<float>(acc), s, *bias) : static_cast<float>(acc) * s;
  return std::min(std::max(y, o.lo), o.hi);
}

inline void store_output(const output_float& o, const std::int32_t* acc, index_t count, float a_scale,
                         const float* w_scales, const float* bias, float* out) noexcept {
  for (index_t j = 0; j < count; ++j) out[j] = float_result(o, acc[j], a_scale, w_scales[j], bias ? bias + j : nullptr);
}

/// q = nearbyint(std::min(std::max(y * (1 / scale), qmin - zp), qmax - zp)) + zp.
template <class F>
void store_output(const output_requantized<F>& o, const std::int32_t* acc, index_t count, float a_scale,
                  const float* w_scales, const float* bias, typename F::code_type* out) noexcept {
  const float inv = 1.0f / o.scale;
  const float lo = static_cast<float>(F::qmin - o.zero_point);
  const float hi = static_cast<float>(F::qmax - o.zero_point);
  for (index_t j = 0; j < count; ++j) {
    float v = float_result(o.pre, acc[j], a_scale, w_scales[j], bias ? bias + j : nullptr) * inv;
    v = std::min(std::max(v, lo), hi);
    out[j] = static_cast<typename F::code_type>(static_cast<std::int32_t>(std::nearbyint(v)) + o.zero_point);
  }
}

/// Carries or finishes a tile of R rows x `width` columns from its raw sums raw[r * width + j]:
/// adds the sums of earlier depth blocks, then either stores them for the next block or
/// subtracts offset[r] * colsum[j] (modulo 2^32, which gives the exact sum) and applies the stage.
template <int R, class Stage>
void finish_tile(std::int32_t* raw, index_t width, const tile_output<Stage>& o) noexcept {
  for (int r = 0; r < R; ++r) {
    std::int32_t* acc = raw + r * width;
    if (!o.first) {
      const std::int32_t* carried = o.partial + r * o.ldp;
      for (index_t j = 0; j < o.cols; ++j)
        acc[j] = static_cast<std::int32_t>(static_cast<std::uint32_t>(acc[j]) + static_cast<std::uint32_t>(carried[j]));
    }
    if (!o.last) {
      std::copy(acc, acc + o.cols, o.partial + r * o.ldp);
      continue;
    }
    const auto off = static_cast<std::uint32_t>(o.offset[r]);
    if (off != 0)
      for (index_t j = 0; j < o.cols; ++j)
        acc[j] = static_cast<std::int32_t>(static_cast<std::uint32_t>(acc[j]) - off * static_cast<std::uint32_t>(o.colsum[j]));
    store_output(*o.stage, acc, o.cols, o.a_scale[r], o.w_scale, o.bias, o.out + r * o.ldo);
  }
}

struct gemm_micro_kernel {
  static constexpr kernel_path path = kernel_path::scalar;
  static constexpr index_t nr = 16, kr = 4;
  static constexpr a_layout packed_a = a_layout::s16;
  static constexpr int whole_mr = 4, parts = 1, split_mr = 0;
  static constexpr bool large_split = false;

  /// raw[r * 16 + j] = sum over quads q, t < 4 of a[r * lda + 4q + t] * b[64q + 4j + t].
  template <int R, int Parts, class Stage>
  static void tile(const std::int16_t* a, index_t lda, const std::int8_t* b, index_t kq,
                   const tile_output<Stage>& o) noexcept {
    static_assert(Parts == 1 && R >= 1 && R <= whole_mr, "the scalar kernel's tiles are whole, 1 to 4 rows");
    std::int32_t acc[R][16] = {};
    for (index_t q = 0; q < kq; ++q) {
      const std::int8_t* bq = b + q * 64;
      for (int r = 0; r < R; ++r) {
        const std::int16_t* ar = a + r * lda + q * 4;
        for (int j = 0; j < 16; ++j)
          acc[r][j] += ar[0] * bq[4 * j] + ar[1] * bq[4 * j + 1] + ar[2] * bq[4 * j + 2] + ar[3] * bq[4 * j + 3];
      }
    }
    finish_tile<R>(&acc[0][0], 16, o);
  }
};

}  // namespace scalar

scalar::gemm_micro_kernel gemm_kernel(paths::scalar);
}  // namespace kernels
LOWBIT_NAMESPACE_END
