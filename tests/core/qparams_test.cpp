// core/qparams.hpp: PyTorch's qparam formulas, written out independently here for a few hand-checked cases; the one scale check.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "lowbit/lowbit.hpp"
#include "support/errors.hpp"

namespace {

template <class F, class S>
std::pair<float, int> qp(float mn, float mx) {
  float s = 0;
  std::int32_t z = 0;
  lowbit::detail::qparam_from_range<F, S>(mn, mx, s, z);
  return {s, z};
}

TEST(qparams, affine_uint8) {
  // [-1, 3]: scale = 4 / 255, zero point = 0 - round(-1 / scale) = round(63.75) = 64.
  const auto [s, z] = qp<lowbit::uint8, lowbit::affine>(-1.f, 3.f);
  EXPECT_EQ(s, 4.f / 255.f);
  EXPECT_EQ(z, 64);
}

TEST(qparams, affine_forces_zero_into_range) {
  const auto [s, z] = qp<lowbit::uint8, lowbit::affine>(2.f, 5.f);  // range becomes [0, 5]
  EXPECT_EQ(s, 5.f / 255.f);
  EXPECT_EQ(z, 0);
  const auto [s2, z2] = qp<lowbit::int8, lowbit::affine>(-5.f, -2.f);  // [-5, 0]
  EXPECT_EQ(s2, 5.f / 255.f);
  EXPECT_EQ(z2, 127);
}

TEST(qparams, symmetric_divides_by_half_the_levels) {
  const auto [s, z] = qp<lowbit::int8, lowbit::symmetric>(-3.f, 2.f);
  EXPECT_EQ(s, 3.f / 127.5f);
  EXPECT_EQ(z, 0);
  const auto [su, zu] = qp<lowbit::uint8, lowbit::symmetric>(-3.f, 2.f);
  EXPECT_EQ(su, 3.f / 127.5f);
  EXPECT_EQ(zu, 128);
  const auto [sn, zn] = qp<lowbit::int8_narrow, lowbit::symmetric>(-3.f, 2.f);
  EXPECT_EQ(sn, 3.f / 127.f);  // ONNX Runtime / TensorRT weight convention
  EXPECT_EQ(zn, 0);
  const auto [s4, z4] = qp<lowbit::int4, lowbit::symmetric>(-1.f, 1.5f);
  EXPECT_EQ(s4, 1.5f / 7.5f);
  EXPECT_EQ(z4, 0);
}

TEST(qparams, zero_range_uses_eps) {
  const auto [s, z] = qp<lowbit::uint8, lowbit::affine>(0.f, 0.f);
  EXPECT_EQ(s, std::numeric_limits<float>::epsilon());
  EXPECT_EQ(z, 0);
  const auto [s8, z8] = qp<lowbit::int8, lowbit::affine>(0.f, 0.f);
  EXPECT_EQ(s8, std::numeric_limits<float>::epsilon());
  EXPECT_EQ(z8, -128);
  const auto [ss, zs] = qp<lowbit::int8, lowbit::symmetric>(0.f, 0.f);
  EXPECT_EQ(ss, std::numeric_limits<float>::epsilon());
  EXPECT_EQ(zs, 0);
  // A tiny range: scale clamps to eps.
  const auto [st, zt] = qp<lowbit::int8, lowbit::affine>(-1e-30f, 1e-30f);
  EXPECT_EQ(st, std::numeric_limits<float>::epsilon());
  EXPECT_EQ(zt, -128);
}

TEST(qparams, never_observed_defaults) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  const auto [s, z] = qp<lowbit::uint8, lowbit::affine>(inf, -inf);
  EXPECT_EQ(s, 1.f);
  EXPECT_EQ(z, 0);
  const auto [ss, zs] = qp<lowbit::uint8, lowbit::symmetric>(inf, -inf);
  EXPECT_EQ(ss, 1.f);
  EXPECT_EQ(zs, 128);  // documented deviation: symmetric keeps its zero point
}

