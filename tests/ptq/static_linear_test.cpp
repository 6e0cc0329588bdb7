// ptq/static_linear.hpp: calibrated input through the reference and the layer, requantized chaining, bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "lowbit/lowbit.hpp"
#include "support/errors.hpp"
#include "support/random.hpp"

namespace {

using lowbit::index_t;
using lowbit::row_matrix;

TEST(static_linear, matches_the_reference_on_calibrated_input) {
  lowbit_test::rng g(55);
  const row_matrix w = g.normal_matrix(30, 50, 0.1f);
  std::vector<float> bias(30, 0.25f);
  const row_matrix x = g.uniform_matrix(6, 50, -1.f, 3.f);
  const float in_scale = 4.f / 255.f;
  const std::int32_t in_zp = 64;
  const lowbit::static_linear<> layer(w, bias, {in_scale, in_zp});
  const auto q = layer.quantize_input(x);
  EXPECT_EQ(q.params().scale[0], in_scale);
  // Reference: the unpacked weight codes, the same input codes, the output stage formulas.
  std::vector<std::int8_t> codes(30 * 50);
  std::vector<float> sw(30);
  for (index_t n = 0; n < 30; ++n) {
    sw[static_cast<std::size_t>(n)] = layer.weights().scales()[n];
    for (index_t k = 0; k < 50; ++k) codes[static_cast<std::size_t>(n * 50 + k)] = layer.weights().code(n, k);
  }
  const lowbit::activations<lowbit::uint8> a(q);
  std::vector<float> want(6 * 30);
  lowbit::reference_gemm(a, codes.data(), 30, 50, sw.data(), bias.data(), lowbit::output_float{}, want.data(), 30);
  const row_matrix y = layer.forward(x);
  EXPECT_EQ(0, std::memcmp(want.data(), y.data(), want.size() * sizeof(float)));
  // Requantized output for the next layer: a quantized tensor carrying the stage's qparams.
  std::vector<std::uint8_t> want_q(6 * 30);
  const auto stage = lowbit::output_float{}.relu().requantize<lowbit::uint8>(0.05f, 0);
  lowbit::reference_gemm(a, codes.data(), 30, 50, sw.data(), bias.data(), stage, want_q.data(), 30);
  const lowbit::quantized_tensor<lowbit::uint8> h = layer.forward(q, stage);
  EXPECT_EQ(h.data(), want_q);
  EXPECT_EQ(h.shape(), (std::vector<index_t>{6, 30}));
  EXPECT_EQ(h.params(), lowbit::qparams(0.05f, 0));
  // The raw form writes into the caller's buffer.
  std::vector<std::uint8_t> got_q(6 * 30);
  layer.forward(a, stage, got_q.data(), 30);
  EXPECT_EQ(want_q, got_q);
  // Close to float.
  row_matrix y_float = x * w.transpose();
  y_float.array() += 0.25f;
  EXPECT_GT(lowbit::sqnr_db(y_float, y), 30.0);
  EXPECT_THROW((lowbit::static_linear<>(w, bias, {0.f, 0})), lowbit::error);
  EXPECT_THROW((lowbit::static_linear<>(w, bias, {0.1f, 300})), lowbit::error);
  EXPECT_THROW((lowbit::static_linear<>(w, bias, lowbit::qparams({0.1f, 0.1f}, {1, 2}))), lowbit::error);
}

// The newcomer's report: chaining static layers needed hand-managed buffers. Now each layer's
// requantized output is the next layer's input.
TEST(static_linear, layers_chain_through_quantized_tensors) {
  lowbit_test::rng g(59);
  const row_matrix w1 = g.normal_matrix(40, 20, 0.2f), w2 = g.normal_matrix(10, 40, 0.2f);
  const Eigen::VectorXf b1 = Eigen::VectorXf::Constant(40, 0.1f), b2 = Eigen::VectorXf::Zero(10);
  const row_matrix x = g.normal_matrix(16, 20);
  // Calibrate both inputs on the float model.
  row_matrix h_float = (x * w1.transpose()).rowwise() + b1.transpose();
  h_float = h_float.cwiseMax(0.f);
  const lowbit::quantizer<lowbit::uint8, lowbit::affine> q;
  const lowbit::qparams in1 = q.qparams_for(q.observe(x)), in2 = q.qparams_for(q.observe(h_float));
  const lowbit::static_linear<> fc1(w1, b1, in1), fc2(w2, b2, in2);
  const auto h = fc1.forward(fc1.quantize_input(x),
                             lowbit::output_float{}.relu().requantize<lowbit::uint8>(in2.scale[0], in2.zero_point[0]));
  const row_matrix y = fc2.forward(h);
  const row_matrix y_float = (h_float * w2.transpose()).rowwise() + b2.transpose();
  EXPECT_GT(lowbit::sqnr_db(y_float, y), 25.0);
  // Same as going through float between the layers with those qparams.
  const row_matrix y_via_float = fc2.forward(h.dequantize());
  EXPECT_EQ(y, y_via_float);
}

TEST(static_linear, int8_activations_and_bad_input) {
  lowbit_test::rng g(60);
  const row_matrix w = g.normal_matrix(8, 12, 0.1f);
  const lowbit::static_linear<lowbit::quantizer<lowbit::int8, lowbit::affine>> layer(w, {}, {0.02f, -5});
  const row_matrix x = g.normal_matrix(3, 12, 0.5f);
  EXPECT_GT(lowbit::sqnr_db(row_matrix(x * w.transpose()), layer.forward(x)), 25.0);
  EXPECT_THROW(layer.forward(g.normal_matrix(3, 11)), lowbit::error);
  // Issue 13, finding 9: a default-constructed layer says so (it said "expected 1 scales and zero
  // points, got 0").
  const lowbit::static_linear<> empty;
  const std::string e = lowbit_test::error_of([&] { (void)empty.forward(row_matrix::Ones(1, 4)); });
  EXPECT_TRUE(lowbit_test::contains(e, "default-constructed")) << e;
  // An input quantized per channel is not a static activation.
  const auto per_row = lowbit::quantizer<lowbit::int8, lowbit::affine, lowbit::per_channel>(lowbit::per_channel(0)).quantize(x);
  EXPECT_THROW((void)layer.forward(per_row), lowbit::error);
}

}  // namespace
