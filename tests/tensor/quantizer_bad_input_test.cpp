// tensor/quantizer.hpp on bad input: each case has a decided, documented behaviour and a clear error.
#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "lowbit/lowbit.hpp"
#include "support/errors.hpp"
#include "support/random.hpp"

namespace {

using lowbit::index_t;

using lowbit_test::contains;
using lowbit_test::error_of;

TEST(bad_input, nan_names_the_first_bad_index) {
  lowbit_test::rng g(41);
  lowbit::row_matrix x = g.normal_matrix(4, 50);
  x(2, 7) = std::numeric_limits<float>::quiet_NaN();
  x(3, 1) = std::numeric_limits<float>::quiet_NaN();
  lowbit::quantizer<lowbit::int8, lowbit::symmetric> q;
  const std::string e = error_of([&] { (void)q.quantize(x); });
  EXPECT_TRUE(contains(e, "element 107 (index [2, 7]")) << e;
  EXPECT_TRUE(contains(e, "NaN")) << e;
  // With given qparams the quantize kernel itself reports it.
  const std::string e2 = error_of([&] { (void)q.quantize(x, lowbit::qparams({0.1f}, {0})); });
  EXPECT_TRUE(contains(e2, "element 107 (index [2, 7]")) << e2;
  // Column-major input: the index is still the logical one.
  const Eigen::MatrixXf cm = x;
  lowbit::quantizer<lowbit::int4, lowbit::affine, lowbit::per_channel> qc(lowbit::per_channel(1));
  EXPECT_TRUE(contains(error_of([&] { (void)qc.quantize(cm); }), "index [2, 7]"));
}

TEST(bad_input, inf_is_an_error_by_default) {
  std::vector<float> x(100, 1.f);
  x[63] = -std::numeric_limits<float>::infinity();
  lowbit::quantizer<lowbit::uint8, lowbit::affine> q;
  const std::string e = error_of([&] { (void)q.quantize(x.data(), {100}); });
  EXPECT_TRUE(contains(e, "element 63")) << e;
  EXPECT_TRUE(contains(e, "inf_policy::saturate")) << e;
}

// Issue 13, finding 8: with inf_policy::saturate and no qparams, +-Inf used to raise an error
// recommending the policy already set. Now the range comes from the finite values and the
// infinities saturate, as the README says.
TEST(bad_input, saturate_maps_infinities_also_when_qparams_come_from_the_data) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {-2.f, -inf, 0.5f, inf, 1.f, 3.f};
  lowbit::quantizer<lowbit::int8, lowbit::symmetric> q(lowbit::per_tensor{}, lowbit::inf_policy::saturate);
  const auto t = q.quantize(x, {6});
  EXPECT_EQ(t.params().scale[0], 3.f / 127.5f);  // from the finite values only
  EXPECT_EQ(t.code(1), -128);
  EXPECT_EQ(t.code(3), 127);
  // NaN stays an error; all-infinite data has no finite range: PyTorch's default qparams.
  x[2] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(contains(error_of([&] { (void)q.quantize(x, {6}); }), "NaN"));
  const std::vector<float> only_inf = {inf, -inf};
  const auto ti = q.quantize(only_inf, {2});
  EXPECT_EQ(ti.params().scale[0], 1.f);
  EXPECT_EQ(ti.code(0), 127);
  EXPECT_EQ(ti.code(1), -128);
  // Per channel, a channel of infinities only gets the defaults, the others their own ranges.
  lowbit::quantizer<lowbit::int8, lowbit::symmetric, lowbit::per_channel> qc(lowbit::per_channel(0),
                                                                              lowbit::inf_policy::saturate);
  const std::vector<float> m = {inf, -inf, 1.f, -2.f};
  const auto tc = qc.quantize(m, {2, 2});
  EXPECT_EQ(tc.params().scale[0], 1.f);
  EXPECT_EQ(tc.params().scale[1], 2.f / 127.5f);
}

TEST(bad_input, misaligned_buffers_are_an_error_not_a_misaligned_read) {
  alignas(16) unsigned char bytes[64] = {};
  const auto* misaligned = reinterpret_cast<const float*>(bytes + 1);
  lowbit::quantizer<lowbit::int8> q;
  const std::string e = error_of([&] { (void)q.quantize(misaligned, {4}); });
  EXPECT_TRUE(contains(e, "not aligned")) << e;
}

TEST(bad_input, containers_must_match_their_shape) {
  const std::vector<float> v(6, 1.f);
  lowbit::quantizer<lowbit::int8> q;
  EXPECT_EQ(q.quantize(v, {2, 3}).size(), 6);
  EXPECT_TRUE(contains(error_of([&] { (void)q.quantize(v, {4, 2}); }), "6 values cannot have shape [4, 2]"));
}

TEST(bad_input, empty_tensors) {
  lowbit::quantizer<lowbit::uint8, lowbit::affine> q;
  const Eigen::MatrixXf empty(0, 5);
  const auto t = q.quantize(empty);
  EXPECT_EQ(t.size(), 0);
  EXPECT_TRUE(t.data().empty());
  EXPECT_EQ(t.params().scale, std::vector<float>{1.f});  // PyTorch's defaults
  EXPECT_EQ(t.params().zero_point, std::vector<std::int32_t>{0});
  EXPECT_EQ(t.dequantize().size(), 0);
  lowbit::quantizer<lowbit::int8, lowbit::symmetric, lowbit::per_channel> qc(lowbit::per_channel(1));
  const auto tc = qc.quantize(empty);  // 5 channels, none observed
  EXPECT_EQ(tc.params().scale, std::vector<float>(5, 1.f));
  EXPECT_EQ(q.quantize(static_cast<const float*>(nullptr), {0}).size(), 0);
}

