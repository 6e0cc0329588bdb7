// io/ggml_blocks.hpp: quantization byte-equal to the independent generator's blocks
// (tests/golden/generate_ggml.py), conversions exact both ways for arbitrary blocks, the GEMM on
// converted weights on every path, and bad input.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "lowbit/io/ggml_blocks.hpp"
#include "lowbit/lowbit.hpp"
#include "support/errors.hpp"
#include "support/golden.hpp"
#include "support/paths.hpp"
#include "support/random.hpp"

namespace {

using lowbit::index_t;
using lowbit::row_matrix;
using namespace lowbit;

row_matrix matrix_of(const lowbit_test::golden_record& r) {
  row_matrix m(r.shape[0], r.shape[1]);
  std::memcpy(m.data(), r.f32.data(), r.f32.size() * sizeof(float));
  return m;
}

template <class Block>
std::vector<std::uint8_t> bytes_of(const std::vector<Block>& blocks) {
  std::vector<std::uint8_t> b(blocks.size() * sizeof(Block));
  std::memcpy(b.data(), blocks.data(), b.size());
  return b;
}

std::vector<std::uint8_t> golden_bytes(const lowbit_test::golden_record& r) {
  return std::vector<std::uint8_t>(r.i64.begin(), r.i64.end());
}

template <class Block>
std::vector<Block> blocks_of(const std::vector<std::uint8_t>& bytes) {
  std::vector<Block> b(bytes.size() / sizeof(Block));
  std::memcpy(b.data(), bytes.data(), bytes.size());
  return b;
}

TEST(ggml_blocks, quantization_matches_the_independent_generator_byte_for_byte) {
  const lowbit_test::golden_file golden("ggml_golden.txt");
  for (const std::string c : {"special", "normal"}) {
    const row_matrix w = matrix_of(golden[c + ".w"]);
    EXPECT_EQ(bytes_of(ggml::quantize_q4_0(w)), golden_bytes(golden[c + ".q4_0"])) << c;
    EXPECT_EQ(bytes_of(ggml::quantize_q4_1(w)), golden_bytes(golden[c + ".q4_1"])) << c;
    EXPECT_EQ(bytes_of(ggml::quantize_q8_0(w)), golden_bytes(golden[c + ".q8_0"])) << c;
  }
}

TEST(ggml_blocks, golden_blocks_round_trip_through_packed_weights) {
  const lowbit_test::golden_file golden("ggml_golden.txt");
  for (const std::string c : {"special", "normal"}) {
    const row_matrix w = matrix_of(golden[c + ".w"]);
    const index_t n = w.rows(), k = w.cols();
    const auto q40 = blocks_of<ggml::block_q4_0>(golden_bytes(golden[c + ".q4_0"]));
    const auto q41 = blocks_of<ggml::block_q4_1>(golden_bytes(golden[c + ".q4_1"]));
    const auto q80 = blocks_of<ggml::block_q8_0>(golden_bytes(golden[c + ".q8_0"]));
    const auto p40 = ggml::from_q4_0(q40.data(), n, k);
    const auto p41 = ggml::from_q4_1(q41.data(), n, k);
    const auto p80 = ggml::from_q8_0(q80.data(), n, k);
    EXPECT_EQ(bytes_of(ggml::to_q4_0(p40)), bytes_of(q40));
    EXPECT_EQ(bytes_of(ggml::to_q4_1(p41)), bytes_of(q41));
    EXPECT_EQ(bytes_of(ggml::to_q8_0(p80)), bytes_of(q80));
    EXPECT_TRUE(p40.dequantize() == ggml::dequantize(q40.data(), n, k));
    EXPECT_TRUE(p41.dequantize() == ggml::dequantize(q41.data(), n, k));
    EXPECT_TRUE(p80.dequantize() == ggml::dequantize(q80.data(), n, k));
    // The formats' storage: 4.5, 5 and 8.5 bits per weight.
    EXPECT_EQ(p40.bits_per_weight(), 4.5);
    EXPECT_EQ(p41.bits_per_weight(), 5.0);
    EXPECT_EQ(p80.bits_per_weight(), 8.5);
    // The error of each symmetric format on these weights: half a step (Q8_0) or a whole step
    // (Q4_0, whose code 16 for -max clamps to 15), plus the code times the fp16 rounding of the
    // step (relative 2^-11, or 2^-25 for subnormal steps).
    const row_matrix d40 = p40.dequantize(), d80 = p80.dequantize();
    for (index_t r = 0; r < n; ++r)
      for (index_t j = 0; j < k; ++j) {
        const double amax = w.row(r).segment(j / 32 * 32, 32).cwiseAbs().maxCoeff();
        const auto bound = [&](double qmax, double steps) {
          const double d = amax / qmax;
          return (d * steps + qmax * std::max(d / 2048, std::ldexp(1.0, -25))) * 1.0001;
        };
        EXPECT_LE(std::abs(d40(r, j) - w(r, j)), bound(8, 1.0)) << r << ", " << j;
        EXPECT_LE(std::abs(d80(r, j) - w(r, j)), bound(127, 0.5)) << r << ", " << j;
      }
  }
}

TEST(ggml_blocks, arbitrary_blocks_convert_exactly_both_ways) {
  std::mt19937 g(17);
  const index_t n = 70, k = 96;  // N not a multiple of 64: the last panel is partial
  std::vector<ggml::block_q4_0> q40(static_cast<std::size_t>(n * k / 32));
  std::vector<ggml::block_q4_1> q41(q40.size());
  std::vector<ggml::block_q8_0> q80(q40.size());
  const auto finite_half = [&] {
    half_bits h;
    do h = static_cast<half_bits>(g()); while ((h & 0x7C00u) == 0x7C00u);  // any finite fp16: ±0, subnormals, negatives
    return h;
  };
  for (std::size_t i = 0; i < q40.size(); ++i) {
    q40[i].d = finite_half();
    q41[i].d = finite_half();
    q41[i].m = finite_half();
    q80[i].d = finite_half();
    for (auto& b : q40[i].qs) b = static_cast<std::uint8_t>(g());
    for (auto& b : q41[i].qs) b = static_cast<std::uint8_t>(g());
    for (auto& b : q80[i].qs) b = static_cast<std::int8_t>(g());
  }
  EXPECT_EQ(bytes_of(ggml::to_q4_0(ggml::from_q4_0(q40.data(), n, k))), bytes_of(q40));
  EXPECT_EQ(bytes_of(ggml::to_q4_1(ggml::from_q4_1(q41.data(), n, k))), bytes_of(q41));
  EXPECT_EQ(bytes_of(ggml::to_q8_0(ggml::from_q8_0(q80.data(), n, k))), bytes_of(q80));
}

TEST(ggml_blocks, lowbit_quantizers_with_groups_of_32_export_to_blocks) {
  lowbit_test::rng g(18);
  const row_matrix w = g.normal_matrix(12, 64, 0.1f);
  const auto p = pack_lowbit(w, quantizer<int8, symmetric, per_group>(per_group(1, 32)));
  const auto blocks = ggml::to_q8_0(p);
  EXPECT_TRUE(ggml::dequantize(blocks.data(), 12, 64) == p.dequantize());
}

class ggml_gemm_paths : public ::testing::TestWithParam<kernel_path> {};

// y = sa * sum_k ŵ_k a_k with ŵ ggml's dequantized weights, in double: the kernels add the
// groups' float sums in order, so they agree to a few ulps of the sum of magnitudes.
template <class Packed>
void expect_gemm_near(const Packed& p, const row_matrix& wq, const context& ctx) {
  lowbit_test::rng g(19);
  const index_t m = 5, k = p.k(), n = p.n();
  const row_matrix x = g.normal_matrix(m, k, 1.0f);
  const auto codes = quantizer<int8, symmetric, per_channel>(per_channel(0)).quantize(x);
  row_matrix y(m, n);
  lowbit_gemm(activations<int8>(codes), p, output_float{}, y.data(), n, ctx);
  const auto a = codes.int_repr();
  for (index_t r = 0; r < m; ++r)
    for (index_t c = 0; c < n; ++c) {
      double want = 0, mag = 0;
      for (index_t j = 0; j < k; ++j) want += static_cast<double>(wq(c, j)) * a(r, j), mag += std::abs(wq(c, j) * a(r, j));
      const double sa = codes.params().scale[static_cast<std::size_t>(r)];
      EXPECT_NEAR(y(r, c), want * sa, mag * sa * 1e-6 + 1e-30) << r << ", " << c;
    }
}

TEST_P(ggml_gemm_paths, converted_blocks_compute_their_dequantized_product) {
  const context ctx = context{}.with_path(GetParam());
  lowbit_test::rng g(20);
  const row_matrix w = g.normal_matrix(80, 256, 0.05f);
  const auto q40 = ggml::quantize_q4_0(w);
  const auto q41 = ggml::quantize_q4_1(w);
  const auto q80 = ggml::quantize_q8_0(w);
  expect_gemm_near(ggml::from_q4_0(q40.data(), 80, 256), ggml::dequantize(q40.data(), 80, 256), ctx);
  expect_gemm_near(ggml::from_q4_1(q41.data(), 80, 256), ggml::dequantize(q41.data(), 80, 256), ctx);
  expect_gemm_near(ggml::from_q8_0(q80.data(), 80, 256), ggml::dequantize(q80.data(), 80, 256), ctx);
}

LOWBIT_INSTANTIATE_FOR_PATHS(ggml_gemm_paths);

TEST(ggml_blocks, bad_input_is_a_clear_error) {
  using lowbit_test::contains;
  using lowbit_test::error_of;
  EXPECT_TRUE(contains(error_of([] { (void)ggml::quantize_q4_0(row_matrix::Zero(2, 48)); }), "K = 48 is not a multiple of the block size 32"));
  row_matrix w = row_matrix::Zero(2, 32);
  w(1, 7) = std::nanf("");
  EXPECT_TRUE(contains(error_of([&] { (void)ggml::quantize_q8_0(w); }), "weight [1, 7] = nan is not finite"));
  w(1, 7) = 1e6f;  // d = 1e6 / 8 is beyond fp16
  EXPECT_TRUE(contains(error_of([&] { (void)ggml::quantize_q4_0(w); }), "beyond fp16's range"));
  EXPECT_TRUE(contains(error_of([&] { (void)ggml::quantize_q4_1(w); }), "beyond fp16's range"));
  lowbit_test::rng g(21);
  const row_matrix x = g.normal_matrix(4, 64, 0.1f);
  EXPECT_TRUE(contains(error_of([&] { (void)ggml::to_q4_0(pack_lowbit(x, quantizer<int4, symmetric, per_group>(per_group(1, 64)))); }),
                       "groups of 64"));
  EXPECT_TRUE(contains(error_of([&] { (void)ggml::to_q4_1(pack_lowbit(x, quantizer<uint4, affine, per_group>(per_group(1, 32)))); }),
                       "offsets"));
  EXPECT_TRUE(contains(error_of([] { (void)ggml::from_q4_0(nullptr, 2, 64); }), "null blocks"));
  ggml::block_q8_0 inf_scale{};
  inf_scale.d = 0x7C00;
  EXPECT_TRUE(contains(error_of([&] { (void)ggml::from_q8_0(&inf_scale, 1, 32); }), "not finite"));
}

}  // namespace

namespace {
// The named absmax choice is Q8_0's scale: with groups of 32 its codes are Q8_0's (rounding ties,
// half to even here and half away from zero in ggml, do not occur in this data).
TEST(ggml_blocks, symmetric_absmax_groups_of_32_give_q8_0_codes) {
  lowbit_test::rng g(22);
  const row_matrix w = g.normal_matrix(16, 128, 0.1f);
  const auto t = quantizer<int8, symmetric_absmax, per_group>(per_group(1, 32)).quantize(w);
  const auto blocks = ggml::quantize_q8_0(w);
  const auto codes = t.int_repr();
  for (index_t r = 0; r < 16; ++r)
    for (index_t j = 0; j < 128; ++j) ASSERT_EQ(codes(r, j), blocks[static_cast<std::size_t>(r * 4 + j / 32)].qs[j % 32]) << r << ", " << j;
  for (index_t i = 0; i < 16 * 4; ++i) EXPECT_EQ(float_to_half(t.params().scale[static_cast<std::size_t>(i)]), blocks[static_cast<std::size_t>(i)].d);
}
}  // namespace
