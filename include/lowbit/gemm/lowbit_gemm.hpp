// lowbit/gemm/lowbit_gemm.hpp: int8 activations x packed 2/4/8-bit weights^T with per-group scales, on the context's kernel path.
//
//   y[m][n] = stage( sa[m] * sum_g d[n][g] * sum_{k in g} (w[n][k] - offset[n][g]) * a[m][k] )
//
// A: M x K int8 codes (int8 or int8_narrow), symmetric (zero point 0), one scale per row or per
// tensor. W: packed_lowbit_weights. Stages: output_float (bias, clamp / relu) and
// output_requantized, with the arithmetic of kernels/lowbit_gemm_contract.hpp on every path.
//
// The driver copies A into rows padded to the weights' padded depth with per-(row, group) sums,
// splits the work into tasks of rows x panels (panels first, so that every weight byte is read
// once when M is small), and runs each task panel by panel: strips of up to MR rows against depth
// blocks of groups (a strip's A within 32 KiB), carrying float sums in a buffer of 64 per row, then
// the output stage. Where the path's kernel can, and a task has at least two strips of its wide
// tile, each depth block of the panel is first expanded to bytes (24 KiB at most) and the strips
// run taller tiles on it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/detail/aligned.hpp"
#include "lowbit/gemm/activations.hpp"
#include "lowbit/gemm/output.hpp"
#include "lowbit/gemm/packed_lowbit_weights.hpp"
#include "lowbit/kernels/lowbit_gemm.hpp"
#include "lowbit/runtime/context.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace detail {

/// Activations as the sub-byte kernels read them.
struct lowbit_rows {
  aligned_vector<std::int8_t> codes;  // rows of kp codes, zero beyond K
  index_t ld = 0;
  std::vector<std::int32_t> asum;     // [rows][groups]
  index_t groups = 0;
  std::vector<float> scale;           // per row
};

template <class F>
void prepare_lowbit_rows(const activations<F>& a, index_t group, index_t groups, lowbit_rows& p, const context& ctx) {
  const index_t rows = a.rows(), k = a.cols(), kp = group * groups;
  p.ld = std::max<index_t>(kp, 4);
  p.groups = groups;
  p.codes.assign(static_cast<std::size_t>(rows * p.ld), 0);
  p.asum.assign(static_cast<std::size_t>(rows * groups), 0);
  p.scale.resize(static_cast<std::size_t>(rows));
  for (index_t m = 0; m < rows; ++m) p.scale[static_cast<std::size_t>(m)] = a.scale(m);
  const index_t chunk = std::max<index_t>(1, 65536 / std::max<index_t>(kp, 1));
  ctx.run(ceil_div(rows, chunk), [&](index_t t) {
    for (index_t m = t * chunk; m < std::min(rows, (t + 1) * chunk); ++m) {
      std::int8_t* dst = p.codes.data() + m * p.ld;
      if (k > 0) std::memcpy(dst, a.row(m), static_cast<std::size_t>(k));
      for (index_t g = 0; g < groups; ++g) {
        std::int32_t s = 0;
        for (index_t i = g * group; i < (g + 1) * group; ++i) s += dst[i];
        p.asum[static_cast<std::size_t>(m * groups + g)] = s;
      }
    }
  });
}

template <class K, int Bits>
void run_lowbit_tile(int rows, const kernels::lowbit_tile_args& t) noexcept {
  switch (rows) {
#define LOWBIT_LB_ROWS(r) \
  case r:                 \
    if constexpr (r <= K::mr) K::template tile<Bits, r>(t); \
    return;
    LOWBIT_LB_ROWS(1) LOWBIT_LB_ROWS(2) LOWBIT_LB_ROWS(3) LOWBIT_LB_ROWS(4) LOWBIT_LB_ROWS(5) LOWBIT_LB_ROWS(6)
#undef LOWBIT_LB_ROWS
    default: return;
  }
}

