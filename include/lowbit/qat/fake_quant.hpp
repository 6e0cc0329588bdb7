// lowbit/qat/fake_quant.hpp: fake quantization with straight-through gradients, PyTorch's semantics.
//
// Forward (torch.fake_quantize_per_tensor_affine / _per_channel_affine, bit for bit):
//   q = zp + nearbyint(x * (1/s));   y = (clamp(q, qmin, qmax) - zp) * s
// Backward, the straight-through estimator: dx = dy * mask, mask = 1 where qmin <= q <= qmax (q
// before clamping) and 0 elsewhere (a product, as PyTorch's: -0 and NaN come through as they do there).
//
// Functions work on a matrix and a mask; fake_quantize<Quantizer, Observer> is the module PyTorch
// calls FakeQuantize: in training it shows each input to its observer, takes qparams from the
// observed range (the quantizer's formulas), and fake-quantizes; freeze_observer() stops the range
// from moving, disable_fake_quant() passes values through.
//
//   lowbit::fake_quantize<lowbit::quantizer<lowbit::int4, lowbit::symmetric, lowbit::per_channel>,
//                         lowbit::minmax_observer<lowbit::per_channel>>
//       wq({lowbit::per_channel(0)}, lowbit::minmax_observer<lowbit::per_channel>(lowbit::per_channel(0)));
//   lowbit::row_matrix w_q = wq.forward(W);          // use w_q in the forward pass
//   lowbit::row_matrix dW = wq.backward(dW_q);       // straight-through gradient for W
#pragma once

#include <Eigen/Core>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "lowbit/calibrators/calibrator.hpp"
#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/granularity.hpp"
#include "lowbit/core/qparams.hpp"
#include "lowbit/observers/minmax.hpp"
#include "lowbit/tensor/engine.hpp"
#include "lowbit/tensor/quantized_tensor.hpp"
#include "lowbit/tensor/runs.hpp"

LOWBIT_NAMESPACE_BEGIN

namespace detail {

/// q = zp + nearbyint(x * inv) as an integer (saturated far outside any format's range).
inline std::int64_t fake_quant_code(float x, float inv, std::int32_t zp) noexcept {
  const float r = std::nearbyint(x * inv);
  if (!(std::fabs(r) < 1e9f)) return r > 0 ? std::int64_t{1} << 40 : -(std::int64_t{1} << 40);
  return static_cast<std::int64_t>(r) + zp;
}

/// Calls fn(flat index, slot) for every element of a 2-D or N-d input in C order.
template <class Fn>
void for_each_element(const float_input& in, const granularity_desc& g, Fn&& fn) {
  std::vector<float> buffer;
  for_each_run(in.view, g, [&](const run& r) {
    const float* src = run_source(in.view, r, buffer);
    for (index_t k = 0; k < r.n; ++k) fn(src[k], r.out_offset + k, r.slot + (r.slot_varies ? k : 0));
  });
}

}  // namespace detail

/// The result of a fake-quantized forward pass: values (C order, input shape) and the STE mask.
struct fake_quant_output {
  row_matrix y;
  std::vector<std::uint8_t> mask;  ///< 1 where the gradient passes
};

/// Fake-quantizes x (any Eigen dense object, rows x cols) with qparams `p` of granularity `g`
/// (per tensor, or per channel along axis 0 / 1) and the range [qmin, qmax].
template <class Derived>
fake_quant_output fake_quantize_forward(const Eigen::DenseBase<Derived>& x, const qparams& p,
                                        granularity_desc g, std::int32_t qmin, std::int32_t qmax) {
  if (g.kind == granularity_kind::group) detail::fail("fake_quantize: per-group granularity is not supported");
  const detail::float_input in = detail::make_input(x, g.kind == granularity_kind::channel ? g.axis : 0);
  if (g.kind == granularity_kind::channel) g.axis = in.axis;
  if (qmin >= qmax) detail::fail("fake_quantize: empty range [", qmin, ", ", qmax, "]");
  const index_t slots = detail::slot_count(in.view, g);
  if (p.size() != slots || static_cast<index_t>(p.zero_point.size()) != slots)
    detail::fail("fake_quantize: expected ", slots, " scales and zero points, got ", p.size());
  std::vector<float> inv(p.scale.size());
  for (std::size_t s = 0; s < inv.size(); ++s) {
    detail::check_scale(p.scale[s], "fake_quantize", static_cast<index_t>(s));
    if (p.zero_point[s] < qmin || p.zero_point[s] > qmax)  // PyTorch rejects these too
      detail::fail("fake_quantize: zero_point[", s, "] = ", p.zero_point[s], " is outside [", qmin, ", ", qmax, "]");
    inv[s] = 1.0f / p.scale[s];
  }
  fake_quant_output out;
  out.y.resize(x.rows(), x.cols());
  out.mask.assign(static_cast<std::size_t>(x.size()), 0);
  float* y = out.y.data();
  detail::for_each_element(in, g, [&](float v, index_t i, index_t s) {
    if (std::isnan(v))
      detail::fail("fake_quantize: element ", i, " (index ", detail::multi_index(in.shape, i), ") is NaN");
    const std::int32_t zp = p.zero_point[static_cast<std::size_t>(s)];
    const std::int64_t q = detail::fake_quant_code(v, inv[static_cast<std::size_t>(s)], zp);
    out.mask[static_cast<std::size_t>(i)] = q >= qmin && q <= qmax;
    const std::int64_t c = q < qmin ? qmin : (q > qmax ? qmax : q);
    y[i] = static_cast<float>(c - zp) * p.scale[static_cast<std::size_t>(s)];
  });
  return out;
}

