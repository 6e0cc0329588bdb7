// lowbit/ptq/hessian_observer.hpp: what the weight algorithms (GPTQ, AWQ, SmoothQuant) need to know about a Linear layer's inputs.
//
//   lowbit::hessian_observer h(in_features);
//   for (const auto& batch : calibration) h.observe(batch);   // [rows, in_features] each
//   h.hessian();    // 2/n X^T X          (GPTQ)
//   h.abs_mean();   // mean |X_j|         (AWQ)
//   h.abs_max();    // max |X_j|          (SmoothQuant)
//   lowbit::output_error(h, W, Q);   // mean squared output error of weights Q in place of W
//
// Memory: in_features^2 doubles. Cost per batch: rows * in_features^2 (Eigen's float rank update).
// Not thread-safe for concurrent observe(); observers filled on different threads merge().
#pragma once

#include <Eigen/Core>
#include <cmath>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"

LOWBIT_NAMESPACE_BEGIN

/// The statistics of a Linear layer's inputs X ([rows, in_features] batches) that the weight
/// algorithms use: the Hessian of the output error with respect to the weights, H = 2/n X^T X
/// (GPTQ; each batch's X^T X formed in float by Eigen, accumulated in double), and per input
/// channel mean |X_j| (AWQ) and max |X_j| (SmoothQuant). Observers of the same layer (e.g. one
/// per thread) merge.
class hessian_observer {
 public:
  explicit hessian_observer(index_t in_features) : k_(in_features) {
    if (in_features <= 0) detail::fail("hessian_observer: in_features must be positive, got ", in_features);
    sum_ = Eigen::MatrixXd::Zero(k_, k_);
    abs_sum_ = Eigen::VectorXd::Zero(k_);
    abs_max_ = Eigen::VectorXf::Zero(k_);
  }

  /// Adds `rows` input rows of in_features floats each (row-major, consecutive). NaN or infinite
  /// inputs raise lowbit::error naming the element; the observer is unchanged then.
  void observe(const float* x, index_t rows) {
    if (rows < 0) detail::fail("hessian_observer: negative row count ", rows);
    if (rows == 0) return;
    if (x == nullptr) detail::fail("hessian_observer: null input");
    for (index_t i = 0; i < rows * k_; ++i) {
      if (!std::isfinite(x[i])) {
        detail::fail("hessian_observer: input[", i / k_, ", ", i % k_, "] = ", x[i],
                     " is not finite; calibration inputs must be finite");
      }
    }
    const Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> m(x, rows, k_);
    Eigen::MatrixXf g = Eigen::MatrixXf::Zero(k_, k_);
    g.selfadjointView<Eigen::Lower>().rankUpdate(m.transpose());
    if (!g.allFinite()) {
      detail::fail("hessian_observer: the batch's X^T X overflows float (inputs up to about 1.8e19 in magnitude are "
                   "representable); scale the calibration inputs down");
    }
    sum_.triangularView<Eigen::Lower>() += g.cast<double>();
    abs_sum_ += m.cwiseAbs().colwise().sum().transpose().cast<double>();
    abs_max_ = abs_max_.cwiseMax(m.cwiseAbs().colwise().maxCoeff().transpose());
    rows_ += rows;
  }
  /// Adds the rows of an Eigen matrix [rows, in_features].
  template <class Derived>
  void observe(const Eigen::DenseBase<Derived>& x) {
    if (x.cols() != k_) detail::fail("hessian_observer: inputs have ", x.cols(), " columns, the layer has ", k_, " inputs");
    const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> m = x.template cast<float>();
    observe(m.data(), m.rows());
  }

  void merge(const hessian_observer& other) {
    if (other.k_ != k_) detail::fail("hessian_observer::merge: ", other.k_, " inputs into an observer of ", k_);
    sum_.triangularView<Eigen::Lower>() += other.sum_;
    abs_sum_ += other.abs_sum_;
    abs_max_ = abs_max_.cwiseMax(other.abs_max_);
    rows_ += other.rows_;
  }

  index_t in_features() const noexcept { return k_; }
  /// Input rows observed (n).
  index_t samples() const noexcept { return rows_; }
  /// H = 2/n X^T X (in_features x in_features, symmetric). Zero before any sample.
  Eigen::MatrixXd hessian() const {
    Eigen::MatrixXd h = sum_.selfadjointView<Eigen::Lower>();
    if (rows_ > 0) h *= 2.0 / static_cast<double>(rows_);
    return h;
  }
  /// mean |X_j| per input channel (zeros before any sample).
  Eigen::VectorXf abs_mean() const {
    return rows_ > 0 ? (abs_sum_ / static_cast<double>(rows_)).cast<float>().eval() : Eigen::VectorXf::Zero(k_).eval();
  }
  /// max |X_j| per input channel (zeros before any sample).
  const Eigen::VectorXf& abs_max() const noexcept { return abs_max_; }

 private:
  index_t k_ = 0;
  index_t rows_ = 0;
  Eigen::MatrixXd sum_;  // X^T X, lower triangle
  Eigen::VectorXd abs_sum_;
  Eigen::VectorXf abs_max_;
};

/// Mean squared output error over the observed inputs, sum_rows ||X (W - Q)^T||^2 / n, computed
/// from the Hessian as tr((W - Q) H (W - Q)^T) / 2. W and Q: [out, in_features].
template <class DerivedW, class DerivedQ>
double output_error(const hessian_observer& h, const Eigen::DenseBase<DerivedW>& w, const Eigen::DenseBase<DerivedQ>& q) {
  if (w.cols() != h.in_features() || q.cols() != h.in_features() || q.rows() != w.rows()) {
    detail::fail("output_error: weights ", w.rows(), " x ", w.cols(), " and ", q.rows(), " x ", q.cols(),
                 " do not match each other and the observer's ", h.in_features(), " inputs");
  }
  const Eigen::MatrixXd d = w.template cast<double>() - q.template cast<double>();
  return 0.5 * (d * h.hessian()).cwiseProduct(d).sum();
}

LOWBIT_NAMESPACE_END
