// lowbit/gemm/gemm.hpp: activations x packed int8 weights^T on the context's kernel path.
//
//   C[m][n] = stage( sum_k (a[m][k] - za[m]) * w[n][k] ),   a: M x K,  w: N x K,  C: M x N
//
// The sums are exact (int32, K <= gemm_max_k). kernels/gemm_contract.hpp defines the words used
// here. The driver
//   - picks the path's micro-kernel for the activation format (a uint7 format can pick a 7-bit
//     kernel) and checks that the weights were packed in the layout it reads;
//   - gives it packed A: the activation codes themselves where the layout allows (u8 layout,
//     unsigned codes, K a multiple of KR: no copy), else a copy rearranged in one pass;
//   - splits the work into tasks of rows x panels for the context's threads: panels first, so that
//     every weight byte is still read once when M is small (M = 1 is a GEMV);
//   - runs each task panel by panel: for each depth block (KC quads, so that a strip of A stays
//     near L1 and the panel's slice in L2), every strip of rows against the slice, carrying int32
//     sums between depth blocks in a small buffer;
//   - strips are whole tiles (up to whole_mr rows) or, when they hold more rows than that, split
//     tiles that cover a part of the panel each, so that one pass over the weights serves up to
//     split_mr rows; a last strip shorter than half a whole tile shares the rows of the strip
//     before it evenly (plan_strips).
// Each tile finishes itself: the zero-point and sign-shift compensation and the output stage are
// applied to its accumulators (gemm/output.hpp, kernels/gemm_scalar.hpp state the arithmetic).
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

/// Activations as micro-kernel K reads them: in place, or a rearranged copy.
template <class K>
struct packed_activations {
  const packed_a_type<K>* data = nullptr;  // s16, u8: row m at data + m * ld; s8x4: blocks of 4 rows
  index_t ld = 0;
  aligned_vector<packed_a_type<K>> storage;  // the copy, when one is needed
  std::vector<std::int32_t> offset;          // per row: za + s, subtracted times the column sums
  std::vector<float> scale;                  // per row
};

template <class K, class F>
void pack_activation_rows(const activations<F>& a, index_t kp, packed_a_type<K>* base, index_t m0, index_t m1) {
  const index_t k = a.cols();
  for (index_t m = m0; m < m1; ++m) {
    const std::int32_t za = a.zero_point(m);
    const auto* src = k > 0 ? a.row(m) : nullptr;  // no pointer arithmetic on the null codes of K = 0
    if constexpr (K::packed_a == a_layout::s16) {
      std::int16_t* dst = base + m * kp;
      for (index_t i = 0; i < k; ++i) dst[i] = static_cast<std::int16_t>(src[i] - za);
      std::fill(dst + k, dst + kp, std::int16_t{0});
    } else if constexpr (K::packed_a == a_layout::u8) {
      std::uint8_t* dst = base + m * kp;
      constexpr std::uint8_t flip = F::is_signed ? 0x80 : 0x00;  // int8 + 128 as a byte = code ^ 0x80
      for (index_t i = 0; i < k; ++i) dst[i] = static_cast<std::uint8_t>(static_cast<std::uint8_t>(src[i]) ^ flip);
      std::fill(dst + k, dst + kp, std::uint8_t{0});
    } else {  // s8x4: interleave 4 rows per quad
      const index_t block = m / 4, r = m % 4, kq = kp / 4;
      std::int8_t* dst = base + block * kq * 16 + r * 4;
      constexpr std::uint8_t flip = F::is_signed ? 0x00 : 0x80;  // uint8 - 128 as a byte = code ^ 0x80
      for (index_t i = 0; i < kp; ++i) {
        const std::uint8_t v = i < k ? static_cast<std::uint8_t>(static_cast<std::uint8_t>(src[i]) ^ flip) : std::uint8_t{0};
        dst[(i / 4) * 16 + i % 4] = static_cast<std::int8_t>(v);
      }
    }
  }
}

