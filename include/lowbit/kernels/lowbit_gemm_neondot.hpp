// lowbit/kernels/lowbit_gemm_neondot.hpp: the sub-byte weight micro-kernel for AArch64 NEON with the dot-product extension.
//
// sdot (vdotq_s32) multiplies signed bytes four at a time into int32. 2- and 4-bit codes u are
// below 128 and go in as they are; 8-bit codes go in as u - 128 (u xor 0x80), and the group's
// starting value adds back 128 * asum, so the integer sums are the contract's. The panel is read
// in 16-byte slices, four vectors of 4 columns per part (lowbit_vector_slot), R <= 4 rows. The
// output stage is the scalar one (kernels/lowbit_gemm_scalar.hpp).
#pragma once

#include <cstdint>
#include <cstring>

#include "lowbit/config.hpp"
#include "lowbit/kernels/lowbit_gemm_contract.hpp"
#include "lowbit/kernels/lowbit_gemm_scalar.hpp"
#include "lowbit/runtime/path.hpp"

#if LOWBIT_HAVE_NEONDOT_PATH
#include <arm_neon.h>

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace neondot {

template <int Bits>
LOWBIT_TARGET_NEONDOT inline int8x16_t lowbit_codes(const std::uint8_t* quad, const lowbit_slot& slot) noexcept {
  const uint8x16_t raw = vld1q_u8(quad + slot.offset);
  if constexpr (Bits == 8) {
    return vreinterpretq_s8_u8(veorq_u8(raw, vdupq_n_u8(0x80)));
  } else {
    const uint8x16_t shifted = vshlq_u8(raw, vdupq_n_s8(static_cast<std::int8_t>(-slot.shift)));
    return vreinterpretq_s8_u8(vandq_u8(shifted, vdupq_n_u8(static_cast<std::uint8_t>((1 << Bits) - 1))));
  }
}

template <int Bits, int R>
LOWBIT_TARGET_NEONDOT void lowbit_tile(const lowbit_tile_args& t) noexcept {
  constexpr std::int32_t code_shift = Bits == 8 ? 128 : 0;
  constexpr index_t quad_bytes = 32 * Bits;
  const index_t group = t.group_quads * 4;
  for (index_t g = 0; g < t.groups; ++g) {
    const std::uint8_t* block = t.blocks + g * t.block_bytes;
    const std::uint8_t* scales = block + group * 8 * Bits;
    const std::uint8_t* offsets = scales + 2 * lowbit_nr;
    for (int part = 0; part < 4; ++part) {
      lowbit_slot slots[4];
      for (int i = 0; i < 4; ++i) slots[i] = lowbit_vector_slot(Bits, 4, 4 * part + i);
      int32x4_t acc[R][4];
      for (int r = 0; r < R; ++r) {
        const std::int32_t s = t.asum[r * t.ldsum + g];
        for (int i = 0; i < 4; ++i) {
          if (t.kind == offset_kind::symmetric) {
            acc[r][i] = vdupq_n_s32(-(t.z - code_shift) * s);
          } else if (t.kind == offset_kind::zero_point) {
            std::int32_t init[4];
            for (int l = 0; l < 4; ++l) init[l] = (code_shift - static_cast<std::int32_t>(offsets[slots[i].col + l])) * s;
            acc[r][i] = vld1q_s32(init);
          } else {
            acc[r][i] = vdupq_n_s32(code_shift * s);
          }
        }
      }
      for (index_t q = 0; q < t.group_quads; ++q) {
        const std::uint8_t* quad = block + q * quad_bytes;
        for (int i = 0; i < 4; ++i) {
          const int8x16_t w = lowbit_codes<Bits>(quad, slots[i]);
          for (int r = 0; r < R; ++r) {
            std::int32_t four;
            std::memcpy(&four, t.a + r * t.lda + g * group + 4 * q, 4);
            acc[r][i] = vdotq_s32(acc[r][i], w, vreinterpretq_s8_s32(vdupq_n_s32(four)));
          }
        }
      }
      for (int i = 0; i < 4; ++i) {
        const index_t col = slots[i].col;
        std::uint16_t bits[4];
        std::memcpy(bits, scales + 2 * col, sizeof bits);
        const float32x4_t d = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(bits)));
        float32x4_t mn = vdupq_n_f32(0.0f);
        if (t.kind == offset_kind::min) {
          std::memcpy(bits, offsets + 2 * col, sizeof bits);
          mn = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(bits)));
        }
        for (int r = 0; r < R; ++r) {
          float* f = t.facc + r * lowbit_nr + col;
          float32x4_t y = vfmaq_f32(vld1q_f32(f), vcvtq_f32_s32(acc[r][i]), d);
          if (t.kind == offset_kind::min)
            y = vfmaq_f32(y, vdupq_n_f32(static_cast<float>(t.asum[r * t.ldsum + g])), mn);
          vst1q_f32(f, y);
        }
      }
    }
  }
}

struct lowbit_micro_kernel {
  static constexpr kernel_path path = kernel_path::neondot;
  static constexpr int mr = 4;
  template <int Bits, int R>
  static void tile(const lowbit_tile_args& t) noexcept {
    lowbit_tile<Bits, R>(t);
  }
  template <class Stage>
  static void finish(const float* facc, int rows, const lowbit_tile_output<Stage>& o) noexcept {
    scalar::lowbit_micro_kernel::finish(facc, rows, o);
  }
};

}  // namespace neondot

neondot::lowbit_micro_kernel lowbit_kernel(paths::neondot);
}  // namespace kernels
LOWBIT_NAMESPACE_END

#endif  // LOWBIT_HAVE_NEONDOT_PATH