/// Rows of K's tile on expanded codes (kernels/lowbit_gemm_contract.hpp); 0 if K does not expand.
template <class K, class = void>
struct lowbit_wide_rows : std::integral_constant<int, 0> {};
template <class K>
struct lowbit_wide_rows<K, std::void_t<decltype(K::wide_mr)>> : std::integral_constant<int, K::wide_mr> {};

template <class K, int Bits>
void run_lowbit_wide_tile(int rows, const kernels::lowbit_tile_args& t, const std::uint8_t* codes) noexcept {
  if constexpr (lowbit_wide_rows<K>::value > 0) {
    switch (rows) {
#define LOWBIT_LB_ROWS(r) \
  case r:                 \
    K::template wide_tile<Bits, r>(t, codes); \
    return;
      LOWBIT_LB_ROWS(1) LOWBIT_LB_ROWS(2) LOWBIT_LB_ROWS(3) LOWBIT_LB_ROWS(4) LOWBIT_LB_ROWS(5) LOWBIT_LB_ROWS(6)
#undef LOWBIT_LB_ROWS
      default: return;
    }
  }
}

template <class Stage>
const output_float& float_stage(const Stage& s) noexcept {
  if constexpr (std::is_same_v<Stage, output_float>) {
    return s;
  } else {
    return s.pre;
  }
}

template <class K, class AF, class WF, class Stage>
void lowbit_gemm_with(const activations<AF>& a, const packed_lowbit_weights<WF>& w, const Stage& stage,
                      typename Stage::value_type* c, index_t ldc, const context& ctx) {
  constexpr index_t nr = kernels::lowbit_nr;
  const index_t m_total = a.rows(), n_total = w.n();
  if (m_total == 0 || n_total == 0) return;
  const index_t group = w.group_size(), groups = w.groups();
  lowbit_rows pa;
  prepare_lowbit_rows(a, group, groups, pa, ctx);

  const index_t panels = w.panels();
  const index_t threads = std::max(1, ctx.threads);
  index_t row_blocks = 1;
  if (threads > 1 && panels < 2 * threads && m_total > 2 * K::mr)
    row_blocks = std::min<index_t>(2 * threads, ceil_div(m_total, 2 * K::mr));
  const index_t panel_blocks = std::max<index_t>(1, std::min<index_t>(panels, threads > 1 ? 4 * threads : 1));
  const index_t rows_per_block = ceil_div(m_total, row_blocks);
  row_blocks = ceil_div(m_total, rows_per_block);
  // Kernels that can expand the codes to bytes do so once per panel and depth block when at least
  // two strips of their wide tile share it; the expanded depth block (64 bytes per depth) is kept
  // within 24 KiB so that it stays in L1 while the strips read it.
  constexpr int wide = lowbit_wide_rows<K>::value;
  const bool expand = wide > 0 && rows_per_block >= 2 * wide;
  const index_t mr = expand ? wide : K::mr;
  // Depth blocks: a strip's A within 32 KiB, so that it stays in L1 while the panel streams
  // (only when several strips share the panel's slice; one strip reads all groups at once).
  const index_t depth_block =
      expand ? std::max<index_t>(1, (24 << 10) / (nr * std::max<index_t>(group, 1)))
      : rows_per_block > K::mr ? std::max<index_t>(1, (32 << 10) / (K::mr * std::max<index_t>(group, 1)))
                               : groups;

  const output_float& fs = float_stage(stage);
  const float* bias = fs.use_bias ? w.bias() : nullptr;
  kernels::lowbit_tile_args base;
  base.lda = pa.ld;
  base.ldsum = groups;
  base.block_bytes = w.block_bytes();
  base.group_quads = group / 4;
  base.kind = w.offsets();
  base.z = w.symmetric_offset();
  ctx.run(row_blocks * panel_blocks, [&](index_t task) {
    const index_t rb = task % row_blocks, pb = task / row_blocks;
    const index_t m_begin = rb * rows_per_block, m_end = std::min(m_total, m_begin + rows_per_block);
    const index_t p_begin = panels * pb / panel_blocks, p_end = panels * (pb + 1) / panel_blocks;
    aligned_vector<float> facc(static_cast<std::size_t>((m_end - m_begin) * nr));
    aligned_vector<std::uint8_t> codes(expand ? static_cast<std::size_t>(depth_block * group * nr) : 0);
    for (index_t p = p_begin; p < p_end; ++p) {
      std::fill(facc.begin(), facc.end(), 0.0f);
      for (index_t g0 = 0; g0 < groups; g0 += depth_block) {
        kernels::lowbit_tile_args t = base;
        t.groups = std::min(depth_block, groups - g0);
        t.blocks = w.block(p, g0);
        if constexpr (wide > 0) {
          if (expand) K::template expand<WF::bits>(t, codes.data());
        }
        for (index_t m = m_begin; m < m_end; m += mr) {
          const int rows = static_cast<int>(std::min<index_t>(mr, m_end - m));
          t.a = pa.codes.data() + m * pa.ld + g0 * group;
          t.asum = pa.asum.data() + m * groups + g0;
          t.facc = facc.data() + (m - m_begin) * nr;
          if (expand) run_lowbit_wide_tile<K, WF::bits>(rows, t, codes.data());
          else run_lowbit_tile<K, WF::bits>(rows, t);
        }
      }
      kernels::lowbit_tile_output<Stage> o;
      o.stage = &stage;
      o.bias = bias != nullptr ? bias + p * nr : nullptr;
      o.cols = std::min(nr, n_total - p * nr);
      o.ldo = ldc;
      for (index_t m = m_begin; m < m_end; m += K::mr) {
        o.a_scale = pa.scale.data() + m;
        o.out = c + m * ldc + p * nr;
        K::finish(facc.data() + (m - m_begin) * nr, static_cast<int>(std::min<index_t>(K::mr, m_end - m)), o);
      }
    }
  });
}

}  // namespace detail

