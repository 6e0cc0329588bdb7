// tensor/float4_tensor.hpp: NF4 and FP4 byte for byte against bitsandbytes' algorithms (golden
// values from tests/golden/generate_nf4.py), double quantization, dequantization on every path,
// and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "lowbit/lowbit.hpp"
#include "lowbit/tensor/float4_tensor.hpp"
#include "support/errors.hpp"
#include "support/golden.hpp"
#include "support/paths.hpp"
#include "support/random.hpp"

namespace {

using lowbit::index_t;
using namespace lowbit;

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof a) == 0; }

TEST(float4, tables_are_bitsandbytes) {
  const lowbit_test::golden_file gf("nf4_golden.txt");
  for (int i = 0; i < 16; ++i) {
    EXPECT_TRUE(same_bits(float4_table(float4_kind::nf4)[i], gf["code.nf4"].f32[static_cast<std::size_t>(i)])) << i;
    EXPECT_TRUE(same_bits(float4_table(float4_kind::fp4)[i], gf["code.fp4"].f32[static_cast<std::size_t>(i)])) << i;
  }
  for (int i = 0; i < 256; ++i)
    EXPECT_TRUE(same_bits(detail::dynamic_map[i], gf["code.dynamic"].f32[static_cast<std::size_t>(i)])) << i;
  // The 8-bit rule on its own: midpoints (ties to the even index), values on the map, out of range.
  const auto& x = gf["dyn.x"].f32;
  const auto& codes = gf["dyn.codes"].i64;
  for (std::size_t i = 0; i < x.size(); ++i) EXPECT_EQ(detail::dynamic_code(x[i]), codes[i]) << "x = " << x[i];
}

class float4_golden : public lowbit_test::path_test {};

TEST_P(float4_golden, quantize_and_dequantize_match_bitsandbytes_on_every_path) {
  const lowbit_test::golden_file gf("nf4_golden.txt");
  const std::vector<float>& w = gf["w"].f32;
  for (float4_kind kind : {float4_kind::nf4, float4_kind::fp4}) {
    const std::string k = float4_name(kind);
    SCOPED_TRACE(k);
    const auto t = float4_tensor::quantize(w.data(), {static_cast<index_t>(w.size())}, kind);
    const auto& packed = gf[k + ".packed"].i64;
    ASSERT_EQ(t.packed().size(), packed.size());
    for (std::size_t i = 0; i < packed.size(); ++i) EXPECT_EQ(t.packed()[i], packed[i]) << "byte " << i;
    const auto& absmax = gf[k + ".absmax"].f32;
    ASSERT_EQ(t.absmax().size(), absmax.size());
    for (std::size_t i = 0; i < absmax.size(); ++i) EXPECT_TRUE(same_bits(t.absmax()[i], absmax[i])) << "block " << i;
    std::vector<float> back(w.size());
    t.dequantize_to(back.data(), context().with_path(GetParam()));
    const auto& want = gf[k + ".dequant"].f32;
    for (std::size_t i = 0; i < w.size(); ++i) EXPECT_TRUE(same_bits(back[i], want[i])) << "element " << i << ": " << back[i] << " vs " << want[i];
    // Assembled from the same parts: the same tensor.
    const float4_tensor again({static_cast<index_t>(w.size())}, kind, 64, t.packed(), t.absmax());
    EXPECT_EQ(again.dequantize(), t.dequantize());
    EXPECT_EQ(t.bytes(), 500 + 16 * 4);
  }
}

LOWBIT_INSTANTIATE_FOR_PATHS(float4_golden);

TEST(float4, double_quantization_matches_bitsandbytes) {
  const lowbit_test::golden_file gf("nf4_golden.txt");
  const std::vector<float>& in = gf["dq.absmax_in"].f32;
  const float4_nested_absmax r = double_quantize_absmax(in, 256);
  EXPECT_TRUE(same_bits(r.offset, gf["dq.offset"].f32[0]));
  const auto& codes = gf["dq.codes"].i64;
  ASSERT_EQ(r.codes.size(), codes.size());
  for (std::size_t i = 0; i < codes.size(); ++i) EXPECT_EQ(r.codes[i], codes[i]) << i;
  const auto& scale = gf["dq.scale"].f32;
  ASSERT_EQ(r.scale.size(), scale.size());
  for (std::size_t i = 0; i < scale.size(); ++i) EXPECT_TRUE(same_bits(r.scale[i], scale[i])) << i;
  const std::vector<float> out = r.dequantize();
  const auto& want = gf["dq.absmax_out"].f32;
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_TRUE(same_bits(out[i], want[i])) << i;
}

