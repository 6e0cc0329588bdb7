// lowbit/kernels/gemm_neondot.hpp: the int8 GEMM micro-kernel for AArch64 NEON with the dot-product extension.
//
// sdot (vdotq_laneq_s32) multiplies the 4 signed bytes of each 32-bit lane of one register by the
// 4 bytes of a chosen lane of another and adds them to int32. Packed A interleaves 4 rows per
// quad (16 bytes: row 0's 4 bytes, row 1's, ...) as signed bytes a' (int8 codes as they are,
// uint8 codes shifted by -128); each 16-byte quarter of a weight quad holds 4 columns, so one
// (row, quarter) pair is one sdot: 16 per quad for a 4 x 16 tile in 16 accumulators. The driver
// adds back the shift with the column sums.
#pragma once

#include <cstdint>

#include "lowbit/config.hpp"
#include "lowbit/kernels/gemm_contract.hpp"
#include "lowbit/kernels/gemm_scalar.hpp"
#include "lowbit/runtime/path.hpp"

#if LOWBIT_HAVE_NEONDOT_PATH
#include <arm_neon.h>

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace neondot {

/// Raw sums of a 4 x 16 tile; `a` is one interleaved block of 4 rows (kq quads of 16 bytes).
LOWBIT_TARGET_NEONDOT inline void tile4(const std::int8_t* a, const std::int8_t* panel, index_t kq,
                                        std::int32_t* out) noexcept {
  int32x4_t acc[4][4];
  for (int r = 0; r < 4; ++r)
    for (int g = 0; g < 4; ++g) acc[r][g] = vdupq_n_s32(0);
  for (index_t q = 0; q < kq; ++q) {
    const int8x16_t av = vld1q_s8(a + 16 * q);
    const std::int8_t* b = panel + 64 * q;
    for (int g = 0; g < 4; ++g) {
      const int8x16_t bv = vld1q_s8(b + 16 * g);
      acc[0][g] = vdotq_laneq_s32(acc[0][g], bv, av, 0);
      acc[1][g] = vdotq_laneq_s32(acc[1][g], bv, av, 1);
      acc[2][g] = vdotq_laneq_s32(acc[2][g], bv, av, 2);
      acc[3][g] = vdotq_laneq_s32(acc[3][g], bv, av, 3);
    }
  }
  for (int r = 0; r < 4; ++r)
    for (int g = 0; g < 4; ++g) vst1q_s32(out + r * 16 + 4 * g, acc[r][g]);
}

struct gemm_micro_kernel {
  static constexpr kernel_path path = kernel_path::neondot;
  static constexpr index_t nr = 16, kr = 4;
  static constexpr a_layout packed_a = a_layout::s8x4;
  static constexpr int whole_mr = 4, parts = 1, split_mr = 0;
  static constexpr bool large_split = false;

  /// `a` is the interleaved block of 4 rows the tile starts at (blocks are padded with zero rows,
  /// so the kernel always computes 4 and finishes R of them).
  template <int R, int Parts, class Stage>
  static void tile(const std::int8_t* a, index_t, const std::int8_t* b, index_t kq, const tile_output<Stage>& o) noexcept {
    static_assert(Parts == 1 && R >= 1 && R <= 4, "NEON tiles are whole, 1 to 4 rows");
    std::int32_t raw[4 * 16];
    tile4(a, b, kq, raw);
    scalar::finish_tile<R>(raw, 16, o);
  }
};

}  // namespace neondot

neondot::gemm_micro_kernel gemm_kernel(paths::neondot);
}  // namespace kernels
LOWBIT_NAMESPACE_END

#endif  // LOWBIT_HAVE_NEONDOT_PATH
