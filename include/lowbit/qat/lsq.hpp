// lowbit/qat/lsq.hpp: fake quantization with a learnable scale and zero point (LSQ; PyTorch's _LearnableFakeQuantize).
//
// The scale (and, for affine schemes, the zero point) are trainable parameters, one per tensor or
// per channel. Following torch._fake_quantize_learnable_per_{tensor,channel}_affine (1.13):
//
//   forward   zero point z = clamp(round(zero_point)), then fake quantization with (scale, z)
//   backward  per element, with q = nearbyint(z' + x / s) (z' the backward zero point: per tensor
//             trunc(clamp(zero_point + 0.5)), per channel clamp(round(zero_point))):
//               dx          = dy                                if qmin <= q <= qmax, else 0
//               dscale     += dy * (x_fq - x) / s * g           inside (x_fq the fake-quantized x:
//                                                               (q - z') - x / s, the LSQ gradient)
//                           += dy * (qmin - z') * g or (qmax - z') * g   below / above
//               dzero_point += 0 inside, -dy * s * g outside
//             g = 1 / sqrt(numel * qmax) with gradient scaling (LSQ's), 1 without.
// Symmetric schemes keep the zero point at 0 (not learned), as PyTorch zeroes it.
//
// Parameters and their gradients are public vectors so any optimizer can update them; gradients
// accumulate over backward calls until zero_grad().
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/granularity.hpp"
#include "lowbit/core/qparams.hpp"
#include "lowbit/core/scheme.hpp"
#include "lowbit/detail/float_ops.hpp"
#include "lowbit/tensor/quantized_tensor.hpp"
#include "lowbit/tensor/runs.hpp"
#include "lowbit/qat/fake_quant.hpp"

LOWBIT_NAMESPACE_BEGIN

template <class Format, class Scheme = symmetric, class Granularity = per_tensor>
class learnable_fake_quantize {
  static_assert(is_format_v<Format> && is_scheme_v<Scheme>, "learnable_fake_quantize<Format, Scheme, Granularity>");
  static_assert(std::is_same_v<Granularity, per_tensor> || std::is_same_v<Granularity, per_channel>,
                "learnable_fake_quantize is per_tensor or per_channel(axis)");

 public:
  std::vector<float> scale;            ///< learnable, one per slot
  std::vector<float> zero_point;       ///< learnable for affine schemes (float, rounded when used)
  std::vector<float> grad_scale;       ///< accumulated by backward()
  std::vector<float> grad_zero_point;  ///< accumulated by backward() (stays 0 for symmetric)

  explicit learnable_fake_quantize(Granularity g = {}, bool grad_scaling = true)
      : granularity_(g), grad_scaling_(grad_scaling) {}

  /// Initializes the parameters from qparams (e.g. a quantizer's qparams for the weights' range,
  /// as PyTorch initializes them from its observer).
  void init(const qparams& p) {
    scale = p.scale;
    zero_point.assign(p.zero_point.begin(), p.zero_point.end());
    if (!Scheme::is_affine) std::fill(zero_point.begin(), zero_point.end(), 0.0f);
    zero_grad();
  }

  void zero_grad() {
    grad_scale.assign(scale.size(), 0.0f);
    grad_zero_point.assign(scale.size(), 0.0f);
  }

  template <class Derived>
  row_matrix forward(const Eigen::DenseBase<Derived>& x) {
    check_parameters();
    row_matrix input = x.derived().template cast<float>();
    fake_quant_output out = fake_quantize_forward(input, params(), granularity_desc(granularity_), Format::qmin, Format::qmax);
    last_x_ = std::move(input);  // only once the forward pass succeeded
    return std::move(out.y);
  }