TEST(float4, double_quantized_tensor_round_trips_and_saves_bits) {
  lowbit_test::rng g(121);
  const row_matrix w = g.normal_matrix(64, 512, 0.02f);  // 512 blocks of 64: two nested blocks
  float4_options o;
  o.double_quant = true;
  const auto t = float4_tensor::quantize(w, float4_kind::nf4, o);
  const auto plain = float4_tensor::quantize(w, float4_kind::nf4);
  EXPECT_EQ(t.packed(), plain.packed());  // the codes come from the exact absmax
  EXPECT_TRUE(t.double_quantized());
  EXPECT_NEAR(t.bits_per_weight(), 4.0 + 8.0 / 64 + (2 * 32 + 32) / (64.0 * 512), 1e-9);  // 2 nested scales, the offset
  EXPECT_NEAR(plain.bits_per_weight(), 4.5, 1e-9);
  // Its absmax values are the nested codes dequantized, close to the exact ones.
  for (std::size_t i = 0; i < t.absmax().size(); ++i) EXPECT_NEAR(t.absmax()[i], plain.absmax()[i], 0.02f * plain.absmax()[i]);
  const float4_tensor again(t.shape(), t.kind(), t.block(), t.packed(), t.absmax_codes(), t.nested_scale(), t.offset(),
                            t.nested_block());
  EXPECT_EQ(again.dequantize(), t.dequantize());
  // NF4's error on normal weights: below int4 round to nearest with the same absmax blocks.
  const double e_nf4 = (plain.dequantize() - w).squaredNorm();
  const quantizer<int4, symmetric_absmax, per_group> q(per_group(1, 64));
  const double e_int4 = (q.quantize(w).dequantize() - w).squaredNorm();
  EXPECT_LT(e_nf4, e_int4);
}

// A large tensor dequantized by two threads into an aligned buffer (each thread's share streams
// past the caches) and into a misaligned one: the same floats as the scalar loop.
TEST(float4, large_dequantization_on_two_threads_matches_the_scalar_loop) {
  using lowbit::kernel_path;
  const kernel_path p = lowbit::active_path();  // only the x86 kernels stream (and qemu would take seconds)
  if (p != kernel_path::avx2 && p != kernel_path::avxvnni && p != kernel_path::avx512 && p != kernel_path::avx512vnni) GTEST_SKIP();
  lowbit_test::rng g(122);
  const index_t rows = 2 * lowbit::kernels::float4_stream_min / 4096 + 3, cols = 4096;
  std::vector<std::uint8_t> packed(static_cast<std::size_t>(rows * cols / 2));
  for (auto& b : packed) b = static_cast<std::uint8_t>(g.integer(0, 255));
  std::vector<float> absmax(static_cast<std::size_t>(rows * cols / 64));
  for (auto& a : absmax) a = g.uniform(0.f, 2.f);
  const float4_tensor t({rows, cols}, float4_kind::nf4, 64, packed, absmax);
  lowbit::detail::aligned_vector<float> want(static_cast<std::size_t>(rows * cols)), got(want.size() + 1);
  t.dequantize_to(want.data(), lowbit::context{}.with_threads(1).with_path(lowbit::kernel_path::scalar));
  for (std::size_t offset : {0, 1}) {
    t.dequantize_to(got.data() + offset, lowbit::context{}.with_threads(2));
    ASSERT_EQ(std::memcmp(want.data(), got.data() + offset, sizeof(float) * want.size()), 0) << offset;
  }
}

