// Fake quantization and LSQ against PyTorch 1.13 (tests/golden/generate_qat.py), and the module's
// observer / freeze behaviour.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <tuple>
#include <string>
#include <vector>

#include "lowbit/lowbit.hpp"
#include "lowbit/qat/fake_quant.hpp"
#include "lowbit/qat/lsq.hpp"
#include "support/golden.hpp"
#include "support/random.hpp"

namespace {

using lowbit::index_t;
using lowbit::row_matrix;

const lowbit_test::golden_file& golden() {
  static const lowbit_test::golden_file file("qat_golden.txt");
  return file;
}

row_matrix matrix(const std::string& key) {
  const auto& r = golden()[key];
  return Eigen::Map<const row_matrix>(r.f32.data(), r.shape[0], r.shape[1]);
}

void expect_equal(const row_matrix& got, const std::string& key) {
  const row_matrix want = matrix(key);
  ASSERT_EQ(got.rows(), want.rows());
  ASSERT_EQ(got.cols(), want.cols());
  for (index_t i = 0; i < got.size(); ++i) ASSERT_EQ(got.data()[i], want.data()[i]) << key << " element " << i;
}

TEST(fake_quantize, per_tensor_matches_pytorch) {
  const row_matrix x = matrix("x"), dy = matrix("dy");
  struct tc {
    const char* label;
    int qmin, qmax;
    float scale;
    int zp;
  };
  for (const tc& c : {tc{"u8", 0, 255, 0.05f, 3}, tc{"s8", -128, 127, 0.03f, 0}, tc{"s4", -8, 7, 0.25f, 0},
                      tc{"u4", 0, 15, 0.4f, 5}, tc{"s2", -2, 1, 0.9f, 0}}) {
    const lowbit::fake_quant_output out =
        lowbit::fake_quantize_forward(x, lowbit::qparams({c.scale}, {c.zp}), lowbit::per_tensor{}, c.qmin, c.qmax);
    expect_equal(out.y, std::string("tensor.") + c.label + ".y");
    expect_equal(lowbit::fake_quantize_backward(dy, out.mask), std::string("tensor.") + c.label + ".dx");
  }
}

/// Bit for bit, so NaN equals NaN and -0 differs from +0.
void expect_bits_equal(const row_matrix& got, const std::string& key) {
  const row_matrix want = matrix(key);
  ASSERT_EQ(got.size(), want.size());
  for (index_t i = 0; i < got.size(); ++i) {
    const float a = got.data()[i], b = want.data()[i];
    const bool same = (std::isnan(a) && std::isnan(b)) || (a == b && std::signbit(a) == std::signbit(b));
    ASSERT_TRUE(same) << key << " element " << i << ": " << a << " vs " << b;
  }
}

// The straight-through gradient is dy * mask, as PyTorch computes it: masked elements give -0 for
// negative gradients and NaN for NaN or infinite ones (it was `mask ? dy : 0`, which gave +0 and 0).
TEST(fake_quantize, straight_through_gradient_is_bit_exact_on_signed_zeros_and_non_finite_gradients) {
  const row_matrix x = matrix("x"), dy = matrix("dy_special");
  for (const auto& [label, qmin, qmax, scale, zp] :
       {std::tuple<const char*, int, int, float, int>{"u8", 0, 255, 0.05f, 3}, {"s8", -128, 127, 0.03f, 0},
        {"s4", -8, 7, 0.25f, 0}, {"u4", 0, 15, 0.4f, 5}, {"s2", -2, 1, 0.9f, 0}}) {
    const auto out = lowbit::fake_quantize_forward(x, lowbit::qparams(scale, zp), lowbit::per_tensor{}, qmin, qmax);
    expect_bits_equal(lowbit::fake_quantize_backward(dy, out.mask), std::string("tensor.") + label + ".dx_special");
  }
  lowbit::learnable_fake_quantize<lowbit::int4, lowbit::affine> lsq(lowbit::per_tensor{}, false);
  lsq.scale = {0.3f};
  lsq.zero_point = {-0.4f};
  (void)lsq.forward(x);
  expect_bits_equal(lsq.backward(dy), "lsq.s4.dx_special");
}

// Issue 13, findings 4 and 5: a NaN learned zero point was cast to an integer (garbage output), and
// a zero point outside [qmin, qmax] gave silent nonsense where PyTorch rejects it.
TEST(fake_quantize, bad_zero_points_are_errors) {
  const row_matrix x = row_matrix::Constant(2, 3, 0.5f);
  EXPECT_THROW((void)lowbit::fake_quantize_forward(x, lowbit::qparams(0.1f, 1000), lowbit::per_tensor{}, -8, 7),
               lowbit::error);
  EXPECT_THROW((void)lowbit::fake_quantize_forward(x, lowbit::qparams(0.1f, -9), lowbit::per_tensor{}, -8, 7),
               lowbit::error);
  EXPECT_NO_THROW((void)lowbit::fake_quantize_forward(x, lowbit::qparams(0.1f, 7), lowbit::per_tensor{}, -8, 7));
  lowbit::learnable_fake_quantize<lowbit::int8, lowbit::affine> lsq;
  lsq.init(lowbit::qparams(0.1f, 3));
  lsq.zero_point[0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW((void)lsq.forward(x), lowbit::error);
  lsq.zero_point[0] = std::numeric_limits<float>::infinity();
  EXPECT_THROW((void)lsq.forward(x), lowbit::error);
  lsq.zero_point[0] = 3.4f;
  EXPECT_NEAR(lsq.forward(x)(0, 0), 0.5f, 0.05f);
}

TEST(fake_quantize, per_channel_matches_pytorch) {
  const row_matrix x = matrix("x"), dy = matrix("dy");
  for (int axis : {0, 1}) {
    for (auto [label, qmin, qmax] : {std::tuple<const char*, int, int>{"u8", 0, 255}, {"s4", -8, 7}}) {
      const std::string key = "channel" + std::to_string(axis) + "." + label;
      lowbit::qparams p;
      p.scale = golden()[key + ".scales"].f32;
      for (auto z : golden()[key + ".zero_points"].i64) p.zero_point.push_back(static_cast<std::int32_t>(z));
      const lowbit::fake_quant_output out = lowbit::fake_quantize_forward(x, p, lowbit::per_channel(axis), qmin, qmax);
      expect_equal(out.y, key + ".y");
      expect_equal(lowbit::fake_quantize_backward(dy, out.mask), key + ".dx");
    }
  }
}

// The scale and zero-point gradients are sums over all elements; PyTorch sums in float32 in its own
// order, lowbit in double, so they agree to a few float ulps of the largest term times the count.
void expect_sum_close(float got, float want, const std::string& what) {
  EXPECT_NEAR(got, want, 1e-5f * (std::fabs(want) + 1.0f)) << what;
}

template <class F, class S>
void check_lsq(const std::string& key, bool scaled) {
  SCOPED_TRACE(key);
  const row_matrix x = matrix("x"), dy = matrix("dy");
  lowbit::learnable_fake_quantize<F, S> lsq(lowbit::per_tensor{}, scaled);
  lsq.scale = golden()[key + ".scale"].f32;
  lsq.zero_point = golden()[key + ".zero_point"].f32;
  lsq.zero_grad();
  expect_equal(lsq.forward(x), key + ".y");
  expect_equal(lsq.backward(dy), key + ".dx");
  expect_sum_close(lsq.grad_scale[0], golden()[key + ".dscale"].f32[0], "dscale");
  if (S::is_affine) expect_sum_close(lsq.grad_zero_point[0], golden()[key + ".dzero_point"].f32[0], "dzero_point");
}

TEST(learnable_fake_quantize, per_tensor_matches_pytorch) {
  for (int scaled : {0, 1}) {
    const std::string s = ".scaled" + std::to_string(scaled);
    check_lsq<lowbit::uint8, lowbit::affine>("lsq.u8" + s, scaled);
    check_lsq<lowbit::int8, lowbit::affine>("lsq.s8" + s, scaled);
    check_lsq<lowbit::int4, lowbit::affine>("lsq.s4" + s, scaled);
  }
}

TEST(learnable_fake_quantize, per_channel_matches_pytorch) {
  const row_matrix x = matrix("x"), dy = matrix("dy");
  for (int scaled : {0, 1}) {
    const std::string key = "lsq_channel.s4.scaled" + std::to_string(scaled);
    lowbit::learnable_fake_quantize<lowbit::int4, lowbit::affine, lowbit::per_channel> lsq(lowbit::per_channel(0), scaled);
    lsq.scale = golden()[key + ".scale"].f32;
    lsq.zero_point = golden()[key + ".zero_point"].f32;
    lsq.zero_grad();
    expect_equal(lsq.forward(x), key + ".y");
    expect_equal(lsq.backward(dy), key + ".dx");
    const auto& ds = golden()[key + ".dscale"].f32;
    const auto& dz = golden()[key + ".dzero_point"].f32;
    for (std::size_t c = 0; c < ds.size(); ++c) {
      expect_sum_close(lsq.grad_scale[c], ds[c], "dscale " + std::to_string(c));
      expect_sum_close(lsq.grad_zero_point[c], dz[c], "dzero_point " + std::to_string(c));
    }
  }
}

TEST(fake_quantize, module_observes_then_freezes) {
  lowbit_test::rng g(81);
  using Q = lowbit::quantizer<lowbit::int4, lowbit::symmetric, lowbit::per_channel>;
  lowbit::fake_quantize<Q, lowbit::minmax_observer<lowbit::per_channel>> fq(
      Q(lowbit::per_channel(0)), lowbit::minmax_observer<lowbit::per_channel>(lowbit::per_channel(0)));
  const row_matrix w = g.normal_matrix(4, 30);
  const row_matrix y = fq.forward(w);
  EXPECT_EQ(fq.params().size(), 4);
  const Q q(lowbit::per_channel(0));
  EXPECT_EQ(fq.params(), q.qparams_for(q.observe(w)));
  EXPECT_EQ(y, Q(lowbit::per_channel(0)).quantize(w).dequantize());
  // Within the observed range the gradient passes, except where rounding lands past qmax: the
  // largest value of a channel maps to 7.5 steps and rounds to 8 (PyTorch's formulas do the same).
  const row_matrix passed = fq.backward(row_matrix::Ones(4, 30));
  EXPECT_GE(passed.sum(), 4 * 30 - 4);
  fq.freeze_observer();
  const lowbit::qparams frozen = fq.params();
  const row_matrix big = w * 3.f;
  fq.forward(big);
  EXPECT_EQ(fq.params(), frozen);  // frozen: the range no longer moves
  const row_matrix d = fq.backward(row_matrix::Ones(4, 30));
  EXPECT_LT(d.sum(), 4 * 30);  // values beyond the frozen range get no gradient
  fq.disable_fake_quant();
  EXPECT_EQ(fq.forward(big), big);
  row_matrix nan = w;
  nan(1, 2) = std::numeric_limits<float>::quiet_NaN();
  fq.enable_fake_quant();
  EXPECT_THROW(fq.forward(nan), lowbit::error);
}

TEST(learnable_fake_quantize, scale_descends_towards_a_better_step) {
  // Gradient descent on the scale lowers the fake-quantization error: the LSQ gradient points the
  // right way.
  lowbit_test::rng g(82);
  const row_matrix x = g.normal_matrix(16, 64);
  lowbit::learnable_fake_quantize<lowbit::int4, lowbit::symmetric> lsq(lowbit::per_tensor{}, true);
  lsq.init(lowbit::qparams({1.0f}, {0}));  // far too coarse a step for N(0, 1) with 16 levels
  double first = 0, last = 0;
  for (int step = 0; step < 200; ++step) {
    lsq.zero_grad();
    const row_matrix y = lsq.forward(x);
    const row_matrix err = y - x;
    const double loss = err.squaredNorm() / static_cast<double>(x.size());
    if (step == 0) first = loss;
    last = loss;
    lsq.backward(2.0f * err / static_cast<float>(x.size()));
    lsq.scale[0] -= 20.0f * lsq.grad_scale[0];  // the gradient is scaled by 1 / sqrt(numel * qmax)
  }
  EXPECT_LT(last, 0.25 * first);
  EXPECT_GT(lsq.scale[0], 0.25f);  // N(0, 1) with 16 levels: the best step is about 0.33
  EXPECT_LT(lsq.scale[0], 0.45f);
  EXPECT_THROW((lowbit::learnable_fake_quantize<lowbit::int4>().forward(x)), lowbit::error);
}

}  // namespace