TEST(bad_input, axis_out_of_range) {
  const Eigen::MatrixXf x = Eigen::MatrixXf::Ones(3, 4);
  lowbit::quantizer<lowbit::int8, lowbit::symmetric, lowbit::per_channel> q(lowbit::per_channel(2));
  EXPECT_TRUE(contains(error_of([&] { (void)q.quantize(x); }), "axis 2 is out of range")) << error_of([&] { (void)q.quantize(x); });
  lowbit::quantizer<lowbit::int8, lowbit::symmetric, lowbit::per_channel> q3(lowbit::per_channel(-3));
  EXPECT_THROW((void)q3.quantize(x), lowbit::error);
  std::vector<float> buf(24, 1.f);
  lowbit::quantizer<lowbit::int8, lowbit::symmetric, lowbit::per_channel> q4(lowbit::per_channel(3));
  EXPECT_THROW((void)q4.quantize(buf.data(), {2, 3, 4}), lowbit::error);
  EXPECT_NO_THROW((void)q4.quantize(buf.data(), {2, 3, 2, 2}));
}

TEST(bad_input, group_size_zero_or_negative) {
  const Eigen::MatrixXf x = Eigen::MatrixXf::Ones(3, 4);
  for (index_t gs : {0, -4}) {
    lowbit::quantizer<lowbit::int4, lowbit::affine, lowbit::per_group> q(lowbit::per_group(1, gs));
    EXPECT_TRUE(contains(error_of([&] { (void)q.quantize(x); }), "group_size must be positive"));
  }
  // A group size that does not divide the axis is fine: the last group is shorter.
  lowbit::quantizer<lowbit::int4, lowbit::affine, lowbit::per_group> q3(lowbit::per_group(1, 3));
  EXPECT_EQ(q3.quantize(x).params().size(), 3 * 2);
}

TEST(bad_input, qparams_of_the_wrong_length_or_value) {
  const Eigen::MatrixXf x = Eigen::MatrixXf::Ones(3, 4);
  lowbit::quantizer<lowbit::int8, lowbit::affine, lowbit::per_channel> q(lowbit::per_channel(0));
  EXPECT_TRUE(contains(error_of([&] { (void)q.quantize(x, lowbit::qparams({1.f, 1.f}, {0, 0})); }),
                       "expected 3 scales"));
  for (float s : {0.f, -0.5f, std::numeric_limits<float>::quiet_NaN(), 1e-39f}) {
    const std::string e = error_of([&] { (void)q.quantize(x, lowbit::qparams({1.f, s, 1.f}, {0, 0, 0})); });
    EXPECT_TRUE(contains(e, "scale[1]")) << e;
  }
}

TEST(bad_input, negative_dimension_and_null_data) {
  lowbit::quantizer<lowbit::int8, lowbit::symmetric> q;
  EXPECT_THROW((void)q.quantize(static_cast<const float*>(nullptr), {2, -1}), lowbit::error);
  EXPECT_THROW((void)q.quantize(static_cast<const float*>(nullptr), {2}), lowbit::error);
  EXPECT_THROW((void)q.quantize(static_cast<const float*>(nullptr), {}), lowbit::error);
}

TEST(bad_input, constant_tensors_use_the_eps_rule) {
  const Eigen::MatrixXf zeros = Eigen::MatrixXf::Zero(2, 9);
  lowbit::quantizer<lowbit::int8, lowbit::affine> qa;
  const auto tz = qa.quantize(zeros);
  EXPECT_EQ(tz.params().scale[0], lowbit::scale_eps);
  EXPECT_EQ(tz.params().zero_point[0], -128);
  EXPECT_TRUE((tz.dequantize().array() == 0.f).all());  // zero is exact
  // A constant c: zero is forced into the range, c maps to the end of it and comes back within
  // half a step; with a power-of-two range it is exact.
  for (float c : {0.7f, -3.f, 1e-30f, 2.f}) {
    const Eigen::MatrixXf x = Eigen::MatrixXf::Constant(2, 9, c);
    lowbit::quantizer<lowbit::uint8, lowbit::affine> q;
    const auto t = q.quantize(x);
    EXPECT_TRUE(std::isfinite(t.params().scale[0]));
    EXPECT_LE((t.dequantize().array() - c).abs().maxCoeff(), t.params().scale[0] / 2 * 1.001f) << c;
    lowbit::quantizer<lowbit::int8, lowbit::symmetric> qs;
    const auto ts = qs.quantize(x);
    EXPECT_LE((ts.dequantize().array() - c).abs().maxCoeff(), ts.params().scale[0] / 2 * 1.001f) << c;
  }
  const Eigen::MatrixXf pow2 = Eigen::MatrixXf::Constant(2, 2, -2.f);
  lowbit::quantizer<lowbit::int8_narrow, lowbit::symmetric> qn;  // scale 2 / 127, code -127
  EXPECT_EQ(qn.quantize(pow2).code(0), -127);
}

}  // namespace
