// quantizer<Format, Scheme, Granularity, Rounding>: semantics, layouts, inputs.
#include <gtest/gtest.h>

#include <cmath>
#include <type_traits>
#include <vector>

#include "lowbit/lowbit.hpp"
#include "support/random.hpp"

namespace {

using lowbit::index_t;
using row_matrix = lowbit::row_matrix;

// Independent per-element reference: slot lookup written from the ONNX definition.
template <class F, class Rounding = lowbit::reciprocal_multiply>
std::int32_t expected_code(float x, float scale, std::int32_t zp) {
  const float v = Rounding::divides ? x / scale : x * (1.0f / scale);
  const long long r = std::llrint(v) + zp;
  return static_cast<std::int32_t>(std::min<long long>(F::qmax, std::max<long long>(F::qmin, r)));
}

TEST(quantizer, per_tensor_round_trip_error_is_at_most_half_a_step) {
  lowbit_test::rng g(21);
  const row_matrix x = g.uniform_matrix(7, 33, -2.f, 3.f);
  lowbit::quantizer<lowbit::uint8, lowbit::affine> q;
  const auto t = q.quantize(x);
  const float scale = t.params().scale[0];
  const row_matrix back = t.dequantize();
  EXPECT_LE((back - x).cwiseAbs().maxCoeff(), scale * 0.5f * 1.0001f);
  EXPECT_EQ(t.shape(), (std::vector<index_t>{7, 33}));
  for (index_t i = 0; i < x.size(); ++i)
    ASSERT_EQ(t.code(i), expected_code<lowbit::uint8>(x.data()[i], scale, t.params().zero_point[0]));
}

TEST(quantizer, per_channel_axis0_and_axis1) {
  lowbit_test::rng g(22);
  row_matrix x = g.normal_matrix(5, 9);
  x.row(2) *= 10.f;
  x.col(4) *= 0.01f;
  for (int axis : {0, 1, -1}) {
    lowbit::quantizer<lowbit::int8, lowbit::symmetric, lowbit::per_channel> q(lowbit::per_channel{axis});
    const auto t = q.quantize(x);
    const int a = axis < 0 ? 1 : axis;
    ASSERT_EQ(t.params().size(), a == 0 ? 5 : 9);
    EXPECT_EQ(t.granularity().axis, a);
    for (index_t r = 0; r < 5; ++r) {
      for (index_t c = 0; c < 9; ++c) {
        const index_t slot = a == 0 ? r : c;
        const float amax = a == 0 ? x.row(r).cwiseAbs().maxCoeff() : x.col(c).cwiseAbs().maxCoeff();
        ASSERT_EQ(t.params().scale[slot], std::max(amax / 127.5f, lowbit::scale_eps));
        ASSERT_EQ(t.code(r * 9 + c), expected_code<lowbit::int8>(x(r, c), t.params().scale[slot], 0));
      }
    }
  }
}

TEST(quantizer, per_group_is_onnx_blocked_with_a_short_last_group) {
  lowbit_test::rng g(23);
  const row_matrix x = g.normal_matrix(3, 10);
  lowbit::quantizer<lowbit::int4, lowbit::affine, lowbit::per_group> q(lowbit::per_group(1, 4));
  const auto t = q.quantize(x);
  // Blocked scale shape [3, ceil(10 / 4)] = [3, 3]; the last block holds 2 columns.
  EXPECT_EQ(t.qparams_shape(), (std::vector<index_t>{3, 3}));
  ASSERT_EQ(t.params().size(), 9);
  for (index_t r = 0; r < 3; ++r) {
    for (index_t blk = 0; blk < 3; ++blk) {
      const index_t c0 = blk * 4, len = std::min<index_t>(4, 10 - c0);
      const float mn = std::min(0.f, x.row(r).segment(c0, len).minCoeff());
      const float mx = std::max(0.f, x.row(r).segment(c0, len).maxCoeff());
      const index_t slot = r * 3 + blk;
      EXPECT_EQ(t.params().scale[slot], std::max((mx - mn) / 15.f, lowbit::scale_eps));
      for (index_t c = c0; c < c0 + len; ++c)
        ASSERT_EQ(t.code(r * 10 + c), expected_code<lowbit::int4>(x(r, c), t.params().scale[slot],
                                                                   t.params().zero_point[slot]));
    }
  }
  // Groups along axis 0: blocks of rows, one qparam per (block, column).
  lowbit::quantizer<lowbit::int4, lowbit::symmetric, lowbit::per_group> q0(lowbit::per_group(0, 2));
  const auto t0 = q0.quantize(x);
  EXPECT_EQ(t0.qparams_shape(), (std::vector<index_t>{2, 10}));
  for (index_t c = 0; c < 10; ++c) {
    const float amax_last = std::abs(x(2, c));  // the second block is row 2 alone
    EXPECT_EQ(t0.params().scale[10 + c], std::max(amax_last / 7.5f, lowbit::scale_eps));
  }
}

TEST(quantizer, nd_buffer_is_channel_axis_with_rest_flattened) {
  lowbit_test::rng g(24);
  const std::vector<index_t> shape = {2, 3, 4, 5};
  std::vector<float> x(2 * 3 * 4 * 5);
  for (auto& v : x) v = g.normal();
  lowbit::quantizer<lowbit::uint8, lowbit::affine, lowbit::per_channel> q(lowbit::per_channel(1));
  const auto t = q.quantize(x.data(), shape);
  ASSERT_EQ(t.params().size(), 3);
  for (index_t ch = 0; ch < 3; ++ch) {
    float mn = 0, mx = 0;
    for (index_t a = 0; a < 2; ++a)
      for (index_t i = 0; i < 20; ++i) {
        const float v = x[(a * 3 + ch) * 20 + i];
        mn = std::min(mn, v);
        mx = std::max(mx, v);
      }
    EXPECT_EQ(t.params().scale[ch], (mx - mn) / 255.f);
  }
  for (index_t i = 0; i < 120; ++i) {
    const index_t ch = (i / 20) % 3;
    ASSERT_EQ(t.code(i), expected_code<lowbit::uint8>(x[i], t.params().scale[ch], t.params().zero_point[ch]));
  }
  EXPECT_EQ(t.rows(), 2);
  EXPECT_EQ(t.cols(), 60);
  // Group along a middle axis: blocked shape [2, 2, 4, 5].
  lowbit::quantizer<lowbit::int8, lowbit::symmetric, lowbit::per_group> qg(lowbit::per_group(1, 2));
  EXPECT_EQ(qg.quantize(x.data(), shape).qparams_shape(), (std::vector<index_t>{2, 2, 4, 5}));
}

TEST(quantizer, every_eigen_input_kind_gives_the_same_codes) {
  lowbit_test::rng g(25);
  const row_matrix x = g.normal_matrix(6, 11);
  lowbit::quantizer<lowbit::int4, lowbit::affine, lowbit::per_channel> q(lowbit::per_channel(0));
  const auto ref = q.quantize(x);
  const Eigen::MatrixXf col_major = x;
  EXPECT_EQ(q.quantize(col_major).data(), ref.data());
  const Eigen::MatrixXd as_double = x.cast<double>();
  EXPECT_EQ(q.quantize(as_double).data(), ref.data());
  EXPECT_EQ(q.quantize(col_major * 1.0f).data(), ref.data());  // expression without direct access
  // A block with strides inside a bigger matrix.
  Eigen::MatrixXf big = Eigen::MatrixXf::Zero(20, 30);
  big.block(3, 5, 6, 11) = x;
  EXPECT_EQ(q.quantize(big.block(3, 5, 6, 11)).data(), ref.data());
  // A Map with an inner stride (every other float).
  std::vector<float> spaced(6 * 11 * 2);
  for (index_t i = 0; i < 66; ++i) spaced[2 * i] = x.data()[i];
  Eigen::Map<const row_matrix, 0, Eigen::Stride<Eigen::Dynamic, 2>> strided(
      spaced.data(), 6, 11, Eigen::Stride<Eigen::Dynamic, 2>(22, 2));
  EXPECT_EQ(q.quantize(strided).data(), ref.data());
  // The transpose of a row-major matrix is a column-major view of the same memory.
  EXPECT_EQ(q.quantize(x.transpose().transpose()).data(), ref.data());
  // A raw buffer of the same shape.
  EXPECT_EQ(q.quantize(x.data(), {6, 11}).data(), ref.data());
}

TEST(quantizer, rounding_policies_differ_on_reciprocal_ties) {
  // x / scale = 127.499995..., which float division rounds to 127.49999 and the float reciprocal
  // product to exactly 127.5 (then half-to-even gives 128).
  const float scale = 0.00214854861f, x = 0.273939937f;
  const lowbit::qparams p({scale}, {0});
  lowbit::quantizer<lowbit::uint8, lowbit::affine, lowbit::per_tensor, lowbit::reciprocal_multiply> pt;
  lowbit::quantizer<lowbit::uint8, lowbit::affine, lowbit::per_tensor, lowbit::true_divide> onnx;
  EXPECT_EQ(pt.quantize(&x, {1}, p).code(0), 128);
  EXPECT_EQ(onnx.quantize(&x, {1}, p).code(0), 127);
  // Exact ties round half to even under both.
  const float ties[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f};
  const lowbit::qparams one({1.f}, {10});
  for (int i = 0; i < 6; ++i) {
    const int expect = static_cast<int>(std::nearbyint(ties[i])) + 10;
    EXPECT_EQ(pt.quantize(&ties[i], {1}, one).code(0), expect);
    EXPECT_EQ(onnx.quantize(&ties[i], {1}, one).code(0), expect);
  }
  EXPECT_EQ(static_cast<int>(std::nearbyint(2.5f)), 2);
}

TEST(quantizer, inf_saturation_is_opt_in) {
  const float x[] = {1.f, std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
  const lowbit::qparams p({0.1f}, {3});
  lowbit::quantizer<lowbit::uint8, lowbit::affine> strict;
  EXPECT_THROW(strict.quantize(x, {3}, p), lowbit::error);
  lowbit::quantizer<lowbit::uint8, lowbit::affine> saturating(lowbit::per_tensor{}, lowbit::inf_policy::saturate);
  const auto t = saturating.quantize(x, {3}, p);
  EXPECT_EQ(t.code(0), 13);
  EXPECT_EQ(t.code(1), 255);
  EXPECT_EQ(t.code(2), 0);
}

TEST(quantizer, given_qparams_are_used_as_is) {
  const float x[] = {-1.f, 0.f, 0.26f, 100.f};
  lowbit::quantizer<lowbit::int8, lowbit::affine> q;
  const auto t = q.quantize(x, {4}, lowbit::qparams({0.25f}, {-10}));
  EXPECT_EQ(t.code(0), -14);
  EXPECT_EQ(t.code(1), -10);
  EXPECT_EQ(t.code(2), -9);
  EXPECT_EQ(t.code(3), 127);
}

// The newcomer's report: a custom range needed a type derived from a detail name. integer_format
// is public, and a quantizer takes it like any format.
struct uint7 : lowbit::integer_format<8, false, 0, 127> {
  static constexpr const char* name = "uint7";
};
TEST(quantizer, takes_custom_integer_formats) {
  static_assert(lowbit::is_format_v<uint7>);
  static_assert(uint7::qmax == 127 && !uint7::is_signed && uint7::bits == 8);
  using int3 = lowbit::integer_format<4, true, -4, 3>;
  static_assert(lowbit::is_format_v<int3>);
  EXPECT_STREQ(int3::name, "custom");
  Eigen::RowVector4f x(-1.f, 0.f, 2.f, 3.f);
  const auto t = lowbit::quantizer<uint7, lowbit::affine>().quantize(x);
  EXPECT_EQ(t.code(3), 127);
  EXPECT_EQ(t.code(0), 0);
  const auto t3 = lowbit::quantizer<int3, lowbit::symmetric>().quantize(x);
  EXPECT_EQ(t3.code(3), 3);
  EXPECT_EQ(t3.code(0), -1);
}

// The newcomer's report: quantizer<uint8> silently meant symmetric (zero point 128). The default
// scheme now follows PyTorch's defaults: affine for unsigned formats, symmetric for signed ones.
TEST(quantizer, default_scheme_is_affine_for_unsigned_and_symmetric_for_signed) {
  static_assert(std::is_same_v<lowbit::quantizer<lowbit::uint8>::scheme, lowbit::affine>);
  static_assert(std::is_same_v<lowbit::quantizer<lowbit::uint4>::scheme, lowbit::affine>);
  static_assert(std::is_same_v<lowbit::quantizer<lowbit::int8>::scheme, lowbit::symmetric>);
  static_assert(std::is_same_v<lowbit::quantizer<lowbit::int2>::scheme, lowbit::symmetric>);
  Eigen::RowVector2f x(0.5f, 2.f);
  EXPECT_EQ(lowbit::quantizer<lowbit::uint8>().quantize(x).params().zero_point[0], 0);  // PyTorch's MinMaxObserver
}

}  // namespace