TEST(float4, shapes_blocks_and_bad_input) {
  lowbit_test::rng g(122);
  // Odd element count and a block that is not 64: the last low nibble is the code of 0.
  std::vector<float> x(101);
  for (float& v : x) v = g.normal();
  const auto t = float4_tensor::quantize(x.data(), {101}, float4_kind::nf4, {32});
  EXPECT_EQ(t.packed().size(), 51u);
  EXPECT_EQ(t.packed()[50] & 0x0F, 7);  // NF4's 0.0
  EXPECT_EQ(t.blocks(), 4);
  const auto back = t.dequantize();
  for (index_t i = 0; i < 101; ++i) {
    const float a = t.absmax()[static_cast<std::size_t>(i / 32)];
    EXPECT_LE(std::fabs(back(0, i) - x[static_cast<std::size_t>(i)]), 0.17f * a) << i;  // half NF4's widest gap
  }
  // Empty tensors quantize to nothing.
  const auto e = float4_tensor::quantize(nullptr, {0, 8}, float4_kind::fp4);
  EXPECT_EQ(e.size(), 0);
  EXPECT_EQ(e.dequantize().size(), 0);
  x[17] = std::numeric_limits<float>::quiet_NaN();
  std::string msg = lowbit_test::error_of([&] { (void)float4_tensor::quantize(x.data(), {101}, float4_kind::nf4); });
  EXPECT_TRUE(lowbit_test::contains(msg, "element 17")) << msg;
  x[17] = 0.f;
  msg = lowbit_test::error_of([&] { (void)float4_tensor::quantize(x.data(), {101}, float4_kind::nf4, {63}); });
  EXPECT_TRUE(lowbit_test::contains(msg, "even")) << msg;
  msg = lowbit_test::error_of([&] { float4_tensor({10}, float4_kind::nf4, 64, std::vector<std::uint8_t>(4), {1.f}); });
  EXPECT_TRUE(lowbit_test::contains(msg, "need 5 bytes")) << msg;
  msg = lowbit_test::error_of([&] { float4_tensor({10}, float4_kind::nf4, 64, std::vector<std::uint8_t>(5), {1.f, 2.f}); });
  EXPECT_TRUE(lowbit_test::contains(msg, "1 absmax values")) << msg;
  EXPECT_THROW(float4_tensor({10}, float4_kind::nf4, 64, std::vector<std::uint8_t>(5), {-1.f}), lowbit::error);
  EXPECT_THROW(float4_tensor({10}, float4_kind::nf4, 64, std::vector<std::uint8_t>(5), {std::uint8_t{1}}, {}, 0.f, 256),
               lowbit::error);
}

}  // namespace

namespace {

class float4_layer : public lowbit_test::path_test {};

TEST_P(float4_layer, is_the_product_with_the_dequantized_weights) {
  lowbit_test::rng g(123);
  // Shapes that take the fused path (in a multiple of 64) and the panels, with several chunks or
  // panels (600 x 128: three 256-row chunks; 2000 x 784: 13 panels of 164 rows) and with one.
  for (const auto& [out, in] : {std::pair<index_t, index_t>{48, 784}, {10, 128}, {300, 96}, {1, 2}, {600, 128}, {2000, 784}}) {
    SCOPED_TRACE(std::to_string(out) + " x " + std::to_string(in));
    const row_matrix w = g.normal_matrix(out, in, 0.05f);
    Eigen::RowVectorXf b(out);
    for (index_t i = 0; i < out; ++i) b(i) = g.normal();
    const float4_linear layer(w, float4_kind::nf4, {}, b);
    const row_matrix x = g.normal_matrix(7, in);
    const row_matrix wq = layer.weights().dequantize();
    row_matrix want = x * wq.transpose();
    want.rowwise() += b;
    const row_matrix y = layer.forward(x, output_float{}, context().with_path(GetParam()));
    EXPECT_LT((y - want).cwiseAbs().maxCoeff(), 1e-4f * (1.0f + want.cwiseAbs().maxCoeff()));
    const row_matrix yr = layer.forward(x, output_float{}.relu(), context().with_path(GetParam()).with_threads(2));
    EXPECT_LT((yr - want.cwiseMax(0.0f)).cwiseAbs().maxCoeff(), 1e-4f * (1.0f + want.cwiseAbs().maxCoeff()));
    const index_t blocks = (out * in + 63) / 64;
    EXPECT_EQ(layer.footprint().bytes, (out * in + 1) / 2 + 4 * blocks + 4 * out);  // codes, absmax, bias
    EXPECT_EQ(layer.footprint().float_bytes, 4 * (out * in + out));
  }
}

LOWBIT_INSTANTIATE_FOR_PATHS(float4_layer);

TEST(float4_layer, bad_input_is_a_clear_error) {
  lowbit_test::rng g(124);
  const float4_linear layer(g.normal_matrix(8, 64), float4_kind::fp4);
  std::string msg = lowbit_test::error_of([&] { (void)layer.forward(g.normal_matrix(2, 63)); });
  EXPECT_TRUE(lowbit_test::contains(msg, "63 features")) << msg;
  row_matrix x = g.normal_matrix(2, 64);
  x(1, 5) = std::numeric_limits<float>::infinity();
  msg = lowbit_test::error_of([&] { (void)layer.forward(x); });
  EXPECT_TRUE(lowbit_test::contains(msg, "input[1, 5]")) << msg;
  EXPECT_THROW((void)layer.forward(g.normal_matrix(2, 64), output_float{}.clamp(std::nanf(""), 1.f)), lowbit::error);
  EXPECT_THROW(float4_linear(g.normal_matrix(8, 64), float4_kind::nf4, {}, std::vector<float>(7)), lowbit::error);
  EXPECT_EQ(layer.forward(row_matrix(0, 64)).rows(), 0);
}

}  // namespace
