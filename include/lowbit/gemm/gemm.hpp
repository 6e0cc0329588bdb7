// lowbit/gemm/gemm.hpp: quantized activations x packed int8 weights^T, dispatched at run time.
//
//   C[m][n] = stage( sum_k (a[m][k] - za[m]) * w[n][k] ),   a: M x K,  w: N x K,  C: M x N
//
// The sums are exact (int32, K <= gemm_max_k). Each path packs A for its micro-kernel:
//
//   family      packed A (per row, K padded to a multiple of 4)       shift s   kernel
//   scalar      int16  a - za                                          -         kernels/gemm_scalar.hpp
//   avx2        int16  a - za                                          -         kernels/gemm_avx2.hpp
//   avx512      int16  a - za                                          -         kernels/gemm_avx512.hpp
//   avx512vnni  uint8  a + s,  s = 128 for int8 codes, 0 for uint8      za + s    kernels/gemm_avx512vnni.hpp
//   neondot     int8   a + s,  s = 0 for int8 codes, -128 for uint8,   za + s    kernels/gemm_neondot.hpp
//               4 rows interleaved per quad
//
// and for the byte forms subtracts (za + s) * column_sum[n] from each raw sum, so every path yields
// the same int32 before the shared output stage (gemm/output.hpp).
//
// Blocking: a task owns a block of rows and a block of weight panels. Row blocks keep their packed
// A (rows x K) within about 256 KiB and panel blocks their weights within about 512 KiB, halves of a
// 1 MiB L2; inside a task, each MR-row group runs against every panel of the block, so the group's
// A stays in L1/L2 while panels stream from L2. For small M (M = 1 is a GEMV) the panels are split
// among the threads and every weight byte is read once.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/detail/aligned.hpp"
#include "lowbit/gemm/output.hpp"
#include "lowbit/gemm/packed_weights.hpp"
#include "lowbit/kernels/gemm_avx2.hpp"
#include "lowbit/kernels/gemm_avx512.hpp"
#include "lowbit/kernels/gemm_avx512vnni.hpp"
#include "lowbit/kernels/gemm_neondot.hpp"
#include "lowbit/kernels/gemm_scalar.hpp"
#include "lowbit/kernels/isa.hpp"
#include "lowbit/parallel/thread_pool.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace detail {

enum class gemm_family { scalar, avx2, avx512, avx512vnni, neondot };

inline gemm_family gemm_family_for(isa path) noexcept {
  switch (path) {
#if LOWBIT_HAVE_X86_PATHS
    case isa::avx2: return gemm_family::avx2;
    case isa::avx512: return gemm_family::avx512;
    case isa::avx512_vnni: return gemm_family::avx512vnni;
#endif
#if LOWBIT_HAVE_NEON_DOT_PATH
    case isa::neon_dot: return gemm_family::neondot;
#endif
    default: return gemm_family::scalar;
  }
}

inline int gemm_mr(gemm_family f) noexcept {
  switch (f) {
#if LOWBIT_HAVE_X86_PATHS
    case gemm_family::avx2: return kernels::gemm_avx2::mr;
    case gemm_family::avx512: return kernels::gemm_avx512::mr;
    case gemm_family::avx512vnni: return kernels::gemm_avx512vnni::mr;
#endif
#if LOWBIT_HAVE_NEON_DOT_PATH
    case gemm_family::neondot: return kernels::gemm_neondot::mr;
#endif
    default: return kernels::gemm_scalar::mr;
  }
}

/// Activations rearranged for one kernel family.
struct packed_activations {
  gemm_family family = gemm_family::scalar;
  index_t rows = 0, kp = 0;
  aligned_vector<std::int16_t> i16;  // scalar, avx2, avx512: rows x kp
  aligned_vector<std::uint8_t> u8;   // avx512vnni: rows x kp; neondot: blocks of 4 rows x kp
  std::vector<std::int32_t> offset;  // per row: za + shift, subtracted times the column sums
};

