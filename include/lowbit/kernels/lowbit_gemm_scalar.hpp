// lowbit/kernels/lowbit_gemm_scalar.hpp: the sub-byte weight GEMM's arithmetic as plain C++: the specification every path matches bit for bit.
//
// tile() reads the packed layout of kernels/lowbit_gemm_contract.hpp and forms each group's exact
// integer sum directly as sum (u - o) * a; finish() applies the output stage to the float sums.
// It is the kernel of the scalar and simd paths.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "lowbit/config.hpp"
#include "lowbit/core/half.hpp"
#include "lowbit/core/output_stages.hpp"
#include "lowbit/kernels/lowbit_gemm_contract.hpp"
#include "lowbit/runtime/path.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace scalar {

inline half_bits load_half(const std::uint8_t* p) noexcept {
  half_bits h;
  std::memcpy(&h, p, sizeof h);
  return h;
}

/// y = bias ? fma(facc, sa, bias) : facc * sa, clamped: std::min(std::max(y, lo), hi).
inline float lowbit_float_result(const output_float& o, float facc, float a_scale, const float* bias) noexcept {
  const float y = bias != nullptr && o.use_bias ? std::fma(facc, a_scale, *bias) : facc * a_scale;
  return std::min(std::max(y, o.lo), o.hi);
}

inline void lowbit_store(const output_float& o, const float* facc, index_t count, float a_scale, const float* bias,
                         float* out) noexcept {
  for (index_t j = 0; j < count; ++j) out[j] = lowbit_float_result(o, facc[j], a_scale, bias ? bias + j : nullptr);
}

/// q = nearbyint(std::min(std::max(y * (1 / scale), qmin - zp), qmax - zp)) + zp, as the int8 GEMM.
template <class F>
void lowbit_store(const output_requantized<F>& o, const float* facc, index_t count, float a_scale, const float* bias,
                  typename F::code_type* out) noexcept {
  const float inv = 1.0f / o.scale;
  const float lo = static_cast<float>(F::qmin - o.zero_point);
  const float hi = static_cast<float>(F::qmax - o.zero_point);
  for (index_t j = 0; j < count; ++j) {
    float v = lowbit_float_result(o.pre, facc[j], a_scale, bias ? bias + j : nullptr) * inv;
    v = std::min(std::max(v, lo), hi);
    out[j] = static_cast<typename F::code_type>(static_cast<std::int32_t>(std::nearbyint(v)) + o.zero_point);
  }
}

struct lowbit_micro_kernel {
  static constexpr kernel_path path = kernel_path::scalar;
  static constexpr int mr = 4;

  template <int Bits, int R>
  static void tile(const lowbit_tile_args& t) noexcept {
    static_assert(R >= 1 && R <= mr, "the scalar sub-byte tile has 1 to 4 rows");
    constexpr unsigned mask = (1u << Bits) - 1u;
    const index_t group = t.group_quads * 4;
    for (index_t g = 0; g < t.groups; ++g) {
      const std::uint8_t* block = t.blocks + g * t.block_bytes;
      const std::uint8_t* scales = block + group * 8 * Bits;
      const std::uint8_t* offsets = scales + 2 * lowbit_nr;
      for (index_t j = 0; j < lowbit_nr; ++j) {
        const std::int32_t o = t.kind == offset_kind::symmetric    ? t.z
                               : t.kind == offset_kind::zero_point ? static_cast<std::int32_t>(offsets[j])
                                                                   : 0;
        const float d = half_to_float(load_half(scales + 2 * j));
        const float mn = t.kind == offset_kind::min ? half_to_float(load_half(offsets + 2 * j)) : 0.0f;
        for (int r = 0; r < R; ++r) {
          const std::int8_t* a = t.a + r * t.lda + g * group;
          std::int32_t isum = 0;
          for (index_t kk = 0; kk < group; ++kk) {
            int shift = 0;
            const index_t byte = lowbit_code_byte(Bits, j, kk, shift);
            const auto u = static_cast<std::int32_t>((block[byte] >> shift) & mask);
            isum += (u - o) * a[kk];
          }
          float& f = t.facc[r * lowbit_nr + j];
          f = std::fma(static_cast<float>(isum), d, f);
          if (t.kind == offset_kind::min) f = std::fma(static_cast<float>(t.asum[r * t.ldsum + g]), mn, f);
        }
      }
    }
  }

  template <class Stage>
  static void finish(const float* facc, int rows, const lowbit_tile_output<Stage>& o) noexcept {
    for (int r = 0; r < rows; ++r)
      lowbit_store(*o.stage, facc + r * lowbit_nr, o.cols, o.a_scale[r], o.bias, o.out + r * o.ldo);
  }
};

}  // namespace scalar

scalar::lowbit_micro_kernel lowbit_kernel(paths::scalar);
}  // namespace kernels
LOWBIT_NAMESPACE_END
