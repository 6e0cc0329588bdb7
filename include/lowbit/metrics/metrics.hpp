// lowbit/metrics/metrics.hpp: how far a quantized-dequantized tensor is from the float original.
//
// All sums are accumulated in double. For x (reference) and y (approximation) of n elements:
//   mse        sum((x - y)^2) / n                      (0 for empty tensors)
//   max_abs    max |x - y| (NaN if any difference is NaN: a NaN is never hidden)
//   sqnr_db    10 log10(sum(x^2) / sum((x - y)^2))      (+Inf when y == x, -Inf when x == 0 != y)
//   cosine     <x, y> / (|x| |y|)                      (1 when both are zero, 0 when one is)
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <limits>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"

LOWBIT_NAMESPACE_BEGIN

/// The four error measures of one comparison.
struct error_stats {
  double mse = 0;
  double max_abs = 0;
  double sqnr_db = 0;
  double cosine = 1;
};

/// Compares y against the reference x, both n floats.
inline error_stats compare(const float* x, const float* y, index_t n) {
  double sx = 0, sy = 0, sxy = 0, se = 0, me = 0;
  for (index_t i = 0; i < n; ++i) {
    const double a = x[i], b = y[i], d = a - b;
    sx += a * a;
    sy += b * b;
    sxy += a * b;
    se += d * d;
    me = (std::isnan(d) || std::fabs(d) > me) ? std::fabs(d) : me;  // NaN, once seen, stays
  }
  error_stats s;
  s.mse = n > 0 ? se / static_cast<double>(n) : 0.0;
  s.max_abs = me;
  constexpr double inf = std::numeric_limits<double>::infinity();
  s.sqnr_db = se == 0 ? inf : (sx == 0 ? -inf : 10.0 * std::log10(sx / se));
  if (sx == 0 && sy == 0) {
    s.cosine = 1.0;
  } else if (sx == 0 || sy == 0) {
    s.cosine = 0.0;
  } else {
    s.cosine = sxy / (std::sqrt(sx) * std::sqrt(sy));
  }
  return s;
}

/// Compares two Eigen objects of the same shape (any storage order; compared element by element).
template <class A, class B>
error_stats compare(const Eigen::DenseBase<A>& x, const Eigen::DenseBase<B>& y) {
  if (x.rows() != y.rows() || x.cols() != y.cols()) {
    detail::fail("compare: shapes differ: ", x.rows(), "x", x.cols(), " vs ", y.rows(), "x", y.cols());
  }
  const Eigen::MatrixXf a = x.derived().template cast<float>();
  const Eigen::MatrixXf b = y.derived().template cast<float>();
  return compare(a.data(), b.data(), a.size());
}

template <class A, class B>
double mse(const Eigen::DenseBase<A>& x, const Eigen::DenseBase<B>& y) { return compare(x, y).mse; }
template <class A, class B>
double max_abs_error(const Eigen::DenseBase<A>& x, const Eigen::DenseBase<B>& y) { return compare(x, y).max_abs; }
template <class A, class B>
double sqnr_db(const Eigen::DenseBase<A>& x, const Eigen::DenseBase<B>& y) { return compare(x, y).sqnr_db; }
template <class A, class B>
double cosine_similarity(const Eigen::DenseBase<A>& x, const Eigen::DenseBase<B>& y) { return compare(x, y).cosine; }

LOWBIT_NAMESPACE_END
