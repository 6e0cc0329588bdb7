// lowbit/gemm/gemm.hpp: activations x packed int8 weights^T on the context's kernel path.
//
//   C[m][n] = stage( sum_k (a[m][k] - za[m]) * w[n][k] ),   a: M x K,  w: N x K,  C: M x N
//
// The sums are exact (int32, K <= gemm_max_k). The driver packs A in the layout the path's
// micro-kernel reads (kernels/gemm_contract.hpp names the layouts and the shift s), runs the
// kernel tile by tile, subtracts (za + s) * column_sum[n] from each raw sum where the layout
// shifted the codes, so every path yields the same int32, and applies the output stage
// (gemm/output.hpp).
//
// Blocking: a task owns a block of rows and a block of weight panels. Row blocks keep their packed
// A (rows x K) within about 256 KiB and panel blocks their weights within about 512 KiB, halves of
// a 1 MiB L2; inside a task, each MR-row group runs against every panel of the block, so the
// group's A stays in L1/L2 while panels stream from L2. For small M (M = 1 is a GEMV) the panels
// are split among the threads and every weight byte is read once.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/detail/aligned.hpp"
#include "lowbit/gemm/activations.hpp"
#include "lowbit/gemm/output.hpp"
#include "lowbit/gemm/packed_weights.hpp"
#include "lowbit/kernels/gemm.hpp"
#include "lowbit/runtime/context.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace detail {

template <class K>
using packed_a_type = std::conditional_t<K::packed_a == a_layout::s16, std::int16_t,
                                         std::conditional_t<K::packed_a == a_layout::u8, std::uint8_t, std::int8_t>>;

/// Activations rearranged for micro-kernel K.
template <class K>
struct packed_activations {
  index_t rows = 0, kp = 0;
  aligned_vector<packed_a_type<K>> data;  // s16, u8: rows x kp; s8x4: blocks of 4 rows x kp
  std::vector<std::int32_t> offset;       // per row: za + s, subtracted times the column sums
};

template <class K, class F>
void pack_activation_rows(const activations<F>& a, packed_activations<K>& p, index_t m0, index_t m1) {
  const index_t k = a.cols(), kp = p.kp;
  for (index_t m = m0; m < m1; ++m) {
    const std::int32_t za = a.zero_point(m);
    const auto* src = k > 0 ? a.row(m) : nullptr;  // no pointer arithmetic on the null codes of K = 0
    if constexpr (K::packed_a == a_layout::s16) {
      std::int16_t* dst = p.data.data() + m * kp;
      for (index_t i = 0; i < k; ++i) dst[i] = static_cast<std::int16_t>(src[i] - za);
      std::fill(dst + k, dst + kp, std::int16_t{0});
      p.offset[static_cast<std::size_t>(m)] = 0;
    } else if constexpr (K::packed_a == a_layout::u8) {
      std::uint8_t* dst = p.data.data() + m * kp;
      constexpr std::uint8_t flip = F::is_signed ? 0x80 : 0x00;  // int8 + 128 as a byte = code ^ 0x80
      for (index_t i = 0; i < k; ++i) dst[i] = static_cast<std::uint8_t>(static_cast<std::uint8_t>(src[i]) ^ flip);
      std::fill(dst + k, dst + kp, std::uint8_t{0});
      p.offset[static_cast<std::size_t>(m)] = za + (F::is_signed ? 128 : 0);
    } else {  // s8x4: interleave 4 rows per quad
      const index_t block = m / 4, r = m % 4, kq = kp / 4;
      std::int8_t* dst = p.data.data() + block * kq * 16 + r * 4;
      constexpr std::uint8_t flip = F::is_signed ? 0x00 : 0x80;  // uint8 - 128 as a byte = code ^ 0x80
      for (index_t i = 0; i < kp; ++i) {
        const std::uint8_t v = i < k ? static_cast<std::uint8_t>(static_cast<std::uint8_t>(src[i]) ^ flip) : std::uint8_t{0};
        dst[(i / 4) * 16 + i % 4] = static_cast<std::int8_t>(v);
      }
      p.offset[static_cast<std::size_t>(m)] = za - (F::is_signed ? 0 : 128);
    }
  }
}

