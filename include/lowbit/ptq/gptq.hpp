// lowbit/ptq/gptq.hpp: GPTQ (Frantar et al., 2022): quantize a Linear layer's weights column by column, each column's error spread over the columns not yet quantized.
//
// Round-to-nearest minimizes each weight's own error; GPTQ minimizes the layer's output error on
// calibration inputs X, ||X W^T - X Q^T||^2, using the Hessian H = 2/n X^T X of that objective:
//
//   lowbit::hessian_observer h(in_features);
//   for (const auto& batch : calibration) h.observe(batch);          // [rows, in_features] each
//   lowbit::quantizer<lowbit::int4, lowbit::symmetric, lowbit::per_group> q(lowbit::per_group(1, 128));
//   lowbit::quantized_tensor<lowbit::int4> wq = lowbit::gptq(q, W, h);  // W: [out, in]
//   double before = lowbit::output_error(h, W, W_rtn), after = lowbit::output_error(h, W, wq.dequantize());
//
// The algorithm, as implemented (every step in double precision; `w` is a working copy of W):
//   1. dead inputs (H_jj = 0, an input that was always zero): H_jj = 1 and w[:, j] = 0;
//   2. static ranges (per_tensor, per_channel(0), or per_group with static_groups): each slot's
//      (scale, zero point) from the range of w after step 1, by the quantizer's own formulas;
//   3. act_order: columns processed by descending H_jj (stable: ties in column order);
//   4. dampening: H_ii += percdamp * mean(diag H);
//   5. U = the upper Cholesky factor of H^-1 (H^-1 = U^T U): the reversal of L^-1, where L is
//      Eigen's LLT factor of H with rows and columns reversed;
//   6. for each column i in processing order: with dynamic groups, at the first column of a group
//      each row's qparams come from the range of the group's current (already updated) weights;
//      q = fake_quantize(float(w[:, i])); e = (w[:, i] - q) / U_ii; w[:, j] -= e U_ij for j > i.
//      The updates are applied lazily in blocks of block_size columns (GPTQ's blocked form):
//      exact in real arithmetic, they change only the order of float operations;
//   7. the codes are stored in the original column order.
// Blocks are made a multiple of the group size so that no group straddles two blocks; a group's
// range is then always taken from weights every earlier column's error has reached. (GPTQ's
// reference code takes it from a copy that misses the current block's updates when a group starts
// inside a block; lowbit does not reproduce that.)
//
// Options (gptq_options): percdamp (0.01), block_size (128), act_order, static_groups,
// search_range (each range chosen by the weight search instead of min/max), half_scales (scales
// rounded to fp16 before the codes are chosen, for packed_lowbit_weights and the llama.cpp
// formats). act_order with dynamic groups would scatter each group over the input order, which a
// per_group tensor cannot store: it requires static_groups (an error says so).
//
// Granularity: per_tensor, per_channel(0) (a range per output row) or per_group(1, G) (groups
// along the inputs; a short last group when G does not divide in_features). Any format and scheme
// of the quantizer. Cost: O(out * in^2) for the updates plus O(in^3) for the factorization, and
// the observer's O(rows * in^2) per batch.
//
// Bad input: NaN or infinite weights or calibration values, a shape that does not match the
// observer, an observer that saw nothing, an unsupported granularity or a Hessian that is not
// positive definite after dampening raise lowbit::error, naming what to change.
#pragma once

#include <Eigen/Cholesky>
#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "lowbit/calibrators/weight_search.hpp"
#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/granularity.hpp"
#include "lowbit/gemm/packed_lowbit_weights.hpp"
#include "lowbit/kernels/elementwise_scalar.hpp"
#include "lowbit/observers/tensor_observer.hpp"
#include "lowbit/ptq/hessian_observer.hpp"
#include "lowbit/runtime/context.hpp"
#include "lowbit/tensor/quantized_tensor.hpp"
#include "lowbit/tensor/quantizer.hpp"

LOWBIT_NAMESPACE_BEGIN