/// Straight-through backward: dy * mask (C order, dy's shape), as PyTorch computes it: a masked
/// element gets dy * 0, which is -0 for a negative gradient and NaN for a NaN or infinite one.
template <class Derived>
row_matrix fake_quantize_backward(const Eigen::DenseBase<Derived>& dy, const std::vector<std::uint8_t>& mask) {
  if (static_cast<std::size_t>(dy.size()) != mask.size())
    detail::fail("fake_quantize_backward: gradient has ", dy.size(), " elements, the mask ", mask.size());
  row_matrix dx = dy.derived().template cast<float>();
  for (index_t i = 0; i < dx.size(); ++i) dx.data()[i] *= static_cast<float>(mask[static_cast<std::size_t>(i)]);
  return dx;
}

/// PyTorch's FakeQuantize module: observe, choose qparams, fake-quantize; straight-through backward.
template <class Quantizer, class Observer = minmax_observer<typename Quantizer::granularity_type>>
class fake_quantize {
 public:
  using format = typename Quantizer::format;

  fake_quantize() = default;
  explicit fake_quantize(Quantizer q, Observer o = Observer{}) : quantizer_(std::move(q)), observer_(std::move(o)) {}

  /// Observes x (unless frozen), updates the qparams, and returns x fake-quantized (or x itself
  /// when fake quantization is disabled).
  template <class Derived>
  row_matrix forward(const Eigen::DenseBase<Derived>& x) {
    if (observing_) {
      observer_.observe(x);
      params_ = calibrate(quantizer_, observer_, minmax_calibrator{});
    }
    if (!enabled_) {
      last_mask_.assign(static_cast<std::size_t>(x.size()), 1);
      return x.derived().template cast<float>();
    }
    if (params_.size() == 0) detail::fail("fake_quantize: no qparams yet (the observer is frozen and saw no data)");
    fake_quant_output out = fake_quantize_forward(x, params_, granularity_desc(quantizer_.granularity()),
                                                  format::qmin, format::qmax);
    last_mask_ = std::move(out.mask);
    return std::move(out.y);
  }

  /// Straight-through gradient of the last forward.
  template <class Derived>
  row_matrix backward(const Eigen::DenseBase<Derived>& dy) const {
    return fake_quantize_backward(dy, last_mask_);
  }

  void freeze_observer() noexcept { observing_ = false; }
  void enable_observer(bool on = true) noexcept { observing_ = on; }
  void disable_fake_quant() noexcept { enabled_ = false; }
  void enable_fake_quant(bool on = true) noexcept { enabled_ = on; }
  bool observing() const noexcept { return observing_; }

  const qparams& params() const noexcept { return params_; }
  /// Sets qparams directly (e.g. from a calibration run); validated against the format.
  void set_params(qparams p) {
    detail::check_qparams<format, typename Quantizer::scheme>(p, p.size(), "fake_quantize");
    params_ = std::move(p);
  }
  const Observer& observer() const noexcept { return observer_; }
  const Quantizer& quantizer() const noexcept { return quantizer_; }

 private:
  Quantizer quantizer_{};
  Observer observer_{};
  qparams params_;
  std::vector<std::uint8_t> last_mask_;
  bool observing_ = true;
  bool enabled_ = true;
};

LOWBIT_NAMESPACE_END
