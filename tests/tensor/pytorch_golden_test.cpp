// Bit-exact agreement with PyTorch 1.13 on data from tests/golden/generate_core.py.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lowbit/lowbit.hpp"
#include "support/golden.hpp"

namespace {

using lowbit::index_t;

const lowbit_test::golden_file& golden() {
  static const lowbit_test::golden_file file("core_golden.txt");
  return file;
}

lowbit::row_matrix input(const std::string& name) {
  const auto& r = golden()[name + ".x"];
  return Eigen::Map<const lowbit::row_matrix>(r.f32.data(), r.shape[0], r.shape[1]);
}

template <class F, class S, class G>
void check(const std::string& key, const lowbit::row_matrix& x, const G& granularity) {
  SCOPED_TRACE(key);
  const auto& want_scale = golden()[key + ".scale"].f32;
  const auto& want_zp = golden()[key + ".zero_point"].i64;
  lowbit::quantizer<F, S, G> q(granularity);
  const lowbit::qparams p = q.qparams_for(q.observe(x));
  ASSERT_EQ(p.scale.size(), want_scale.size());
  for (std::size_t i = 0; i < want_scale.size(); ++i) {
    EXPECT_EQ(p.scale[i], want_scale[i]) << "slot " << i;
    EXPECT_EQ(p.zero_point[i], want_zp[i]) << "slot " << i;
  }
  // Quantize with PyTorch's qparams so that a qparam mismatch does not hide a kernel mismatch.
  lowbit::qparams theirs;
  theirs.scale = want_scale;
  for (auto z : want_zp) theirs.zero_point.push_back(static_cast<std::int32_t>(z));
  const auto t = q.quantize(x, theirs);
  const auto& want_q = golden()[key + ".q"].i64;
  ASSERT_EQ(static_cast<std::size_t>(t.size()), want_q.size());
  for (index_t i = 0; i < t.size(); ++i) ASSERT_EQ(t.code(i), want_q[static_cast<std::size_t>(i)]) << "element " << i;
  const auto& want_dq = golden()[key + ".dq"].f32;
  const lowbit::row_matrix back = t.dequantize();
  for (index_t i = 0; i < back.size(); ++i)
    ASSERT_EQ(back.data()[i], want_dq[static_cast<std::size_t>(i)]) << "element " << i;
}

class pytorch_golden : public ::testing::TestWithParam<std::string> {};

TEST_P(pytorch_golden, minmax_qparams_quantize_dequantize) {
  const std::string name = GetParam();
  const lowbit::row_matrix x = input(name);
  using lowbit::affine;
  using lowbit::symmetric;
  check<lowbit::uint8, affine>(name + ".u8_affine.tensor", x, lowbit::per_tensor{});
  check<lowbit::int8, affine>(name + ".s8_affine.tensor", x, lowbit::per_tensor{});
  check<lowbit::uint8, symmetric>(name + ".u8_symmetric.tensor", x, lowbit::per_tensor{});
  check<lowbit::int8, symmetric>(name + ".s8_symmetric.tensor", x, lowbit::per_tensor{});
  for (int axis : {0, 1}) {
    const std::string ch = ".channel" + std::to_string(axis);
    check<lowbit::uint8, affine>(name + ".u8_affine" + ch, x, lowbit::per_channel(axis));
    check<lowbit::int8, affine>(name + ".s8_affine" + ch, x, lowbit::per_channel(axis));
    check<lowbit::uint8, symmetric>(name + ".u8_symmetric" + ch, x, lowbit::per_channel(axis));
    check<lowbit::int8, symmetric>(name + ".s8_symmetric" + ch, x, lowbit::per_channel(axis));
  }
}

INSTANTIATE_TEST_SUITE_P(distributions, pytorch_golden,
                         ::testing::Values("normal", "uniform", "heavy", "positive", "constant",
                                           "zeros", "ties"));

TEST(pytorch_golden_ties, fixed_scale_and_odd_zero_points) {
  const auto& r = golden()["ties.x"];
  const lowbit::row_matrix x = Eigen::Map<const lowbit::row_matrix>(r.f32.data(), 1, 120);
  for (int zp : {3, 128}) {
    lowbit::quantizer<lowbit::uint8, lowbit::affine> q;
    const auto t = q.quantize(x, lowbit::qparams({0.25f}, {zp}));
    const auto& want = golden()["ties_fixed.u8.zp" + std::to_string(zp) + ".q"].i64;
    for (index_t i = 0; i < 120; ++i) ASSERT_EQ(t.code(i), want[static_cast<std::size_t>(i)]) << i;
  }
  for (int zp : {0, -5}) {
    lowbit::quantizer<lowbit::int8, lowbit::affine> q;
    const auto t = q.quantize(x, lowbit::qparams({0.25f}, {zp}));
    const auto& want = golden()["ties_fixed.s8.zp" + std::to_string(zp) + ".q"].i64;
    for (index_t i = 0; i < 120; ++i) ASSERT_EQ(t.code(i), want[static_cast<std::size_t>(i)]) << i;
  }
}

}  // namespace