inline bool uses_int16(gemm_family f) noexcept {
  return f == gemm_family::scalar || f == gemm_family::avx2 || f == gemm_family::avx512;
}

inline void pack_activation_rows(const quantized_activations& a, packed_activations& p,
                                 index_t m0, index_t m1) {
  const index_t k = a.cols, kp = p.kp;
  for (index_t m = m0; m < m1; ++m) {
    const std::int32_t za = a.zero_point_of(m);
    const std::uint8_t* src = a.data + m * a.ld;
    if (uses_int16(p.family)) {
      std::int16_t* dst = p.i16.data() + m * kp;
      if (a.is_signed) {
        for (index_t i = 0; i < k; ++i) dst[i] = static_cast<std::int16_t>(static_cast<std::int8_t>(src[i]) - za);
      } else {
        for (index_t i = 0; i < k; ++i) dst[i] = static_cast<std::int16_t>(src[i] - za);
      }
      std::fill(dst + k, dst + kp, std::int16_t{0});
      p.offset[static_cast<std::size_t>(m)] = 0;
    } else if (p.family == gemm_family::avx512vnni) {
      std::uint8_t* dst = p.u8.data() + m * kp;
      const std::uint8_t flip = a.is_signed ? 0x80 : 0x00;  // int8 + 128 as a byte = code ^ 0x80
      for (index_t i = 0; i < k; ++i) dst[i] = static_cast<std::uint8_t>(src[i] ^ flip);
      std::fill(dst + k, dst + kp, std::uint8_t{0});
      p.offset[static_cast<std::size_t>(m)] = za + (a.is_signed ? 128 : 0);
    } else {  // neondot: interleave 4 rows per quad
      const index_t block = m / 4, r = m % 4, kq = kp / 4;
      std::uint8_t* dst = p.u8.data() + block * kq * 16 + r * 4;
      const std::uint8_t flip = a.is_signed ? 0x00 : 0x80;  // uint8 - 128 as a byte = code ^ 0x80
      for (index_t i = 0; i < kp; ++i) {
        const std::uint8_t v = i < k ? static_cast<std::uint8_t>(src[i] ^ flip) : std::uint8_t{0};
        dst[(i / 4) * 16 + i % 4] = v;
      }
      p.offset[static_cast<std::size_t>(m)] = za - (a.is_signed ? 0 : 128);
    }
  }
}

inline void pack_activations(const quantized_activations& a, gemm_family family, index_t kp,
                             packed_activations& p, const execution& ex) {
  p.family = family;
  p.rows = a.rows;
  p.kp = kp;
  p.offset.assign(static_cast<std::size_t>(a.rows), 0);
  if (uses_int16(family)) {
    p.i16.resize(static_cast<std::size_t>(a.rows * kp));
  } else {
    const index_t padded_rows = family == gemm_family::neondot ? (a.rows + 3) / 4 * 4 : a.rows;
    p.u8.assign(static_cast<std::size_t>(padded_rows * kp), 0);
  }
  const index_t chunk = std::max<index_t>(4, 65536 / std::max<index_t>(kp, 1) / 4 * 4);
  const index_t tasks = (a.rows + chunk - 1) / chunk;
  ex.run(tasks, [&](index_t t) {
    pack_activation_rows(a, p, t * chunk, std::min(a.rows, (t + 1) * chunk));
  });
}