TEST(qparams, bad_ranges_are_errors) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  float s = 0;
  std::int32_t z = 0;
  EXPECT_THROW((lowbit::detail::qparam_from_range<lowbit::int8, lowbit::affine>(nan, 1.f, s, z)), lowbit::error);
  EXPECT_THROW((lowbit::detail::qparam_from_range<lowbit::int8, lowbit::affine>(0.f, inf, s, z)), lowbit::error);
  EXPECT_THROW((lowbit::detail::qparam_from_range<lowbit::int8, lowbit::affine>(2.f, 1.f, s, z)), lowbit::error);
  EXPECT_NO_THROW((lowbit::detail::qparam_from_range<lowbit::int8, lowbit::symmetric>(-3e38f, 3e38f, s, z)));
  EXPECT_TRUE(std::isfinite(s));
}

// Found by fuzzing (issue 13): finite data whose ends are more than FLT_MAX apart was rejected by
// affine quantizers ("max - min overflows float"), so every calibrator failed on it. The width is
// now taken in double: the scale is finite and every code's value too.
TEST(qparams, affine_ranges_wider_than_flt_max) {
  float s = 0;
  std::int32_t z = 0;
  lowbit::detail::qparam_from_range<lowbit::int8, lowbit::affine>(-3e38f, 3e38f, s, z);
  EXPECT_NEAR(s, 6e38 / 255.0, 1e33);
  EXPECT_TRUE(std::isfinite(static_cast<float>(127 - z) * s));
  EXPECT_TRUE(std::isfinite(static_cast<float>(-128 - z) * s));
  lowbit::detail::qparam_from_range<lowbit::uint8, lowbit::affine>(-3.40282347e+38f, 4.25352933e+37f, s, z);
  EXPECT_TRUE(std::isfinite(s));
  const std::vector<float> x = {-3.40282347e+38f, 0.f, 4.25352933e+37f, 1.f};
  const auto back = lowbit::quantizer<lowbit::uint8, lowbit::affine>().quantize(x, {4}).dequantize();
  EXPECT_TRUE(back.allFinite());
  EXPECT_LT(back(0, 0), -3.3e38f);
  // Ordinary ranges keep PyTorch's float32 arithmetic.
  lowbit::detail::qparam_from_range<lowbit::uint8, lowbit::affine>(-1.f, 3.f, s, z);
  EXPECT_EQ(s, 4.f / 255.f);
}

TEST(qparams, from_range_checks_lengths_and_names_the_slot) {
  lowbit::range r({0.f, -1.f}, {1.f});
  EXPECT_THROW((lowbit::quantizer<lowbit::int8, lowbit::affine>().qparams_for(r)), lowbit::error);
  const lowbit::range bad({0.f, 2.f}, {1.f, 1.f});
  const std::string msg = lowbit_test::error_of([&] { (void)lowbit::quantizer<lowbit::int8, lowbit::affine>().qparams_for(bad); });
  EXPECT_TRUE(lowbit_test::contains(msg, "slot 1")) << msg;
}

// Issue 13, finding 7: near FLT_MAX the symmetric grid's extreme code times the scale overflowed,
// so -FLT_MAX dequantized to -Inf. The scale is now lowered to the largest whose grid is finite.
TEST(qparams, grids_near_flt_max_stay_finite) {
  constexpr float big = std::numeric_limits<float>::max();
  const auto check = [](auto format, auto scheme, float mn, float mx) {
    using F = decltype(format);
    using S = decltype(scheme);
    const auto [s, z] = qp<F, S>(mn, mx);
    EXPECT_TRUE(std::isfinite(static_cast<float>(F::qmin - z) * s)) << F::name << " " << S::name;
    EXPECT_TRUE(std::isfinite(static_cast<float>(F::qmax - z) * s)) << F::name << " " << S::name;
  };
  check(lowbit::int8{}, lowbit::symmetric{}, -big, big);
  check(lowbit::int4{}, lowbit::symmetric{}, -big, big);
  check(lowbit::int2{}, lowbit::symmetric{}, -big, big);
  check(lowbit::uint8{}, lowbit::symmetric{}, -big, big);
  check(lowbit::uint8{}, lowbit::affine{}, 0.f, big);
  check(lowbit::int8{}, lowbit::affine{}, -big, 0.f);
  check(lowbit::int2{}, lowbit::affine{}, -big / 2, big / 2);
  // End to end: +-FLT_MAX survive quantize / dequantize as finite values of the right sign.
  Eigen::RowVector4f x(-big, -1.f, 1.f, big);
  const auto back = lowbit::quantizer<lowbit::int8, lowbit::symmetric>().quantize(x).dequantize();
  EXPECT_TRUE(back.allFinite());
  EXPECT_LT(back(0, 0), -0.99f * big);
  EXPECT_GT(back(0, 3), 0.99f * big);
  // Ranges PyTorch handles are untouched (bit-exact goldens elsewhere): a typical one here.
  EXPECT_EQ((qp<lowbit::int8, lowbit::symmetric>(-3.f, 2.f).first), 3.f / 127.5f);
}