template <class K, class F>
void pack_activations(const activations<F>& a, index_t kp, packed_activations<K>& p, const context& ctx) {
  p.rows = a.rows();
  p.kp = kp;
  p.offset.assign(static_cast<std::size_t>(a.rows()), 0);
  const index_t padded_rows = K::packed_a == a_layout::s8x4 ? (a.rows() + 3) / 4 * 4 : a.rows();
  p.data.assign(static_cast<std::size_t>(padded_rows * kp), 0);
  const index_t chunk = std::max<index_t>(4, 65536 / std::max<index_t>(kp, 1) / 4 * 4);
  const index_t tasks = (a.rows() + chunk - 1) / chunk;
  ctx.run(tasks, [&](index_t t) { pack_activation_rows<K>(a, p, t * chunk, std::min(a.rows(), (t + 1) * chunk)); });
}

/// Raw sums of `rows` (1 .. K::mr) rows starting at row m against one panel.
template <class K>
void run_tile(int rows, const packed_activations<K>& p, index_t m, const std::int8_t* panel, std::int32_t* out) noexcept {
  const index_t kq = p.kp / K::kr;
  if constexpr (K::packed_a == a_layout::s8x4) {
    K::template tile<4>(p.data.data() + (m / 4) * kq * 16, p.kp, panel, kq, out);
  } else {
    const auto* a = p.data.data() + m * p.kp;
    switch (rows) {
#define LOWBIT_GEMM_ROWS(r) \
  case r:                   \
    if constexpr (r <= K::mr) K::template tile<r>(a, p.kp, panel, kq, out); \
    return;
      LOWBIT_GEMM_ROWS(1) LOWBIT_GEMM_ROWS(2) LOWBIT_GEMM_ROWS(3) LOWBIT_GEMM_ROWS(4)
      LOWBIT_GEMM_ROWS(5) LOWBIT_GEMM_ROWS(6) LOWBIT_GEMM_ROWS(7) LOWBIT_GEMM_ROWS(8)
#undef LOWBIT_GEMM_ROWS
      default: return;
    }
  }
}

template <class F, class Stage>
void check_gemm_arguments(const activations<F>& a, const packed_weights& w, const Stage& stage, const void* c, index_t ldc) {
  if (a.cols() != w.k()) fail("gemm: activations have K = ", a.cols(), " but the weights K = ", w.k());
  if (ldc < w.n() && a.rows() > 1) fail("gemm: output leading dimension ", ldc, " < N = ", w.n());
  if (c == nullptr && a.rows() * w.n() > 0) fail("gemm: null output");
  if constexpr (!std::is_same_v<Stage, output_int32>) {
    float largest = 0;
    for (index_t m = 0; m < (a.per_row() ? a.rows() : std::min<index_t>(a.rows(), 1)); ++m)
      largest = std::max(largest, a.scale(m));
    float largest_w = 0;
    for (index_t n = 0; n < w.n(); ++n) largest_w = std::max(largest_w, w.scales()[n]);
    if (!std::isfinite(largest * largest_w))
      fail("gemm: activation scale x weight scale overflows float (", largest, " x ", largest_w, ")");
  }
  check_output(stage);
}

