// lowbit/ptq/smoothquant.hpp: SmoothQuant (Xiao et al., 2022): move activation outliers into the weights so that per-tensor int8 activations survive them.
//
// A few input channels of a transformer's Linear layers carry values 10-100x larger than the
// rest; one per-tensor activation scale then wastes almost every code on them. SmoothQuant divides
// each input channel j by s_j and multiplies the weights' column j by s_j, which leaves the layer's
// output unchanged in real arithmetic (X W^T = (X / s) (W s)^T) and balances the two ranges:
//
//   s_j = max(max|X_j|^alpha / max(max|W_j|, 1e-5)^(1 - alpha), 1e-5),   alpha = 0.5 by default
//
// (the reference implementation's clamps). max|X_j| comes from a hessian_observer of the layer's
// inputs; max|W_j| is over the weights of every layer that reads the same inputs (stack them).
// The division of X by s is folded into the preceding operation (a LayerNorm's weight and bias,
// or the previous Linear layer's rows); smooth_inputs() applies it explicitly.
//
//   lowbit::hessian_observer h(in);  h.observe(X_calibration);
//   Eigen::VectorXf s = lowbit::smoothquant_scales(h, W);          // alpha 0.5
//   row_matrix Ws = lowbit::smooth_weights(W, s);                  // quantize these
//   row_matrix Xs = lowbit::smooth_inputs(X, s);                   // or fold 1 / s upstream
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/ptq/hessian_observer.hpp"
#include "lowbit/tensor/quantized_tensor.hpp"

LOWBIT_NAMESPACE_BEGIN

/// s_j per input channel (see the file comment). W: [out, in_features], finite.
template <class Derived>
Eigen::VectorXf smoothquant_scales(const hessian_observer& h, const Eigen::DenseBase<Derived>& w, float alpha = 0.5f) {
  if (!(alpha >= 0.0f && alpha <= 1.0f)) detail::fail("smoothquant_scales: alpha ", alpha, " is not in [0, 1]");
  if (w.cols() != h.in_features())
    detail::fail("smoothquant_scales: weights have ", w.cols(), " inputs, the observer ", h.in_features());
  if (h.samples() == 0) detail::fail("smoothquant_scales: the observer saw no inputs; observe calibration batches first");
  const Eigen::MatrixXf wf = w.template cast<float>();
  if (!wf.allFinite()) detail::fail("smoothquant_scales: the weights hold NaN or Inf");
  Eigen::VectorXf s(h.in_features());
  for (index_t j = 0; j < h.in_features(); ++j) {
    const float wmax = wf.rows() > 0 ? std::max(wf.col(j).cwiseAbs().maxCoeff(), 1e-5f) : 1e-5f;
    const double v = std::pow(static_cast<double>(h.abs_max()(j)), alpha) / std::pow(static_cast<double>(wmax), 1.0 - alpha);
    s(j) = std::max(static_cast<float>(v), 1e-5f);
  }
  return s;
}

/// W diag(s): column j of W times s_j.
template <class Derived>
row_matrix smooth_weights(const Eigen::DenseBase<Derived>& w, const Eigen::VectorXf& s) {
  if (w.cols() != s.size()) detail::fail("smooth_weights: ", w.cols(), " weight columns, ", s.size(), " factors");
  row_matrix out = w.template cast<float>();
  for (index_t j = 0; j < out.cols(); ++j) out.col(j) *= s(j);
  return out;
}

/// X diag(1 / s): column j of X divided by s_j (what folding 1 / s into the previous operation does).
template <class Derived>
row_matrix smooth_inputs(const Eigen::DenseBase<Derived>& x, const Eigen::VectorXf& s) {
  if (x.cols() != s.size()) detail::fail("smooth_inputs: ", x.cols(), " input columns, ", s.size(), " factors");
  row_matrix out = x.template cast<float>();
  for (index_t j = 0; j < out.cols(); ++j) out.col(j) /= s(j);
  return out;
}

LOWBIT_NAMESPACE_END