struct gptq_options {
  double percdamp = 0.01;      ///< dampening, as a fraction of the mean of diag H
  index_t block_size = 128;    ///< columns per lazy update (rounded up to a multiple of the group)
  bool act_order = false;      ///< process columns by descending H_jj
  bool static_groups = false;  ///< all group ranges from the weights before any update
  bool search_range = false;   ///< ranges by the weight search (with `search`) instead of min/max
  weight_search search{};
  bool half_scales = false;    ///< round scales to fp16 before choosing codes
};

namespace detail {

// (scale, zero point) for each row of rows x n floats `v` (leading dimension ld), from min/max
// or the weight search, as quantizer q's formulas give them.
template <class Quantizer>
void gptq_row_qparams(const Quantizer& q, const float* v, index_t rows, index_t n, index_t ld,
                      const gptq_options& o, float* scale, std::int32_t* zp) {
  using F = typename Quantizer::format;
  range r(rows);
  if (o.search_range) {
    quantizer<F, typename Quantizer::scheme, per_channel, typename Quantizer::rounding> qc(per_channel(0));
    tensor_observer<per_channel> obs(qc.granularity());
    std::vector<float> dense(static_cast<std::size_t>(rows * n));
    for (index_t i = 0; i < rows; ++i) std::copy(v + i * ld, v + i * ld + n, dense.data() + i * n);
    obs.set_context(context{}.with_threads(1));
    obs.observe(dense.data(), {rows, n});
    r = o.search.choose(qc, obs);
  } else {
    for (index_t i = 0; i < rows; ++i) {
      const auto [mn, mx] = std::minmax_element(v + i * ld, v + i * ld + n);
      r.min[static_cast<std::size_t>(i)] = *mn;
      r.max[static_cast<std::size_t>(i)] = *mx;
    }
  }
  for (index_t i = 0; i < rows; ++i) {
    auto [s, z] = q.qparams_for(r.min[static_cast<std::size_t>(i)], r.max[static_cast<std::size_t>(i)]);
    if (o.half_scales) s = half_scales(qparams({s}, {z})).scale[0];
    scale[i] = s;
    zp[i] = z;
  }
}

}  // namespace detail

