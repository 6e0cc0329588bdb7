// quantized_tensor: storage size, accounting, assembly from parts.
#include <gtest/gtest.h>

#include <vector>

#include "lowbit/lowbit.hpp"
#include "support/random.hpp"

namespace {

using lowbit::index_t;

TEST(quantized_tensor, bytes_count_codes_and_qparams) {
  lowbit_test::rng g(31);
  const auto x = g.normal_matrix(8, 64);
  lowbit::quantizer<lowbit::int4, lowbit::symmetric, lowbit::per_channel> s4(lowbit::per_channel(0));
  EXPECT_EQ(s4.quantize(x).bytes(), 8 * 64 / 2 + 8 * 4);  // no zero points for symmetric
  lowbit::quantizer<lowbit::int4, lowbit::affine, lowbit::per_group> a4(lowbit::per_group(1, 32));
  EXPECT_EQ(a4.quantize(x).bytes(), 8 * 64 / 2 + 16 * (4 + 4));
  lowbit::quantizer<lowbit::int2, lowbit::affine> a2;
  EXPECT_EQ(a2.quantize(x).bytes(), 8 * 64 / 4 + 8);
  lowbit::quantizer<lowbit::uint8, lowbit::affine> a8;
  EXPECT_EQ(a8.quantize(x).data().size(), 512u);
}

TEST(quantized_tensor, odd_sizes_pad_the_last_byte_with_zero_bits) {
  const float x[] = {-1.f, 0.5f, 1.f};
  lowbit::quantizer<lowbit::int2, lowbit::symmetric> q;
  const auto t = q.quantize(x, {3});
  ASSERT_EQ(t.data().size(), 1u);
  EXPECT_EQ(t.data()[0] >> 6, 0);
}

TEST(quantized_tensor, assembles_from_parts_and_checks_them) {
  using T = lowbit::quantized_tensor<lowbit::int4>;
  const std::vector<std::uint8_t> packed = {0xE1, 0x07};  // codes 1, -2, 7, 0
  const T t({4}, lowbit::per_tensor{}, true, lowbit::qparams({0.5f}, {1}), packed);
  const auto m = t.dequantize();
  EXPECT_EQ(m.rows(), 1);
  EXPECT_EQ(m(0, 0), 0.f);
  EXPECT_EQ(m(0, 1), -1.5f);
  EXPECT_EQ(m(0, 2), 3.f);
  EXPECT_EQ(m(0, 3), -0.5f);
  EXPECT_THROW(T({5}, lowbit::per_tensor{}, true, lowbit::qparams({0.5f}, {1}), packed), lowbit::error);
  EXPECT_THROW(T({4}, lowbit::per_channel(0), true, lowbit::qparams({0.5f}, {1}), packed), lowbit::error);
  EXPECT_THROW(T({4}, lowbit::per_tensor{}, false, lowbit::qparams({0.5f}, {1}), packed), lowbit::error);
  EXPECT_THROW(T({4}, lowbit::per_tensor{}, true, lowbit::qparams({-0.5f}, {1}), packed), lowbit::error);
  EXPECT_THROW(T({2, 2}, lowbit::per_channel(2), true, lowbit::qparams({1.f, 1.f}, {0, 0}), packed),
               lowbit::error);
  EXPECT_NO_THROW(T({2, 2}, lowbit::per_channel(-1), true, lowbit::qparams({1.f, 1.f}, {0, 0}), packed));
}

TEST(quantized_tensor, bad_shapes_and_default_objects) {
  using T = lowbit::quantized_tensor<lowbit::int8>;
  const index_t huge = index_t{1} << 62;
  EXPECT_THROW(T({huge + 1, 4}, lowbit::per_tensor{}, false, lowbit::qparams({1.f}, {0}), {0, 0, 0, 0}), lowbit::error);
  const T empty;
  EXPECT_EQ(empty.size(), 0);
  EXPECT_EQ(empty.rows(), 0);
  EXPECT_EQ(empty.dequantize().size(), 0);
  for (lowbit::kernel_path p : lowbit::all_paths) {
    if (!lowbit::path_supported(p)) {
      EXPECT_THROW(empty.dequantize(lowbit::context{}.with_path(p)), lowbit::error) << lowbit::path_name(p);
    }
  }
  const float x[4] = {1, 2, 3, 4};
  lowbit::quantizer<lowbit::int8, lowbit::symmetric> q;
  EXPECT_THROW(q.quantize(x, {huge, 4}), lowbit::error);
}

TEST(quantized_tensor, dequantize_shapes) {
  std::vector<float> x(24);
  for (int i = 0; i < 24; ++i) x[i] = static_cast<float>(i) - 12.f;
  lowbit::quantizer<lowbit::int8, lowbit::symmetric> q;
  const auto t3 = q.quantize(x.data(), {2, 3, 4});
  EXPECT_EQ(t3.dequantize().rows(), 2);
  EXPECT_EQ(t3.dequantize().cols(), 12);
  std::vector<float> back(24);
  t3.dequantize_to(back.data());
  for (int i = 0; i < 24; ++i) EXPECT_NEAR(back[i], x[i], t3.params().scale[0] / 2 * 1.001f);
}

}  // namespace