/// Raw sums of `rows` (<= the family's MR) rows starting at row m against panel `panel`.
template <int MR>
void family_tile(gemm_family f, const packed_activations& p, index_t m, const std::int8_t* panel,
                 std::int32_t* out) noexcept {
  const index_t kq = p.kp / 4;
  switch (f) {
#if LOWBIT_HAVE_X86_PATHS
    case gemm_family::avx2:
      if constexpr (MR <= kernels::gemm_avx2::mr)
        kernels::gemm_avx2::tile<MR>(p.i16.data() + m * p.kp, p.kp, panel, kq, out);
      return;
    case gemm_family::avx512:
      if constexpr (MR <= kernels::gemm_avx512::mr)
        kernels::gemm_avx512::tile<MR>(p.i16.data() + m * p.kp, p.kp, panel, kq, out);
      return;
    case gemm_family::avx512vnni:
      if constexpr (MR <= kernels::gemm_avx512vnni::mr)
        kernels::gemm_avx512vnni::tile<MR>(p.u8.data() + m * p.kp, p.kp, panel, kq, out);
      return;
#endif
#if LOWBIT_HAVE_NEON_DOT_PATH
    case gemm_family::neondot:
      kernels::gemm_neondot::tile4(reinterpret_cast<const std::int8_t*>(p.u8.data()) + (m / 4) * kq * 16,
                                   panel, kq, out);
      return;
#endif
    default:
      if constexpr (MR <= kernels::gemm_scalar::mr)
        kernels::gemm_scalar::tile<MR>(p.i16.data() + m * p.kp, p.kp, panel, kq, out);
      return;
  }
}

/// Dispatches a run-time row count (1 .. 8, the largest MR) to the tile template.
inline void run_tile(gemm_family f, int rows, const packed_activations& p, index_t m,
                     const std::int8_t* panel, std::int32_t* out) noexcept {
  if (f == gemm_family::neondot) rows = 4;  // interleaved blocks of 4 rows are always whole
  switch (rows) {
    case 1: return family_tile<1>(f, p, m, panel, out);
    case 2: return family_tile<2>(f, p, m, panel, out);
    case 3: return family_tile<3>(f, p, m, panel, out);
    case 4: return family_tile<4>(f, p, m, panel, out);
    case 5: return family_tile<5>(f, p, m, panel, out);
    case 6: return family_tile<6>(f, p, m, panel, out);
    case 7: return family_tile<7>(f, p, m, panel, out);
    default: return family_tile<8>(f, p, m, panel, out);
  }
}

template <class Stage>
void check_gemm_arguments(const quantized_activations& a, const packed_weights& w,
                          const Stage& stage, const void* c, index_t ldc) {
  if (a.rows < 0 || a.cols < 0) fail("gemm: negative activation shape [", a.rows, ", ", a.cols, "]");
  if (a.cols != w.k()) fail("gemm: activations have K = ", a.cols, " but the weights K = ", w.k());
  if (a.rows > 1 && a.ld < a.cols) fail("gemm: activation leading dimension ", a.ld, " < K = ", a.cols);
  if (a.data == nullptr && a.rows * a.cols > 0) fail("gemm: null activation data");
  if (ldc < w.n() && a.rows > 1) fail("gemm: output leading dimension ", ldc, " < N = ", w.n());
  if (c == nullptr && a.rows * w.n() > 0) fail("gemm: null output");
  const std::int32_t lo = a.is_signed ? -128 : 0, hi = a.is_signed ? 127 : 255;
  for (index_t m = 0; m < (a.row_zero_points ? a.rows : std::min<index_t>(a.rows, 1)); ++m) {
    const std::int32_t z = a.zero_point_of(m);
    if (z < lo || z > hi) {
      fail("gemm: activation zero point ", z, (a.row_zero_points ? " of row " : ""),
           (a.row_zero_points ? std::to_string(m) : std::string()), " is outside [", lo, ", ", hi, "]");
    }
  }
  if constexpr (!std::is_same_v<Stage, output_int32>) {
    float largest = 0;
    for (index_t m = 0; m < (a.row_scales ? a.rows : std::min<index_t>(a.rows, 1)); ++m) {
      const float s = a.scale_of(m);
      if (!(std::isfinite(s) && s >= std::numeric_limits<float>::min()))
        fail("gemm: activation scale ", s, " (row ", m, ") is not a positive normal float");
      largest = std::max(largest, s);
    }
    float largest_w = 0;
    for (index_t n = 0; n < w.n(); ++n) largest_w = std::max(largest_w, w.scales()[n]);
    if (!std::isfinite(largest * largest_w))
      fail("gemm: activation scale x weight scale overflows float (", largest, " x ", largest_w, ")");
  }
  check_output(stage);
}

}  // namespace detail