/// Quantizes W [out, in_features] (row-major, leading dimension ld) by GPTQ with the inputs `h`
/// observed. The result has q's granularity and format; its codes are in W's column order.
template <class Quantizer>
quantized_tensor<typename Quantizer::format> gptq(const Quantizer& q, const float* w, index_t out, index_t in,
                                                  index_t ld, const hessian_observer& h, const gptq_options& o = {}) {
  using F = typename Quantizer::format;
  using Scheme = typename Quantizer::scheme;
  const index_t K = in, N = out;
  if (K != h.in_features()) detail::fail("gptq: weights have ", K, " inputs, the hessian_observer ", h.in_features());
  if (N < 0 || ld < K) detail::fail("gptq: bad shape ", N, " x ", K, " with leading dimension ", ld);
  if (h.samples() == 0) detail::fail("gptq: the hessian_observer saw no inputs; observe calibration batches first");
  if (!(o.percdamp >= 0 && std::isfinite(o.percdamp))) detail::fail("gptq: percdamp ", o.percdamp, " is not a non-negative number");
  if (o.block_size <= 0) detail::fail("gptq: block_size must be positive, got ", o.block_size);
  const granularity_desc g = q.granularity();
  index_t G = K;  // group size along the inputs; K for per_channel (and per_tensor's one range)
  bool dynamic = false;
  switch (g.kind) {
    case granularity_kind::tensor: break;
    case granularity_kind::channel:
      if (detail::normalize_axis(g.axis, 2, "gptq") != 0)
        detail::fail("gptq: per_channel must be along the output rows (axis 0); GPTQ quantizes input columns in turn");
      break;
    case granularity_kind::group:
      if (detail::normalize_axis(g.axis, 2, "gptq") != 1)
        detail::fail("gptq: per_group must be along the inputs (axis 1), e.g. per_group(1, 128)");
      G = std::min(g.group_size, K);
      dynamic = !o.static_groups;
      break;
  }
  if (dynamic && o.act_order) {
    detail::fail("gptq: act_order with dynamic groups would scatter each group over the input order, which a per_group "
                 "tensor cannot store; set static_groups = true (ranges from the weights before any update)");
  }
  const std::vector<index_t> shape{N, K};
  const index_t ngroups = g.kind == granularity_kind::group ? (K + G - 1) / G : 1;
  const index_t slots = g.kind == granularity_kind::tensor ? 1 : N * (g.kind == granularity_kind::group ? ngroups : 1);
  qparams params;
  params.scale.assign(static_cast<std::size_t>(slots), 1.0f);
  params.zero_point.assign(static_cast<std::size_t>(slots), 0);
  std::vector<std::uint8_t> codes(static_cast<std::size_t>(packed_bytes<F>(N * K)), 0);
  if (N == 0) return quantized_tensor<F>(shape, g, Scheme::is_affine, params, std::move(codes));
  for (index_t r = 0; r < N; ++r)
    for (index_t k = 0; k < K; ++k)
      if (!std::isfinite(w[r * ld + k])) detail::fail("gptq: weight[", r, ", ", k, "] = ", w[r * ld + k], " is not finite");

  // Step 1: dead inputs.
  Eigen::MatrixXd H = h.hessian();
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic> W(N, K);  // column-major: columns are updated
  for (index_t r = 0; r < N; ++r)
    for (index_t k = 0; k < K; ++k) W(r, k) = w[r * ld + k];
  for (index_t j = 0; j < K; ++j) {
    if (H(j, j) == 0.0) {
      H(j, j) = 1.0;
      W.col(j).setZero();
    }
  }
  // Step 2: static ranges from the weights after step 1.
  const auto slot_of = [&](index_t row, index_t col) -> index_t {
    if (g.kind == granularity_kind::tensor) return 0;
    return g.kind == granularity_kind::group ? row * ngroups + col / G : row;
  };
  if (!dynamic) {
    Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> wf = W.cast<float>();
    if (g.kind == granularity_kind::tensor) {
      detail::gptq_row_qparams(q, wf.data(), 1, N * K, N * K, o, params.scale.data(), params.zero_point.data());
    } else {
      std::vector<float> s(static_cast<std::size_t>(N));
      std::vector<std::int32_t> z(static_cast<std::size_t>(N));
      for (index_t gi = 0; gi < ngroups; ++gi) {
        const index_t c0 = gi * G, n = std::min(G, K - c0);
        detail::gptq_row_qparams(q, wf.data() + c0, N, n, K, o, s.data(), z.data());
        for (index_t r = 0; r < N; ++r) {
          params.scale[static_cast<std::size_t>(slot_of(r, c0))] = s[static_cast<std::size_t>(r)];
          params.zero_point[static_cast<std::size_t>(slot_of(r, c0))] = z[static_cast<std::size_t>(r)];
        }
      }
    }
  }
  // Step 3: processing order.
  std::vector<index_t> perm(static_cast<std::size_t>(K));
  std::iota(perm.begin(), perm.end(), index_t{0});
  if (o.act_order) {
    std::stable_sort(perm.begin(), perm.end(), [&](index_t a, index_t b) { return H(a, a) > H(b, b); });
    Eigen::MatrixXd Hp(K, K);
    Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic> Wp(N, K);
    for (index_t i = 0; i < K; ++i) {
      Wp.col(i) = W.col(perm[static_cast<std::size_t>(i)]);
      for (index_t j = 0; j < K; ++j) Hp(i, j) = H(perm[static_cast<std::size_t>(i)], perm[static_cast<std::size_t>(j)]);
    }
    H.swap(Hp);
    W.swap(Wp);
  }
  // Steps 4 and 5: dampening, U = upper Cholesky factor of H^-1. With P the reversal of the
  // columns, P H P = L L^T gives H^-1 = (P L^-T P)(P L^-1 P), and P L^-1 P is upper triangular
  // with a positive diagonal: U. One Cholesky and one triangular inverse (K^3 / 6 multiply-adds
  // each, the inverse by column blocks that skip its zero upper part) instead of inverting H and
  // factoring the inverse (K^3 / 6 + K^3 + K^3 / 6).
  H.diagonal().array() += o.percdamp * H.diagonal().mean();
  Eigen::LLT<Eigen::MatrixXd> llt(H.reverse());
  if (llt.info() != Eigen::Success) {
    detail::fail("gptq: the Hessian is not positive definite after dampening by percdamp = ", o.percdamp,
                 " (inputs that are linear combinations of each other); raise percdamp, e.g. to 0.1");
  }
  Eigen::MatrixXd Linv = Eigen::MatrixXd::Zero(K, K);
  {
    const Eigen::MatrixXd L = llt.matrixL();
    constexpr index_t bs = 128;
    for (index_t j = 0; j < K; j += bs) {
      const index_t w = std::min(bs, K - j);
      auto block = Linv.block(j, j, K - j, w);
      block.topRows(w).setIdentity();
      L.bottomRightCorner(K - j, K - j).template triangularView<Eigen::Lower>().solveInPlace(block);
    }
  }
  const Eigen::MatrixXd U = Linv.reverse();

  // Step 6: columns in blocks (a multiple of the group size), lazy updates between blocks.
  const index_t B = g.kind == granularity_kind::group ? std::max<index_t>(1, (o.block_size + G - 1) / G) * G : o.block_size;
  std::vector<float> col(static_cast<std::size_t>(N)), group_values;
  std::vector<float> rs(static_cast<std::size_t>(N));
  std::vector<std::int32_t> rz(static_cast<std::size_t>(N));
  Eigen::MatrixXd err(N, B);
  std::vector<std::int32_t> code_of(static_cast<std::size_t>(N * K));  // packed in order at the end
  for (index_t i1 = 0; i1 < K; i1 += B) {
    const index_t i2 = std::min(i1 + B, K), count = i2 - i1;
    for (index_t i = i1; i < i2; ++i) {
      const index_t orig = perm[static_cast<std::size_t>(i)];
      if (dynamic && i % G == 0) {
        const index_t n = std::min(G, K - i);
        group_values.resize(static_cast<std::size_t>(N * n));
        for (index_t r = 0; r < N; ++r)
          for (index_t c = 0; c < n; ++c) group_values[static_cast<std::size_t>(r * n + c)] = static_cast<float>(W(r, i + c));
        detail::gptq_row_qparams(q, group_values.data(), N, n, n, o, rs.data(), rz.data());
        for (index_t r = 0; r < N; ++r) {
          params.scale[static_cast<std::size_t>(slot_of(r, i))] = rs[static_cast<std::size_t>(r)];
          params.zero_point[static_cast<std::size_t>(slot_of(r, i))] = rz[static_cast<std::size_t>(r)];
        }
      }
      const double d = U(i, i);
      for (index_t r = 0; r < N; ++r) {
        const auto slot = static_cast<std::size_t>(slot_of(r, orig));
        const float scale = params.scale[slot];
        const std::int32_t zp = params.zero_point[slot];
        const std::int32_t c = q.code(static_cast<float>(W(r, i)), scale, zp);
        code_of[static_cast<std::size_t>(r * K + orig)] = c;
        const double qv = static_cast<double>(static_cast<float>(c - zp) * scale);
        err(r, i - i1) = (W(r, i) - qv) / d;
        W(r, i) = qv;
      }
      // Within the block: every later column of the block at once.
      if (i + 1 < i2) W.middleCols(i + 1, i2 - i - 1).noalias() -= err.col(i - i1) * U.row(i).segment(i + 1, i2 - i - 1);
    }
    if (i2 < K) W.rightCols(K - i2).noalias() -= err.leftCols(count) * U.block(i1, i2, count, K - i2);
  }
  for (index_t i = 0; i < N * K; ++i) kernels::scalar::store_code<F>(codes.data(), i, code_of[static_cast<std::size_t>(i)]);
  return quantized_tensor<F>(shape, g, Scheme::is_affine, std::move(params), std::move(codes));
}

/// GPTQ on an Eigen weight matrix [out, in_features].
template <class Quantizer, class Derived>
quantized_tensor<typename Quantizer::format> gptq(const Quantizer& q, const Eigen::DenseBase<Derived>& w,
                                                  const hessian_observer& h, const gptq_options& o = {}) {
  const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> m = w.template cast<float>();
  return gptq(q, m.data(), m.rows(), m.cols(), m.cols(), h, o);
}

LOWBIT_NAMESPACE_END