template <class K, class F>
void pack_activations(const activations<F>& a, index_t kp, packed_activations<K>& p, const context& ctx) {
  const index_t rows = a.rows();
  constexpr std::int32_t shift = K::packed_a == a_layout::s16 ? 0
                                 : K::packed_a == a_layout::u8 ? (F::is_signed ? 128 : 0)
                                                               : (F::is_signed ? 0 : -128);
  p.offset.resize(static_cast<std::size_t>(rows));
  p.scale.resize(static_cast<std::size_t>(rows));
  for (index_t m = 0; m < rows; ++m) {
    p.offset[static_cast<std::size_t>(m)] = K::packed_a == a_layout::s16 ? 0 : a.zero_point(m) + shift;
    p.scale[static_cast<std::size_t>(m)] = a.scale(m);
  }
  if constexpr (K::packed_a == a_layout::u8 && !F::is_signed) {
    if (a.cols() % K::kr == 0 && a.cols() > 0) {  // the codes are the packed rows already
      p.data = reinterpret_cast<const std::uint8_t*>(a.data());
      p.ld = rows > 1 ? a.ld() : a.cols();
      return;
    }
  }
  const index_t padded_rows = K::packed_a == a_layout::s8x4 ? (rows + 3) / 4 * 4 : rows;
  p.storage.assign(static_cast<std::size_t>(std::max<index_t>(padded_rows * kp, 1)), 0);
  p.data = p.storage.data();
  p.ld = kp;
  const index_t chunk = std::max<index_t>(4, 65536 / std::max<index_t>(kp, 1) / 4 * 4);
  ctx.run((rows + chunk - 1) / chunk,
          [&](index_t t) { pack_activation_rows<K>(a, kp, p.storage.data(), t * chunk, std::min(rows, (t + 1) * chunk)); });
}

/// Runs one tile of `rows` rows (a run-time count) as the template the kernel provides.
template <class K, int Parts, class Stage>
void run_tile(int rows, const packed_a_type<K>* a, index_t lda, const std::int8_t* b, index_t kq,
              const kernels::tile_output<Stage>& o) noexcept {
  constexpr int most = Parts == 1 ? K::whole_mr : K::split_mr;
  switch (rows) {
#define LOWBIT_GEMM_ROWS(r)                                                     \
  case r:                                                                       \
    if constexpr (r <= most) K::template tile<r, Parts>(a, lda, b, kq, o); \
    return;
    LOWBIT_GEMM_ROWS(1) LOWBIT_GEMM_ROWS(2) LOWBIT_GEMM_ROWS(3) LOWBIT_GEMM_ROWS(4)
    LOWBIT_GEMM_ROWS(5) LOWBIT_GEMM_ROWS(6) LOWBIT_GEMM_ROWS(7) LOWBIT_GEMM_ROWS(8)
    LOWBIT_GEMM_ROWS(9) LOWBIT_GEMM_ROWS(10) LOWBIT_GEMM_ROWS(11) LOWBIT_GEMM_ROWS(12)
#undef LOWBIT_GEMM_ROWS
    default: return;
  }
}

/// One strip of rows and how its tiles cover a panel.
struct strip {
  index_t m = 0;
  int rows = 0;
  bool split = false;
};