TEST(qparams, validation) {
  using F = lowbit::int8;
  using lowbit::detail::check_qparams;
  lowbit::qparams ok({0.5f, 0.25f}, {0, 3});
  EXPECT_NO_THROW((check_qparams<F, lowbit::affine>(ok, 2, "test")));
  EXPECT_THROW((check_qparams<F, lowbit::affine>(ok, 3, "test")), lowbit::error);
  EXPECT_THROW((check_qparams<F, lowbit::symmetric>(ok, 2, "test")), lowbit::error);  // zp 3
  for (float bad : {0.f, -1.f, std::numeric_limits<float>::quiet_NaN(),
                    std::numeric_limits<float>::infinity(), std::numeric_limits<float>::denorm_min(),
                    1e-40f}) {
    lowbit::qparams p({bad}, {0});
    EXPECT_THROW((check_qparams<F, lowbit::affine>(p, 1, "test")), lowbit::error) << bad;
  }
  lowbit::qparams zp_out({1.f}, {128});
  EXPECT_THROW((check_qparams<F, lowbit::affine>(zp_out, 1, "test")), lowbit::error);
  lowbit::qparams short_zp({1.f, 1.f}, {0});
  EXPECT_THROW((check_qparams<F, lowbit::affine>(short_zp, 2, "test")), lowbit::error);
  const std::string zero = lowbit_test::error_of(
      [] { check_qparams<F, lowbit::affine>(lowbit::qparams({1.f, 0.f}, {0, 0}), 2, "weights"); });
  EXPECT_TRUE(lowbit_test::contains(zero, "weights: scale[1] = 0")) << zero;
}

// Found by the quantize fuzz target (issue 13): a given scale whose grid overflows float was
// accepted, and the extreme codes dequantized to -Inf. Such qparams are now rejected, naming the
// slot and the largest scale the zero point allows; the largest such scale itself is accepted.
TEST(qparams, given_scales_whose_grid_overflows_are_rejected) {
  using lowbit::detail::check_qparams;
  using lowbit::detail::largest_finite_scale;
  const float reproducer = 1.71470411e38f;  // uint2 affine, zero point 3: (0 - 3) * s = -Inf
  ASSERT_FALSE(std::isfinite(-3.0f * reproducer));
  const std::string msg = lowbit_test::error_of([&] {
    check_qparams<lowbit::uint2, lowbit::affine>(lowbit::qparams({1.f, reproducer}, {0, 3}), 2, "quantize");
  });
  EXPECT_TRUE(lowbit_test::contains(msg, "quantize: scale[1] = ")) << msg;
  EXPECT_TRUE(lowbit_test::contains(msg, "the largest scale for this zero point is")) << msg;
  const float top = largest_finite_scale<lowbit::uint2>(3);
  EXPECT_TRUE(std::isfinite(-3.0f * top));
  EXPECT_NO_THROW((check_qparams<lowbit::uint2, lowbit::affine>(lowbit::qparams({top}, {3}), 1, "quantize")));
  EXPECT_THROW((check_qparams<lowbit::uint2, lowbit::affine>(
                   lowbit::qparams({std::nextafter(top, std::numeric_limits<float>::infinity())}, {3}), 1, "quantize")),
               lowbit::error);
  // End to end, the fuzz input: nothing is quantized and no -Inf comes back.
  const std::vector<float> x{0.0f, -2.94244157e38f};
  const lowbit::quantizer<lowbit::uint2, lowbit::affine> q;
  EXPECT_THROW((void)q.quantize(x.data(), {2}, lowbit::qparams({reproducer}, {3})), lowbit::error);
  // A symmetric int8 scale of FLT_MAX / 128 still fits (-128 * s = -FLT_MAX); one ulp more does not.
  const float sym = largest_finite_scale<lowbit::int8>(0);
  EXPECT_NO_THROW((check_qparams<lowbit::int8, lowbit::symmetric>(lowbit::qparams({sym}, {0}), 1, "q")));
  EXPECT_THROW((check_qparams<lowbit::int8, lowbit::symmetric>(
                   lowbit::qparams({std::nextafter(sym, std::numeric_limits<float>::infinity())}, {0}), 1, "q")),
               lowbit::error);
}

