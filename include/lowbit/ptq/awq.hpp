// lowbit/ptq/awq.hpp: AWQ (Lin et al., 2023): activation-aware scaling of a Linear layer's input channels before its weights are quantized.
//
// The weights that meet large activations matter most. AWQ scales input channel j of the weights
// by s_j (and divides the inputs by s_j, folded into the preceding operation), so that salient
// columns get relatively finer quantization steps:
//
//   s_j(alpha) = max(mean|X_j|^alpha, 1e-4),  normalized by sqrt(max_j s_j * min_j s_j)
//   error(alpha) = output_error(h, W, Q(W diag(s)) diag(1 / s))     (ptq/hessian_observer.hpp)
//
// alpha runs over the grid i / grid, i = 0 .. grid - 1 (grid 20, as the reference implementation
// does); the first alpha with the least error wins. alpha = 0 gives s = 1, plain round to nearest,
// so AWQ's error is never above it. Q is the quantizer's round to nearest with min/max ranges, or
// with the weight search's (search_range).
//
//   lowbit::hessian_observer h(in);  h.observe(X_calibration);
//   lowbit::quantizer<lowbit::int4, lowbit::affine, lowbit::per_group> q(lowbit::per_group(1, 128));
//   auto r = lowbit::awq(q, W, h);
//   r.weights;            // quantized W diag(s): what the layer stores
//   r.scales;             // s: divide the layer's inputs by it (fold into the previous operation)
//   r.effective();        // Q(W s) / s, the weights the pair computes with (for evaluation)
//
// Cost: per alpha, one quantization of W and one out x in x in product with the Hessian (float).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "lowbit/calibrators/weight_search.hpp"
#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/ptq/hessian_observer.hpp"
#include "lowbit/ptq/smoothquant.hpp"
#include "lowbit/tensor/quantized_tensor.hpp"
#include "lowbit/tensor/quantizer.hpp"

LOWBIT_NAMESPACE_BEGIN

struct awq_options {
  index_t grid = 20;           ///< alphas i / grid, i = 0 .. grid - 1
  bool search_range = false;   ///< ranges by the weight search instead of min/max
  weight_search search{};
};

template <class F>
struct awq_result {
  quantized_tensor<F> weights;   ///< Q(W diag(s))
  Eigen::VectorXf scales;        ///< s per input channel
  float alpha = 0;               ///< the alpha chosen
  double error = 0;              ///< output_error at that alpha
  std::vector<double> errors;    ///< output_error per alpha of the grid
  /// Q(W diag(s)) diag(1 / s): the weights the layer computes with once its inputs are divided by s.
  row_matrix effective() const { return smooth_inputs(weights.dequantize(), scales); }
};

/// AWQ for W [out, in_features] with the layer's inputs observed in h.
template <class Quantizer, class Derived>
awq_result<typename Quantizer::format> awq(const Quantizer& q, const Eigen::DenseBase<Derived>& w, const hessian_observer& h,
                                           const awq_options& o = {}) {
  using F = typename Quantizer::format;
  if (o.grid < 1) detail::fail("awq: grid must be positive, got ", o.grid);
  if (w.cols() != h.in_features()) detail::fail("awq: weights have ", w.cols(), " inputs, the hessian_observer ", h.in_features());
  if (h.samples() == 0) detail::fail("awq: the hessian_observer saw no inputs; observe calibration batches first");
  const row_matrix wf = w.template cast<float>();
  if (!wf.allFinite()) detail::fail("awq: the weights hold NaN or Inf");
  const Eigen::VectorXf mean = h.abs_mean();
  const Eigen::MatrixXf H = h.hessian().cast<float>();
  const auto quantize = [&](const row_matrix& m) {
    return o.search_range ? q.quantize(m, calibrate(q, m, o.search)) : q.quantize(m);
  };
  awq_result<F> best;
  best.error = std::numeric_limits<double>::infinity();
  for (index_t i = 0; i < o.grid; ++i) {
    const float alpha = static_cast<float>(i) / static_cast<float>(o.grid);
    Eigen::VectorXf s(mean.size());
    for (index_t j = 0; j < s.size(); ++j) s(j) = std::max(std::pow(mean(j), alpha), 1e-4f);
    s /= std::sqrt(s.maxCoeff() * s.minCoeff());
    quantized_tensor<F> t = quantize(smooth_weights(wf, s));
    const Eigen::MatrixXf d = wf - smooth_inputs(t.dequantize(), s);
    const double err = 0.5 * static_cast<double>((d * H).cwiseProduct(d).sum());
    best.errors.push_back(err);
    if (err < best.error) {
      best.error = err;
      best.alpha = alpha;
      best.scales = s;
      best.weights = std::move(t);
    }
  }
  if (!std::isfinite(best.error))
    detail::fail("awq: no alpha gave a finite output error (weights or inputs too large for float)");
  return best;
}

LOWBIT_NAMESPACE_END
