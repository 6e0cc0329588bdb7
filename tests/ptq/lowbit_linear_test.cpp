// ptq/lowbit_linear.hpp: the layer is its GEMM on the row-quantized input (bit for bit, every
// path), it stays within its stated bound of the float layer, its output stages follow their
// formulas, it reports its footprint, and bad input is a clear error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "lowbit/lowbit.hpp"
#include "lowbit/ptq/lowbit_linear.hpp"
#include "support/errors.hpp"
#include "support/paths.hpp"
#include "support/random.hpp"

namespace {

using lowbit::index_t;
using lowbit::row_matrix;
using namespace lowbit;

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

template <class Layer>
row_matrix direct(const Layer& layer, const row_matrix& x, const output_float& stage, const context& ctx) {
  const auto codes = layer.activations_quantizer().quantize(x, ctx);
  row_matrix y(x.rows(), layer.out_features());
  lowbit_gemm(activations<int8>(codes), layer.weights(), stage, y.data(), layer.out_features(), ctx);
  return y;
}

// The bound of ptq/lowbit_linear.hpp: sum_k |x_k| |w_k - ŵ_k| + |ŵ_k| sa / 2, with ŵ the stored
// weights and sa the row's int8 step (max|x| / 127.5), plus float rounding of the sums.
template <class Layer>
void expect_within_bound(const Layer& layer, const row_matrix& x, const row_matrix& w, const std::vector<float>& bias,
                         const row_matrix& y) {
  const row_matrix wq = layer.weights().dequantize();
  for (index_t m = 0; m < x.rows(); ++m) {
    const double sa = x.row(m).cwiseAbs().maxCoeff() / 127.5;
    for (index_t n = 0; n < w.rows(); ++n) {
      double want = bias.empty() ? 0.0 : bias[static_cast<std::size_t>(n)], bound = 0, mag = 0;
      for (index_t k = 0; k < x.cols(); ++k) {
        want += static_cast<double>(x(m, k)) * w(n, k);
        bound += std::abs(x(m, k)) * std::abs(w(n, k) - wq(n, k)) + std::abs(wq(n, k)) * sa / 2;
        mag += std::abs(x(m, k) * wq(n, k));
      }
      EXPECT_LE(std::abs(y(m, n) - want), bound * 1.0001 + mag * 1e-5 + 1e-6) << "row " << m << " col " << n;
    }
  }
}

class lowbit_linear_paths : public ::testing::TestWithParam<kernel_path> {};

TEST_P(lowbit_linear_paths, is_its_gemm_on_row_quantized_inputs_and_within_the_bound) {
  const context ctx = context{}.with_path(GetParam());
  lowbit_test::rng g(91);
  for (auto [m, k, n, group] : {std::tuple<index_t, index_t, index_t, index_t>{1, 256, 96, 32}, {3, 192, 64, 64},
                                {9, 128, 130, 128}, {17, 96, 70, 32}}) {
    const row_matrix w = g.normal_matrix(n, k, 0.05f);
    const row_matrix x = g.normal_matrix(m, k, 1.5f);
    std::vector<float> bias(static_cast<std::size_t>(n));
    for (auto& b : bias) b = g.normal();

    const lowbit_linear l4(w, quantizer<int4, symmetric, per_group>(per_group(1, group)), bias);
    const lowbit_linear l2(w, quantizer<uint2, affine, per_group>(per_group(1, group)), bias);
    const lowbit_linear l8(w, quantizer<int8, symmetric, per_channel>(per_channel(0)), bias);
    static_assert(std::is_same_v<decltype(l4)::weight_format, int4>);
    for (const output_float& stage : {output_float{}, output_float{}.relu()}) {
      const auto check = [&](const auto& layer) {
        const row_matrix y = layer.forward(x, stage, ctx);
        const row_matrix want = direct(layer, x, stage, ctx);
        for (index_t i = 0; i < y.size(); ++i) ASSERT_TRUE(same_bits(y.data()[i], want.data()[i])) << i;
        if (stage.lo == 0.0f) {
          EXPECT_GE(y.minCoeff(), 0.0f);
        } else {
          expect_within_bound(layer, x, w, bias, y);
        }
      };
      check(l4);
      check(l2);
      check(l8);
    }
  }
}

TEST_P(lowbit_linear_paths, requantized_output_follows_the_float_output) {
  const context ctx = context{}.with_path(GetParam());
  lowbit_test::rng g(92);
  const row_matrix w = g.normal_matrix(80, 160, 0.05f), x = g.normal_matrix(7, 160, 1.0f);
  const lowbit_linear layer(w, quantizer<int4, symmetric, per_group>(per_group(1, 32)), std::vector<float>(80, 0.25f));
  const row_matrix y = layer.forward(x, output_float{}, ctx);
  const float s = 0.01f;
  const auto q = layer.forward(x, output_float{}.requantize<uint8>(s, 128), ctx);
  ASSERT_EQ(q.shape(), (std::vector<index_t>{7, 80}));
  EXPECT_EQ(q.params().scale[0], s);
  const auto codes = q.int_repr();
  for (index_t r = 0; r < y.rows(); ++r)
    for (index_t c = 0; c < y.cols(); ++c) {
      const float want = std::min(255.0f, std::max(0.0f, std::nearbyint(y(r, c) * (1.0f / s)) + 128.0f));
      ASSERT_EQ(static_cast<float>(codes(r, c)), want) << r << ", " << c;
    }
}

LOWBIT_INSTANTIATE_FOR_PATHS(lowbit_linear_paths);

TEST(lowbit_linear, threads_raw_form_and_per_tensor_activations_agree) {
  lowbit_test::rng g(93);
  const row_matrix w = g.normal_matrix(200, 256, 0.05f), x = g.normal_matrix(40, 256, 1.0f);
  const lowbit_linear layer(w, quantizer<int4, symmetric, per_group>(per_group(1, 64)));
  const row_matrix one = layer.forward(x);
  const row_matrix two = layer.forward(x, output_float{}, context{}.with_threads(2));
  EXPECT_TRUE(one == two);

  row_matrix wide = row_matrix::Constant(40, 210, -7.0f);
  layer.forward(x.data(), 40, 256, wide.data(), 210);
  EXPECT_TRUE(wide.leftCols(200) == one);
  EXPECT_TRUE((wide.rightCols(10).array() == -7.0f).all()) << "the raw form wrote past its outputs";

  // One scale for the whole batch: rows of small values lose precision against per-row scales.
  lowbit_linear<int4, quantizer<int8, symmetric>> batch(layer.weights());
  row_matrix mixed = x;
  mixed.topRows(20) *= 100.0f;
  const row_matrix want = mixed * layer.weights().dequantize().transpose();
  const row_matrix per_row = layer.forward(mixed), per_batch = batch.forward(mixed);
  EXPECT_LT((per_row - want).bottomRows(20).cwiseAbs().maxCoeff(), (per_batch - want).bottomRows(20).cwiseAbs().maxCoeff());
}

TEST(lowbit_linear, a_calibrator_chooses_the_ranges) {
  lowbit_test::rng g(94);
  row_matrix w = g.normal_matrix(64, 128, 0.05f);
  w(3, 5) = 2.0f;  // an outlier that min/max keeps and a search clips
  const quantizer<int4, symmetric, per_group> q(per_group(1, 32));
  const lowbit_linear minmax(w, q);
  const lowbit_linear searched(w, q, weight_search{});
  const auto err = [&](const auto& l) { return (l.weights().dequantize() - w).squaredNorm(); };
  EXPECT_LT(err(searched), err(minmax));
}

TEST(lowbit_linear, footprint_counts_codes_scales_and_bias) {
  lowbit_test::rng g(95);
  const row_matrix w = g.normal_matrix(128, 4096, 0.05f);
  const lowbit_linear l4(w, quantizer<int4, symmetric, per_group>(per_group(1, 32)), std::vector<float>(128, 0.f));
  const layer_footprint f = l4.footprint();
  EXPECT_EQ(f.bits_per_weight, 4.5);  // 32 codes of 4 bits + one fp16 scale
  EXPECT_EQ(f.bytes, 128 * 4096 / 2 + 128 * 128 * 2 + 128 * 4);
  EXPECT_EQ(f.float_bytes, 4 * (128 * 4096 + 128));
  EXPECT_NEAR(f.compression(), 32.0 / 4.5, 0.02);  // the bias is 4 bytes per output in both
  const lowbit_linear l2(w, quantizer<uint2, affine, per_group>(per_group(1, 64)));
  EXPECT_EQ(l2.footprint().bits_per_weight, 2.0 + 24.0 / 64);  // fp16 scale + 8-bit zero point
  EXPECT_EQ(l2.bytes(), 128 * 4096 / 4 + 128 * 64 * 3);
}

TEST(lowbit_linear, bad_input_is_a_clear_error) {
  using lowbit_test::contains;
  using lowbit_test::error_of;
  lowbit_test::rng g(96);
  const row_matrix w = g.normal_matrix(16, 64, 0.05f);
  const lowbit_linear layer(w, quantizer<int4, symmetric, per_group>(per_group(1, 32)));
  EXPECT_TRUE(contains(error_of([&] { (void)layer.forward(row_matrix(2, 63)); }), "input has 63 features, the layer expects 64"));
  EXPECT_TRUE(contains(error_of([&] { (void)lowbit_linear<int4>().forward(row_matrix(2, 64)); }), "has no weights"));
  EXPECT_TRUE(contains(error_of([&] { lowbit_linear<int4, quantizer<int8, symmetric, per_channel>>(layer.weights(), quantizer<int8, symmetric, per_channel>(per_channel(1))); }),
                       "per_channel(0), not along axis 1"));
  EXPECT_TRUE(contains(error_of([&] { (void)lowbit_linear(w, quantizer<int4, symmetric, per_group>(per_group(1, 6))); }),
                       "not a positive multiple of 4"));
  row_matrix x = g.normal_matrix(2, 64);
  x(1, 3) = std::nanf("");
  EXPECT_FALSE(error_of([&] { (void)layer.forward(x); }).empty()) << "NaN input must be an error";
  EXPECT_TRUE(contains(error_of([&] { (void)layer.forward(g.normal_matrix(1, 64), output_float{}.requantize<uint8>(0.f, 0)); }),
                       "scale"));
  float out[16];
  EXPECT_TRUE(contains(error_of([&] { layer.forward(nullptr, 1, 64, out, 16); }), "null input"));
  EXPECT_TRUE(contains(error_of([&] { layer.forward(x.data(), 2, 63, out, 16); }), "leading dimension"));
  EXPECT_EQ(layer.forward(row_matrix(0, 64)).rows(), 0);
}

}  // namespace