// The newcomer's report: a subnormal scale was rejected without saying what to do.
TEST(qparams, subnormal_scale_message_says_what_to_do) {
  const std::string msg = lowbit_test::error_of([] { lowbit::detail::check_scale(1e-40f, "quantize", 0); });
  EXPECT_TRUE(lowbit_test::contains(msg, "subnormal")) << msg;
  EXPECT_TRUE(lowbit_test::contains(msg, "at least FLT_MIN")) << msg;
  // The quantizer's entry point reports it the same way.
  Eigen::RowVector2f x(1.f, 2.f);
  const std::string q = lowbit_test::error_of(
      [&] { (void)lowbit::quantizer<lowbit::int8>().quantize(x, lowbit::qparams(1e-40f, 0)); });
  EXPECT_TRUE(lowbit_test::contains(q, "at least FLT_MIN")) << q;
}

}  // namespace

// symmetric_absmax: the block formats' scale amax / (qmax - zp), beside PyTorch's amax / ((qmax - qmin) / 2).
TEST(qparams, symmetric_absmax_maps_the_largest_magnitude_to_qmax) {
  float scale = 0;
  std::int32_t zp = -1;
  lowbit::detail::qparam_from_range<lowbit::int4, lowbit::symmetric_absmax>(-2.0f, 3.5f, scale, zp);
  EXPECT_EQ(scale, 0.5f);
  EXPECT_EQ(zp, 0);
  lowbit::detail::qparam_from_range<lowbit::int4, lowbit::symmetric>(-2.0f, 3.5f, scale, zp);
  EXPECT_EQ(scale, 3.5f / 7.5f);
  lowbit::detail::qparam_from_range<lowbit::int8, lowbit::symmetric_absmax>(-127.0f, 1.0f, scale, zp);
  EXPECT_EQ(scale, 1.0f);
  lowbit::detail::qparam_from_range<lowbit::uint8, lowbit::symmetric_absmax>(-1.0f, 2.54f, scale, zp);
  EXPECT_EQ(zp, 128);
  EXPECT_EQ(scale, 2.54f / 127.0f);

  // Nothing is clipped: +-amax come back exactly when amax / scale is exact.
  const lowbit::quantizer<lowbit::int4, lowbit::symmetric_absmax> q;
  Eigen::VectorXf x(4);
  x << -3.5f, -1.0f, 0.25f, 3.5f;
  const auto t = q.quantize(x);
  const auto back = t.dequantize();
  EXPECT_EQ(back.data()[0], -3.5f);
  EXPECT_EQ(back.data()[3], 3.5f);
  const auto codes = t.int_repr();
  EXPECT_EQ(codes.data()[0], -7);
  EXPECT_EQ(codes.data()[3], 7);
  // PyTorch's scale clips 3.5 to 7 * (3.5 / 7.5).
  const auto torch_back = lowbit::quantizer<lowbit::int4, lowbit::symmetric>().quantize(x).dequantize();
  EXPECT_LT(torch_back.data()[3], 3.5f);
}