/// The strips of rows [m0, m1): one strip when the rows fit a whole or a split tile, else strips
/// of the kernel's large size and a last, shorter one. For kernels of whole tiles on row-major
/// activations, a last strip shorter than half a tile is avoided: the last two strips share their
/// rows evenly (8 rows on a 6-row kernel run as 4 + 4, not 6 + 2). A tile of 1 or 2 rows has too
/// few independent accumulators to hide the dot product's latency and reloads the weights for few
/// rows; on the Xeon (AVX-512 VNNI) this took M = 8 from 202-210 to 224-239 GOPS and M = 32 from
/// 346-352 to 369-376 (4096 x 4096, three alternating runs).
template <class K>
std::vector<strip> plan_strips(index_t m0, index_t m1) {
  constexpr bool balance = K::parts == 1 && !K::large_split && K::packed_a != a_layout::s8x4;
  std::vector<strip> out;
  const auto fits = [](index_t rows, bool& split) {
    if (rows <= K::whole_mr) return !(split = false);
    if (K::split_mr > 0 && rows <= K::split_mr) return (split = true);
    return false;
  };
  index_t m = m0;
  while (m < m1) {
    const index_t left = m1 - m;
    bool split = false;
    if (fits(left, split)) {
      out.push_back({m, static_cast<int>(left), split});
      break;
    }
    if (balance && left < K::whole_mr + K::whole_mr / 2) {
      const index_t first = (left + 1) / 2;  // both halves are between whole_mr / 2 and whole_mr
      out.push_back({m, static_cast<int>(first), false});
      out.push_back({m + first, static_cast<int>(left - first), false});
      break;
    }
    const int rows = K::large_split ? K::split_mr : K::whole_mr;
    out.push_back({m, rows, K::large_split});
    m += rows;
  }
  return out;
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

template <class Stage>
const float* stage_bias(const Stage& s, const packed_weights& w) noexcept {
  if constexpr (std::is_same_v<Stage, output_int32>) {
    (void)s;
    return nullptr;
  } else if constexpr (std::is_same_v<Stage, output_float>) {
    return s.use_bias ? w.bias() : nullptr;
  } else {
    return s.pre.use_bias ? w.bias() : nullptr;
  }
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
  constexpr index_t nr = K::nr, kr = K::kr;
  constexpr index_t elem = static_cast<index_t>(sizeof(packed_a_type<K>));
  constexpr bool interleaved = K::packed_a == a_layout::s8x4;
  const index_t kp = w.k_padded(), kq_total = kp / kr;

  packed_activations<K> pa;
  pack_activations<K>(a, kp, pa, ctx);

  // Depth blocks: a large strip's A within 64 KiB, balanced. (On a Zen 5, 16 and 32 KiB blocks were
  // 2-10 % slower: with the panel prefetched, carrying the sums costs more than L1 misses on A.)
  constexpr index_t large_rows = K::large_split ? K::split_mr : K::whole_mr;
  const index_t kc_most = std::max<index_t>(64, (64 << 10) / (large_rows * elem * kr));
  const index_t depth_blocks = std::max<index_t>(1, ceil_div(kq_total, kc_most));
  const index_t kc = std::max<index_t>(1, ceil_div(kq_total, depth_blocks));

  // Tasks: rows x panels. Panels are split first, so that each weight byte is read by one thread
  // once; rows only when there are too few panels to keep every thread busy.
  const index_t panels = w.panels();
  const index_t threads = std::max(1, ctx.threads);
  index_t row_blocks = 1;
  const index_t row_unit = interleaved ? 4 : 1;
  if (threads > 1 && panels < 2 * threads && m_total > 2 * large_rows)
    row_blocks = std::min<index_t>(2 * threads, ceil_div(m_total, 2 * large_rows));
  const index_t panel_blocks = std::max<index_t>(1, std::min<index_t>(panels, threads > 1 ? 4 * threads : 1));
  const index_t rows_per_block = ceil_div(ceil_div(m_total, row_blocks), row_unit) * row_unit;
  row_blocks = ceil_div(m_total, rows_per_block);

  const float* bias = stage_bias(stage, w);
  ctx.run(row_blocks * panel_blocks, [&](index_t task) {
    const index_t rb = task % row_blocks, pb = task / row_blocks;
    const index_t m_begin = rb * rows_per_block, m_end = std::min(m_total, m_begin + rows_per_block);
    const index_t p_begin = panels * pb / panel_blocks, p_end = panels * (pb + 1) / panel_blocks;
    const std::vector<strip> strips = plan_strips<K>(m_begin, m_end);
    std::vector<std::int32_t> partial(depth_blocks > 1 ? static_cast<std::size_t>((m_end - m_begin) * nr) : 0);
    for (index_t p = p_begin; p < p_end; ++p) {
      const index_t n0 = p * nr;
      for (index_t kb = 0; kb < depth_blocks; ++kb) {
        const index_t q0 = kb * kc, kq = std::min(kc, kq_total - q0);
        if (kq <= 0 && kb > 0) break;
        const bool last = kb + 1 == depth_blocks || q0 + kq >= kq_total;
        for (const strip& s : strips) {
          const packed_a_type<K>* a_ptr =
              interleaved ? pa.data + (s.m / 4) * kq_total * 16 + q0 * 16 : pa.data + s.m * pa.ld + q0 * kr;
          const int parts = s.split ? K::parts : 1;
          const index_t width = nr / parts;
          for (int part = 0; part < parts; ++part) {
            const index_t c0 = n0 + part * width;
            if (c0 >= n_total) break;
            kernels::tile_output<Stage> o;
            o.stage = &stage;
            o.offset = pa.offset.data() + s.m;
            o.a_scale = pa.scale.data() + s.m;
            o.colsum = w.column_sums() + c0;
            o.w_scale = w.scales() + c0;
            o.bias = bias != nullptr ? bias + c0 : nullptr;
            o.cols = std::min(width, n_total - c0);
            o.out = c + s.m * ldc + c0;
            o.ldo = ldc;
            o.partial = partial.empty() ? nullptr : partial.data() + (s.m - m_begin) * nr + part * width;
            o.ldp = nr;
            o.first = kb == 0;
            o.last = last;
            // K = 0: the panels are empty; the kernel reads no quad, but must get a pointer it
            // may offset by the part.
            static constexpr std::int8_t no_weights[K::nr * K::kr] = {};
            const std::int8_t* b = (kq_total > 0 ? w.panel(p) + q0 * nr * kr : no_weights) + part * width * kr;
            if (s.split) {
              if constexpr (K::split_mr > 0) run_tile<K, K::parts>(s.rows, a_ptr, pa.ld, b, kq, o);
            } else {
              run_tile<K, 1>(s.rows, a_ptr, pa.ld, b, kq, o);
            }
          }
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
    using K = decltype(kernels::gemm_kernel_for<F>(tag));
    detail::gemm_with<K>(a, w, stage, c, ldc, ctx);
  });
}

LOWBIT_NAMESPACE_END
