// Dynamic and static quantized Linear layers: against float Eigen with a stated bound, against
// PyTorch's dynamic quantized Linear (golden data), across paths, and on bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "lowbit/lowbit.hpp"
#include "lowbit/ptq/dynamic_linear.hpp"
#include "lowbit/ptq/static_linear.hpp"
#include "support/golden.hpp"
#include "support/random.hpp"

namespace {

using lowbit::index_t;
using lowbit::row_matrix;

// The per-element bound of ptq/dynamic_linear.hpp: sum_k |x_k| sw / 2 + |w_k| sa / 2 + sa sw / 4,
// with sa the step of the row's activations and sw the weight step of the output channel.
row_matrix error_bound(const row_matrix& x, const row_matrix& w, const std::vector<float>& sa,
                       const std::vector<float>& sw) {
  row_matrix b(x.rows(), w.rows());
  for (index_t m = 0; m < x.rows(); ++m)
    for (index_t n = 0; n < w.rows(); ++n)
      b(m, n) = static_cast<float>((x.row(m).cwiseAbs().sum() * sw[n] + w.row(n).cwiseAbs().sum() * sa[m]) / 2 +
                                   x.cols() * sa[m] * sw[n] / 4) * 1.001f + 1e-6f;
  return b;
}

std::vector<float> row_steps_affine(const row_matrix& x) {
  std::vector<float> s;
  for (index_t m = 0; m < x.rows(); ++m) {
    float scale = 0;
    std::int32_t zp = 0;
    lowbit::compute_qparam<lowbit::uint8, lowbit::affine>(x.row(m).minCoeff(), x.row(m).maxCoeff(), scale, zp);
    s.push_back(scale);
  }
  return s;
}

TEST(dynamic_linear, within_the_stated_bound_of_float) {
  lowbit_test::rng g(51);
  for (auto [m, k, n] : {std::tuple<index_t, index_t, index_t>{1, 64, 40}, {5, 100, 33}, {33, 257, 70}}) {
    const row_matrix w = g.normal_matrix(n, k, 0.1f);
    const row_matrix x = g.normal_matrix(m, k, 2.f);
    std::vector<float> bias(static_cast<std::size_t>(n));
    for (auto& b : bias) b = g.normal();
    const lowbit::dynamic_linear layer(w, bias);
    const row_matrix y = layer.forward(x);
    row_matrix want = x * w.transpose();
    for (index_t j = 0; j < n; ++j) want.col(j).array() += bias[j];
    std::vector<float> sw(layer.weights().scales(), layer.weights().scales() + n);
    const row_matrix bound = error_bound(x, w, row_steps_affine(x), sw);
    EXPECT_TRUE(((y - want).cwiseAbs().array() <= bound.array()).all())
        << "max error " << (y - want).cwiseAbs().maxCoeff() << " bound " << bound.minCoeff();
    EXPECT_GT(lowbit::sqnr_db(want, y), 30.0);
  }
}

TEST(dynamic_linear, every_activation_mode_and_path_agree_bit_for_bit_across_paths) {
  lowbit_test::rng g(52);
  const row_matrix w = g.normal_matrix(45, 77, 0.1f);
  const row_matrix x = g.normal_matrix(9, 77);
  for (auto mode : {lowbit::activation_quant::per_row_affine, lowbit::activation_quant::per_tensor_affine,
                    lowbit::activation_quant::per_row_symmetric}) {
    const lowbit::dynamic_linear layer(w, {}, mode);
    row_matrix first;
    for (lowbit::isa p : lowbit::supported_isas()) {
      lowbit::scoped_isa guard(p);
      const row_matrix y = layer.forward(x);
      if (first.size() == 0) {
        first = y;
        EXPECT_GT(lowbit::sqnr_db(x * w.transpose(), y), 25.0);
      } else {
        EXPECT_EQ(0, std::memcmp(first.data(), y.data(), sizeof(float) * static_cast<std::size_t>(y.size())))
            << lowbit::isa_name(p);
      }
    }
  }
}

TEST(dynamic_linear, two_threads_and_column_major_input_give_the_same_result) {
  lowbit_test::rng g(53);
  const row_matrix w = g.normal_matrix(70, 96, 0.1f);
  const row_matrix x = g.normal_matrix(40, 96);
  const lowbit::dynamic_linear layer(w);
  lowbit::execution one, two;
  one.threads = 1;
  two.threads = 2;
  const row_matrix y1 = layer.forward(x, one);
  EXPECT_EQ(y1, layer.forward(x, two));
  const Eigen::MatrixXf col_major = x;
  EXPECT_EQ(y1, layer.forward(col_major, one));
}

TEST(dynamic_linear, bad_input) {
  lowbit_test::rng g(54);
  const row_matrix w = g.normal_matrix(8, 16);
  const lowbit::dynamic_linear layer(w);
  row_matrix x = g.normal_matrix(3, 16);
  EXPECT_THROW(layer.forward(g.normal_matrix(3, 15)), lowbit::error);
  x(2, 5) = std::numeric_limits<float>::quiet_NaN();
  try {
    layer.forward(x);
    FAIL() << "NaN input must be an error";
  } catch (const lowbit::error& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 5]"), std::string::npos) << e.what();
  }
  lowbit::execution two;
  two.threads = 2;
  EXPECT_THROW(layer.forward(x, two), lowbit::error);  // an error in a worker reaches the caller
  EXPECT_EQ(layer.forward(row_matrix(0, 16)).rows(), 0);
}

