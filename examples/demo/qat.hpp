// examples/demo/qat.hpp: quantization-aware training of an MLP's weights with LSQ, per output channel.
#pragma once

#include <vector>

#include "demo/mlp.hpp"
#include "lowbit/lowbit.hpp"

namespace demo {

/// Fake-quantizes every layer's weights with a learnable per-channel scale (symmetric format F) in
/// the forward pass, passes the straight-through gradient back, and takes an SGD step on the
/// scales with the weights' learning rate. The scales start from the weight search's ranges
/// (GPTQ-style clipping).
template <class F>
struct lsq_weight_hook : weight_hook {
  using fake_quant = lowbit::learnable_fake_quantize<F, lowbit::symmetric, lowbit::per_channel>;
  std::vector<fake_quant> layers;

  explicit lsq_weight_hook(const mlp& net) {
    const lowbit::quantizer<F, lowbit::symmetric, lowbit::per_channel> q(lowbit::per_channel(0));
    for (const row_matrix& w : net.w) {
      fake_quant l(lowbit::per_channel(0), /*grad_scaling=*/true);
      l.init(lowbit::calibrate(q, w, lowbit::weight_search{}));
      layers.push_back(std::move(l));
    }
  }
  row_matrix forward(std::size_t layer, const row_matrix& w) override {
    layers[layer].zero_grad();
    return layers[layer].forward(w);
  }
  row_matrix backward(std::size_t layer, const row_matrix& grad) override { return layers[layer].backward(grad); }
  void step(float learning_rate) override {
    for (auto& l : layers)
      for (std::size_t c = 0; c < l.scale.size(); ++c) l.scale[c] -= learning_rate * l.grad_scale[c];
  }
};

}  // namespace demo
