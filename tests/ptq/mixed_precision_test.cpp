// ptq/mixed_precision.hpp: bits accounting, the measured SQNR against a direct computation, the
// budget met, the sensitive layer given more bits, and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "lowbit/lowbit.hpp"
#include "lowbit/ptq/mixed_precision.hpp"
#include "support/errors.hpp"
#include "support/random.hpp"

namespace {

using lowbit::index_t;
using namespace lowbit;

TEST(mixed_precision, bits_per_weight_counts_scales_and_zero_points) {
  EXPECT_DOUBLE_EQ((weight_choice{"int4 g32", 4, 32, true}.bits_per_weight(4096)), 4.0 + 24.0 / 32);
  EXPECT_DOUBLE_EQ((weight_choice{"int4 g32 sym", 4, 32, false}.bits_per_weight(4096)), 4.5);
  EXPECT_DOUBLE_EQ((weight_choice{"int8 pc", 8, 0, false}.bits_per_weight(1000)), 8.0 + 16.0 / 1000);
  EXPECT_DOUBLE_EQ((weight_choice{"g128 on 64 inputs", 2, 128, true}.bits_per_weight(64)), 2.0 + 24.0 / 64);
  // A group that does not divide the inputs: ceil(100 / 32) = 4 groups per row.
  EXPECT_DOUBLE_EQ((weight_choice{"int4 g32", 4, 32, true}.bits_per_weight(100)), 4.0 + 4 * 24.0 / 100);
  EXPECT_THROW((void)quantize_with(weight_choice{"int3", 3, 32, true}, row_matrix::Ones(2, 32)), lowbit::error);
}

struct model {
  std::vector<row_matrix> w, x;
  std::vector<hessian_observer> h;
};

// Three layers; the middle one sees inputs with outlier channels (it is the sensitive one).
model make_model(lowbit_test::rng& g) {
  model m;
  for (int l = 0; l < 3; ++l) {
    const index_t k = 128;
    row_matrix x = g.normal_matrix(256, k);
    if (l == 1)
      for (index_t j = 0; j < k; j += 9) x.col(j) *= 25.0f;
    row_matrix w = g.normal_matrix(64, k, 0.05f);
    if (l == 1) w.col(3) *= 20.0f;
    hessian_observer h(k);
    h.observe(x);
    m.w.push_back(w);
    m.x.push_back(x);
    m.h.push_back(std::move(h));
  }
  return m;
}

TEST(mixed_precision, meets_the_budget_and_gives_the_sensitive_layer_more_bits) {
  lowbit_test::rng g(131);
  const model m = make_model(g);
  std::vector<planned_layer> layers;
  for (int l = 0; l < 3; ++l) layers.emplace_back("fc" + std::to_string(l), m.w[static_cast<std::size_t>(l)], m.h[static_cast<std::size_t>(l)]);
  for (double budget : {2.5, 3.5, 4.75, 6.0, 9.0}) {
    SCOPED_TRACE(budget);
    const precision_plan plan = plan_precision(layers, budget);
    EXPECT_LE(plan.bits_per_weight(), budget + 1e-9);
    ASSERT_EQ(plan.layers.size(), 3u);
    // The predicted SQNR is the layer's output SQNR measured directly on its inputs, with the
    // weights quantized by an ordinary quantizer of the chosen kind.
    for (int l = 0; l < 3; ++l) {
      const auto L = static_cast<std::size_t>(l);
      const layer_precision& lp = plan.layers[L];
      const weight_choice& c = lp.choice();
      row_matrix q;
      if (c.bits == 8) q = quantizer<int8, symmetric, per_channel>(per_channel(0)).quantize(m.w[L]).dequantize();
      else if (c.bits == 4 && c.group > 0) q = quantizer<uint4, affine, per_group>(per_group(1, c.group)).quantize(m.w[L]).dequantize();
      else if (c.bits == 4) q = quantizer<int4, symmetric, per_channel>(per_channel(0)).quantize(m.w[L]).dequantize();
      else if (c.group > 0) q = quantizer<uint2, affine, per_group>(per_group(1, c.group)).quantize(m.w[L]).dequantize();
      else q = quantizer<uint2, affine, per_channel>(per_channel(0)).quantize(m.w[L]).dequantize();
      const Eigen::MatrixXd y = m.x[L].cast<double>() * m.w[L].cast<double>().transpose();
      const Eigen::MatrixXd e = y - m.x[L].cast<double>() * q.cast<double>().transpose();
      EXPECT_NEAR(lp.sqnr_db[lp.chosen], 10 * std::log10(y.squaredNorm() / e.squaredNorm()), 1e-3) << c.name;
    }
    // More bits never go to a layer at the others' expense in the wrong direction: the sensitive
    // layer (fc1) has at least the bits of every other layer.
    for (int l : {0, 2}) EXPECT_GE(plan.layers[1].bits[plan.layers[1].chosen], plan.layers[static_cast<std::size_t>(l)].bits[plan.layers[static_cast<std::size_t>(l)].chosen]);
    std::printf("%s\n", plan.table().c_str());
    // Against every combination (7^3): no combination that fits the budget less the rounding
    // allowance (one unit of budget / 2000 per layer) has a lower total noise-to-signal ratio.
    const auto nsr = [](double db) { return std::pow(10.0, -db / 10); };
    double planned = 0;
    for (const auto& l : plan.layers) planned += nsr(l.sqnr_db[l.chosen]);
    const double allowance = budget * (1.0 - 3.0 / 2000);
    double brute = std::numeric_limits<double>::infinity();
    const auto& L = plan.layers;
    for (std::size_t a = 0; a < 7; ++a)
      for (std::size_t b = 0; b < 7; ++b)
        for (std::size_t c = 0; c < 7; ++c) {
          const double bits = (L[0].bits[a] + L[1].bits[b] + L[2].bits[c]) / 3;  // equal layer sizes
          if (bits <= allowance) brute = std::min(brute, nsr(L[0].sqnr_db[a]) + nsr(L[1].sqnr_db[b]) + nsr(L[2].sqnr_db[c]));
        }
    EXPECT_LE(planned, brute * (1 + 1e-9));
  }
  // A generous budget gives every layer its best option (int8); the plan beats uniform choices of
  // the same size.
  const precision_plan rich = plan_precision(layers, 9.0);
  for (const auto& l : rich.layers) EXPECT_EQ(l.choice().name, "int8 per-channel");
  // (1 % above its size: the planner may lose up to 1 % of the budget to its discretization.)
  const precision_plan p4 = plan_precision(layers, 1.01 * weight_choice{"", 4, 128, true}.bits_per_weight(128));
  double uniform = 0, planned = 0;
  for (int l = 0; l < 3; ++l) {
    const layer_precision& lp = p4.layers[static_cast<std::size_t>(l)];
    const auto db_to_nsr = [](double db) { return std::pow(10.0, -db / 10); };
    uniform += db_to_nsr(lp.sqnr_db[2]);  // int4 g128 everywhere
    planned += db_to_nsr(lp.sqnr_db[lp.chosen]);
  }
  EXPECT_LE(planned, uniform);
}

TEST(mixed_precision, bad_input_is_a_clear_error) {
  lowbit_test::rng g(132);
  hessian_observer h(16);
  h.observe(g.normal_matrix(8, 16));
  const std::vector<planned_layer> one{{"fc", g.normal_matrix(4, 16), h}};
  std::string msg = lowbit_test::error_of([&] { (void)plan_precision(one, 1.0); });
  EXPECT_TRUE(lowbit_test::contains(msg, "above the budget")) << msg;
  EXPECT_THROW((void)plan_precision({}, 4.0), lowbit::error);
  EXPECT_THROW((void)plan_precision(one, 9.0, std::vector<weight_choice>(257, weight_choice{"int8", 8, 0, false})), lowbit::error);
  EXPECT_THROW((void)plan_precision(one, -1.0), lowbit::error);
  const std::vector<planned_layer> bad{{"fc", g.normal_matrix(4, 15), h}};
  msg = lowbit_test::error_of([&] { (void)plan_precision(bad, 4.0); });
  EXPECT_TRUE(lowbit_test::contains(msg, "\"fc\" has 15 inputs")) << msg;
}

}  // namespace