template <class K, class F, class Stage>
void gemm_with(const activations<F>& a, const packed_weights& w, const Stage& stage, typename Stage::value_type* c,
               index_t ldc, const context& ctx) {
  if (w.layout() != weight_layout{K::nr, K::kr}) {
    fail("gemm: the weights were packed for path ", path_name(w.packed_for()), " (panels of ", w.layout().nr,
         " columns) but path ", path_name(ctx.path), " runs the ", path_name(K::path), " kernel, which reads panels of ",
         K::nr, "; pack them with that path's context or call repack(kernel_path::", path_name(ctx.path), ")");
  }
  const index_t m_total = a.rows(), n_total = w.n();
  if (m_total == 0 || n_total == 0) return;
  constexpr index_t mr = K::packed_a == a_layout::s8x4 ? 4 : K::mr, nr = K::nr;

  packed_activations<K> pa;
  pack_activations<K>(a, w.k_padded(), pa, ctx);

  // Blocks: panel blocks within ~512 KiB of weights, row blocks within ~256 KiB of packed A.
  const index_t kp = std::max<index_t>(w.k_padded(), K::kr);
  const index_t a_row_bytes = kp * static_cast<index_t>(sizeof(packed_a_type<K>));
  index_t panel_block = std::max<index_t>(1, (512 << 10) / (nr * kp));
  index_t row_block = std::max<index_t>(mr, (256 << 10) / a_row_bytes / mr * mr);
  row_block = std::min(row_block, (m_total + mr - 1) / mr * mr);
  const index_t row_blocks = (m_total + row_block - 1) / row_block;
  // Enough tasks for every thread: split the panels further when the rows do not.
  const index_t want = ctx.threads > 1 ? static_cast<index_t>(ctx.threads) * 4 : 1;
  while (panel_block > 1 && row_blocks * ((w.panels() + panel_block - 1) / panel_block) < want)
    panel_block = (panel_block + 1) / 2;
  const index_t panel_blocks = (w.panels() + panel_block - 1) / panel_block;

  const std::int32_t* colsum = w.column_sums();
  ctx.run(row_blocks * panel_blocks, [&](index_t task) {
    const index_t rb = task % row_blocks, pb = task / row_blocks;
    const index_t m_begin = rb * row_block, m_end = std::min(m_total, m_begin + row_block);
    const index_t p_begin = pb * panel_block, p_end = std::min(w.panels(), p_begin + panel_block);
    alignas(64) std::int32_t tile[mr * nr];
    for (index_t m = m_begin; m < m_end; m += mr) {
      const int rows = static_cast<int>(std::min<index_t>(mr, m_end - m));
      for (index_t p = p_begin; p < p_end; ++p) {
        run_tile<K>(rows, pa, m, w.panel(p), tile);
        const index_t n0 = p * nr;
        const index_t count = std::min<index_t>(nr, n_total - n0);
        for (int r = 0; r < rows; ++r) {
          std::int32_t* acc = tile + r * nr;
          const auto off = static_cast<std::uint32_t>(pa.offset[static_cast<std::size_t>(m + r)]);
          if (off != 0) {  // wraps modulo 2^32 to the exact sum, which fits in int32
            for (index_t j = 0; j < count; ++j)
              acc[j] = static_cast<std::int32_t>(static_cast<std::uint32_t>(acc[j]) - off * static_cast<std::uint32_t>(colsum[n0 + j]));
          }
          const float* bias = w.bias();
          store_output(stage, acc, count, a.scale(m + r), w.scales() + n0, bias ? bias + n0 : nullptr,
                       c + (m + r) * ldc + n0);
        }
      }
    }
  });
}

}  // namespace detail

/// C = stage(A x W^T) on the context's path, with its threads. `c` has M rows of N outputs with
/// leading dimension ldc.
template <class F, class Stage>
void gemm(const activations<F>& a, const packed_weights& w, const Stage& stage, typename Stage::value_type* c,
          index_t ldc, const context& ctx = {}) {
  detail::check_gemm_arguments(a, w, stage, c, ldc);
  check_path(ctx.path, "gemm");
  dispatch(ctx.path, [&](auto tag) {
    using K = decltype(kernels::gemm_kernel(tag));
    detail::gemm_with<K>(a, w, stage, c, ldc, ctx);
  });
}

LOWBIT_NAMESPACE_END