  /// dx for the last forward's input; adds the scale and zero-point gradients.
  template <class Derived>
  row_matrix backward(const Eigen::DenseBase<Derived>& dy) {
    if (dy.rows() != last_x_.rows() || dy.cols() != last_x_.cols())
      detail::fail("learnable_fake_quantize: gradient of shape ", dy.rows(), "x", dy.cols(),
                   " does not match the last input ", last_x_.rows(), "x", last_x_.cols());
    const row_matrix g = dy.derived().template cast<float>();
    row_matrix dx(g.rows(), g.cols());
    const float factor = grad_scaling_ ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(last_x_.size()) * Format::qmax))
                                       : 1.0f;
    const detail::float_input in = detail::make_input(last_x_, detail::axis_of(granularity_));
    granularity_desc gd(granularity_);
    gd.axis = in.axis;
    const auto qmin = static_cast<float>(Format::qmin), qmax = static_cast<float>(Format::qmax);
    std::vector<double> ds(scale.size(), 0.0), dz(scale.size(), 0.0);
    detail::for_each_element(in, gd, [&](float x, index_t i, index_t s) {
      const float sc = scale[static_cast<std::size_t>(s)];
      const float z = backward_zero_point(zero_point[static_cast<std::size_t>(s)]);
      const float inv = 1.0f / sc;
      const float dyi = g.data()[i];
      const float q = std::nearbyint(z + detail::mul(x, inv));
      const bool inside = q >= qmin && q <= qmax;
      dx.data()[i] = dyi * (inside ? 1.0f : 0.0f);  // a product, as PyTorch's: -0 and NaN come through
      if (inside) {
        const float x_fq = detail::mul(q - z, sc);
        ds[static_cast<std::size_t>(s)] += dyi * (x_fq - x) * inv * factor;
      } else {
        ds[static_cast<std::size_t>(s)] += dyi * ((q < qmin ? qmin : qmax) - z) * factor;
        dz[static_cast<std::size_t>(s)] += dyi * -1.0f * sc * factor;
      }
    });
    for (std::size_t s = 0; s < scale.size(); ++s) {
      grad_scale[s] += static_cast<float>(ds[s]);
      if (Scheme::is_affine) grad_zero_point[s] += static_cast<float>(dz[s]);
    }
    return dx;
  }

  /// The qparams the forward pass uses now (zero points rounded and clamped).
  qparams params() const {
    qparams p;
    p.scale = scale;
    for (float z : zero_point) p.zero_point.push_back(forward_zero_point(z));
    return p;
  }

 private:
  static std::int32_t forward_zero_point(float z) noexcept {
    if (!Scheme::is_affine) return 0;
    const float r = std::min(std::max(std::nearbyint(z), static_cast<float>(Format::qmin)), static_cast<float>(Format::qmax));
    return static_cast<std::int32_t>(r);
  }
  static float backward_zero_point(float z) noexcept {
    if (!Scheme::is_affine) return 0.0f;
    if constexpr (std::is_same_v<Granularity, per_tensor>) {
      const float r = std::min(std::max(z + 0.5f, static_cast<float>(Format::qmin)), static_cast<float>(Format::qmax));
      return static_cast<float>(static_cast<std::int64_t>(r));
    } else {
      return std::min(std::max(std::nearbyint(z), static_cast<float>(Format::qmin)), static_cast<float>(Format::qmax));
    }
  }

  void check_parameters() {
    if (scale.empty()) detail::fail("learnable_fake_quantize: parameters not initialized (call init)");
    if (zero_point.size() != scale.size()) zero_point.assign(scale.size(), 0.0f);
    if (grad_scale.size() != scale.size()) zero_grad();
    for (float& s : scale) {  // PyTorch clamps the scale to eps when it is learned
      if (std::isnan(s)) detail::fail("learnable_fake_quantize: the scale became NaN");
      s = std::max(s, scale_eps);
    }
    for (std::size_t i = 0; i < zero_point.size(); ++i) {  // a diverged step must not reach an integer cast
      if (!std::isfinite(zero_point[i]))
        detail::fail("learnable_fake_quantize: zero_point[", i, "] = ", zero_point[i],
                     " is not finite (a diverged training step?); re-initialize it with init()");
    }
  }

  Granularity granularity_{};
  bool grad_scaling_ = true;
  row_matrix last_x_;
};

LOWBIT_NAMESPACE_END