// PyTorch 1.13's quantize_dynamic on small layers (tests/golden/generate_gemm.py). Weight codes and
// scales must agree exactly (same MinMax formulas); outputs differ only by how each quantizes the
// activations, so both must lie within the float bound, and close to each other.
TEST(dynamic_linear, agrees_with_pytorch_quantize_dynamic) {
  const lowbit_test::golden_file golden("dynamic_linear_golden.txt");
  for (const char* name : {"a", "b", "c", "d"}) {
    const std::string key = name;
    const auto& xr = golden[key + ".x"];
    const auto& wr = golden[key + ".weight"];
    const row_matrix x = Eigen::Map<const row_matrix>(xr.f32.data(), xr.shape[0], xr.shape[1]);
    const row_matrix w = Eigen::Map<const row_matrix>(wr.f32.data(), wr.shape[0], wr.shape[1]);
    const std::vector<float> bias = golden[key + ".bias"].f32;
    const auto& yf = golden[key + ".y_float"];
    const row_matrix y_float = Eigen::Map<const row_matrix>(yf.f32.data(), yf.shape[0], yf.shape[1]);
    for (const char* label : {"tensor", "channel"}) {
      SCOPED_TRACE(key + "." + label);
      const auto scales = std::string(label) == "channel" ? lowbit::weight_scales::per_channel
                                                          : lowbit::weight_scales::per_tensor;
      const lowbit::dynamic_linear layer(w, bias, lowbit::activation_quant::per_tensor_affine, scales);
      const auto& codes = golden[key + "." + label + ".weight_codes"].i64;
      const auto& wscales = golden[key + "." + label + ".weight_scales"].f32;
      for (index_t n = 0; n < w.rows(); ++n) {
        ASSERT_EQ(layer.weights().scales()[n], wscales[wscales.size() == 1 ? 0 : static_cast<std::size_t>(n)]);
        for (index_t k = 0; k < w.cols(); ++k)
          ASSERT_EQ(layer.weights().code(n, k), codes[static_cast<std::size_t>(n * w.cols() + k)]);
      }
      const auto& yt = golden[key + "." + label + ".y"];
      const row_matrix y_torch = Eigen::Map<const row_matrix>(yt.f32.data(), yt.shape[0], yt.shape[1]);
      const row_matrix y = layer.forward(x);
      float sa = 0;
      std::int32_t za = 0;
      lowbit::compute_qparam<lowbit::uint8, lowbit::affine>(x.minCoeff(), x.maxCoeff(), sa, za);
      std::vector<float> sw(layer.weights().scales(), layer.weights().scales() + w.rows());
      const row_matrix bound = error_bound(x, w, std::vector<float>(static_cast<std::size_t>(x.rows()), sa), sw);
      EXPECT_TRUE(((y - y_float).cwiseAbs().array() <= bound.array()).all());
      EXPECT_TRUE(((y_torch - y_float).cwiseAbs().array() <= bound.array()).all());
      EXPECT_TRUE(((y - y_torch).cwiseAbs().array() <= 2 * bound.array()).all());
      // Quality comparable to PyTorch's: our SQNR against float within 1 dB of theirs, or better.
      EXPECT_GT(lowbit::sqnr_db(y_float, y), lowbit::sqnr_db(y_float, y_torch) - 1.0);
    }
  }
}

TEST(static_linear, matches_the_reference_on_calibrated_input) {
  lowbit_test::rng g(55);
  const row_matrix w = g.normal_matrix(30, 50, 0.1f);
  std::vector<float> bias(30, 0.25f);
  const row_matrix x = g.uniform_matrix(6, 50, -1.f, 3.f);
  const float in_scale = 4.f / 255.f;
  const std::int32_t in_zp = 64;
  const lowbit::static_linear<lowbit::uint8> layer(w, bias, in_scale, in_zp);
  const auto q = layer.quantize_input(x);
  EXPECT_EQ(q.params().scale[0], in_scale);
  // Reference: the unpacked weight codes, the same input codes, the output stage formulas.
  std::vector<std::int8_t> codes(30 * 50);
  std::vector<float> sw(30);
  for (index_t n = 0; n < 30; ++n) {
    sw[n] = layer.weights().scales()[n];
    for (index_t k = 0; k < 50; ++k) codes[n * 50 + k] = layer.weights().code(n, k);
  }
  const lowbit::quantized_activations a(q.data().data(), 6, 50, 50, in_zp, in_scale);
  std::vector<float> want(6 * 30);
  lowbit::reference_gemm(a, codes.data(), 30, 50, sw.data(), bias.data(), lowbit::output_float{}, want.data(), 30);
  const row_matrix y = layer.forward(x);
  EXPECT_EQ(0, std::memcmp(want.data(), y.data(), want.size() * sizeof(float)));
  // Requantized output for the next layer.
  std::vector<std::uint8_t> want_q(6 * 30), got_q(6 * 30);
  const auto stage = lowbit::output_float{}.relu().requantize<lowbit::uint8>(0.05f, 0);
  lowbit::reference_gemm(a, codes.data(), 30, 50, sw.data(), bias.data(), stage, want_q.data(), 30);
  layer.forward(q.data().data(), 6, 50, got_q.data(), 30, stage);
  EXPECT_EQ(want_q, got_q);
  // Close to float.
  row_matrix y_float = x * w.transpose();
  y_float.array() += 0.25f;
  EXPECT_GT(lowbit::sqnr_db(y_float, y), 30.0);
  EXPECT_THROW((lowbit::static_linear<lowbit::uint8>(w, bias, 0.f, 0)), lowbit::error);
  EXPECT_THROW((lowbit::static_linear<lowbit::uint8>(w, bias, 0.1f, 300)), lowbit::error);
}

}  // namespace