/// C = stage(A x W^T) for sub-byte weights, on the context's path with its threads. A holds int8
/// codes with zero point 0 (symmetric, per row or per tensor); `c` has M rows of N outputs with
/// leading dimension ldc.
template <class AF, class WF, class Stage>
void lowbit_gemm(const activations<AF>& a, const packed_lowbit_weights<WF>& w, const Stage& stage,
                 typename Stage::value_type* c, index_t ldc, const context& ctx = {}) {
  static_assert(AF::is_signed && AF::bits == 8, "lowbit_gemm: activations are int8 (symmetric, zero point 0)");
  static_assert(!std::is_same_v<Stage, output_int32>,
                "lowbit_gemm: per-group scales make the result float: use output_float or requantize");
  check_path(ctx.path, "lowbit_gemm");
  if (a.cols() != w.k()) detail::fail("lowbit_gemm: activations have K = ", a.cols(), " but the weights K = ", w.k());
  if (ldc < w.n() && a.rows() > 1) detail::fail("lowbit_gemm: output leading dimension ", ldc, " < N = ", w.n());
  if (c == nullptr && a.rows() * w.n() > 0) detail::fail("lowbit_gemm: null output");
  for (index_t m = 0; m < (a.per_row() ? a.rows() : std::min<index_t>(a.rows(), 1)); ++m)
    if (a.zero_point(m) != 0)
      detail::fail("lowbit_gemm: activation zero point ", a.zero_point(m), " (row ", m,
                   "); the sub-byte GEMM takes symmetric int8 activations (zero point 0)");
  detail::check_output(stage);
  dispatch(ctx.path, [&](auto tag) {
    using K = decltype(kernels::lowbit_kernel(tag));
    detail::lowbit_gemm_with<K>(a, w, stage, c, ldc, ctx);
  });
}

LOWBIT_NAMESPACE_END