/// C = stage(A x W^T) on the active path (or `path`), with the threads of `ex`.
template <class Stage>
void gemm(const quantized_activations& a, const packed_weights& w, const Stage& stage,
          typename Stage::value_type* c, index_t ldc, const execution& ex = execution{},
          isa path = active_isa()) {
  detail::check_gemm_arguments(a, w, stage, c, ldc);
  if (!isa_supported(path)) detail::fail("gemm: path ", isa_name(path), " is not supported on this CPU/build");
  const index_t m_total = a.rows, n_total = w.n();
  if (m_total == 0 || n_total == 0) return;
  const detail::gemm_family family = detail::gemm_family_for(path);
  const index_t mr = detail::gemm_mr(family);

  detail::packed_activations pa;
  detail::pack_activations(a, family, w.k_padded(), pa, ex);

  // Blocks: panel blocks within ~512 KiB of weights, row blocks within ~256 KiB of packed A.
  const index_t kp = std::max<index_t>(w.k_padded(), 4);
  const index_t a_row_bytes = kp * (detail::uses_int16(family) ? 2 : 1);
  index_t panel_block = std::max<index_t>(1, (512 << 10) / (gemm_nr * kp));
  index_t row_block = std::max<index_t>(mr, (256 << 10) / a_row_bytes / mr * mr);
  row_block = std::min(row_block, (m_total + mr - 1) / mr * mr);
  const index_t row_blocks = (m_total + row_block - 1) / row_block;
  // Enough tasks for every thread: split the panels further when the rows do not.
  const index_t want = ex.threads > 1 ? static_cast<index_t>(ex.threads) * 4 : 1;
  while (panel_block > 1 && row_blocks * ((w.panels() + panel_block - 1) / panel_block) < want)
    panel_block = (panel_block + 1) / 2;
  const index_t panel_blocks = (w.panels() + panel_block - 1) / panel_block;

  const std::int32_t* colsum = w.column_sums();
  ex.run(row_blocks * panel_blocks, [&](index_t task) {
    const index_t rb = task % row_blocks, pb = task / row_blocks;
    const index_t m_begin = rb * row_block, m_end = std::min(m_total, m_begin + row_block);
    const index_t p_begin = pb * panel_block, p_end = std::min(w.panels(), p_begin + panel_block);
    alignas(64) std::int32_t tile[8 * gemm_nr];
    for (index_t m = m_begin; m < m_end; m += mr) {
      const int rows = static_cast<int>(std::min<index_t>(mr, m_end - m));
      for (index_t p = p_begin; p < p_end; ++p) {
        detail::run_tile(family, rows, pa, m, w.panel(p), tile);
        const index_t n0 = p * gemm_nr;
        const index_t count = std::min<index_t>(gemm_nr, n_total - n0);
        for (int r = 0; r < rows; ++r) {
          std::int32_t* acc = tile + r * gemm_nr;
          const auto off = static_cast<std::uint32_t>(pa.offset[static_cast<std::size_t>(m + r)]);
          if (off != 0) {  // wraps modulo 2^32 to the exact sum, which fits in int32
            for (index_t j = 0; j < count; ++j)
              acc[j] = static_cast<std::int32_t>(static_cast<std::uint32_t>(acc[j]) -
                                                 off * static_cast<std::uint32_t>(colsum[n0 + j]));
          }
          const float* bias = w.bias();
          detail::store_output(stage, acc, count, a.scale_of(m + r), w.scales() + n0,
                               bias ? bias + n0 : nullptr, c + (m + r) * ldc + n0);
        }
      }
    }
  });
}

LOWBIT_NAMESPACE_END
