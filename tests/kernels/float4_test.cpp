// The 4-bit table-code dequantization (NF4, FP4): every path bit for bit against the scalar loop,
// the scalar loop against an independent formulation. Also compiled as
// lowbit_kernels_emulated_tests (AVX2 and AVX-512 on SIMDe).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "lowbit/kernels/float4.hpp"
#include "lowbit/lowbit.hpp"
#include "support/paths.hpp"
#include "support/random.hpp"

namespace {

using lowbit::index_t;
using lowbit::kernel_path;

class float4_dequantize : public lowbit_test::path_test {};

TEST_P(float4_dequantize, every_path_matches_the_scalar_loop) {
  lowbit_test::rng g(111);
  float table[16];
  for (float& t : table) t = g.normal();
  table[5] = -0.0f;
  for (index_t block : {2, 16, 32, 64, 128, 4096}) {
    for (index_t n : {0, 1, 2, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 1000, 5000}) {
      const index_t blocks = (n + block - 1) / block;
      std::vector<std::uint8_t> packed(static_cast<std::size_t>((n + 1) / 2));
      for (auto& b : packed) b = static_cast<std::uint8_t>(g.integer(0, 255));
      std::vector<float> absmax(static_cast<std::size_t>(blocks));
      for (auto& a : absmax) a = g.uniform(0.f, 3.f);
      if (blocks > 1) absmax[1] = 0.0f;
      std::vector<float> want(static_cast<std::size_t>(n) + 1, 7.0f), got(want);
      lowbit::kernels::dequantize_float4(kernel_path::scalar, packed.data(), n, table, absmax.data(), block, want.data());
      lowbit::kernels::dequantize_float4(GetParam(), packed.data(), n, table, absmax.data(), block, got.data());
      ASSERT_EQ(std::memcmp(want.data(), got.data(), sizeof(float) * want.size()), 0) << "block " << block << " n " << n;
      EXPECT_EQ(got[static_cast<std::size_t>(n)], 7.0f) << "wrote past the end";
      // Independent: byte j holds elements 2j (high nibble) and 2j + 1 (low nibble).
      for (index_t j = 0; j < n; ++j) {
        const std::uint8_t byte = packed[static_cast<std::size_t>(j / 2)];
        const int code = j % 2 == 0 ? byte / 16 : byte % 16;
        const float v = table[code] * absmax[static_cast<std::size_t>(j / block)];
        ASSERT_EQ(std::memcmp(&v, &want[static_cast<std::size_t>(j)], sizeof v), 0) << j;
      }
    }
  }
}

// Outputs of float4_stream_min floats and more: the x86 kernels write them with non-temporal
// stores when the output is aligned, with ordinary stores when not; the values are the same.
TEST_P(float4_dequantize, large_outputs_aligned_or_not_match_the_scalar_loop) {
  const kernel_path p = GetParam();  // only the x86 kernels stream (and qemu would take seconds)
  if (p != kernel_path::avx2 && p != kernel_path::avxvnni && p != kernel_path::avx512 && p != kernel_path::avx512vnni) GTEST_SKIP();
  lowbit_test::rng g(112);
  const float* table = lowbit::float4_table(lowbit::float4_kind::nf4);
  // Block 64; block 48 (AVX-512: a step of 32 and a scalar tail of 16 per block, AVX2 streams all).
  for (index_t block : {64, 48}) {
    const index_t n = lowbit::kernels::float4_stream_min + 3 * block + 10;
    std::vector<std::uint8_t> packed(static_cast<std::size_t>((n + 1) / 2));
    for (auto& b : packed) b = static_cast<std::uint8_t>(g.integer(0, 255));
    std::vector<float> absmax(static_cast<std::size_t>((n + block - 1) / block));
    for (auto& a : absmax) a = g.uniform(0.f, 3.f);
    lowbit::detail::aligned_vector<float> want(static_cast<std::size_t>(n) + 17), got(want.size());
    lowbit::kernels::dequantize_float4(kernel_path::scalar, packed.data(), n, table, absmax.data(), block, want.data());
    for (index_t offset : {0, 1, 16}) {  // floats: aligned (streams), misaligned, aligned again
      std::fill(got.begin(), got.end(), 7.0f);
      lowbit::kernels::dequantize_float4(GetParam(), packed.data(), n, table, absmax.data(), block, got.data() + offset);
      ASSERT_EQ(std::memcmp(want.data(), got.data() + offset, sizeof(float) * static_cast<std::size_t>(n)), 0)
          << "block " << block << " offset " << offset;
      for (index_t i = 0; i < offset; ++i) ASSERT_EQ(got[static_cast<std::size_t>(i)], 7.0f) << "wrote before the start";
      ASSERT_EQ(got[static_cast<std::size_t>(n + offset)], 7.0f) << "wrote past the end";
    }
  }
}

// float4_gemv against the expanded weights multiplied in double: every path within float
// rounding of the sum (the paths add in different orders).
TEST_P(float4_dequantize, gemv_is_the_product_with_the_expanded_weights) {
  lowbit_test::rng g(112);
  float table[16];
  for (float& t : table) t = g.normal();
  for (index_t block : {16, 32, 64, 128}) {
    for (index_t k : {128, 256, 1024}) {
      for (index_t m : {1, 2, 3, 4, 5, 9}) {
        const index_t n = 37;
        std::vector<std::uint8_t> packed(static_cast<std::size_t>(n * k / 2));
        for (auto& b : packed) b = static_cast<std::uint8_t>(g.integer(0, 255));
        std::vector<float> absmax(static_cast<std::size_t>(n * k / block));
        for (auto& a : absmax) a = g.uniform(0.f, 2.f);
        std::vector<float> w(static_cast<std::size_t>(n * k)), x(static_cast<std::size_t>(m * (k + 3)));
        lowbit::kernels::dequantize_float4(kernel_path::scalar, packed.data(), n * k, table, absmax.data(), block, w.data());
        for (auto& v : x) v = g.normal();
        std::vector<float> y(static_cast<std::size_t>(m * (n + 1)), 5.0f);
        lowbit::kernels::float4_gemv(GetParam(), packed.data(), absmax.data(), n, k, block, table, x.data(), m, k + 3, y.data(), n + 1);
        for (index_t r = 0; r < m; ++r) {
          for (index_t c = 0; c < n; ++c) {
            double want = 0, mag = 0;
            for (index_t i = 0; i < k; ++i) {
              const double p = static_cast<double>(x[static_cast<std::size_t>(r * (k + 3) + i)]) * w[static_cast<std::size_t>(c * k + i)];
              want += p;
              mag += std::fabs(p);
            }
            ASSERT_NEAR(y[static_cast<std::size_t>(r * (n + 1) + c)], want, 1e-5 * mag + 1e-6)
                << "block " << block << " k " << k << " m " << m << " row " << r << " col " << c;
          }
          EXPECT_EQ(y[static_cast<std::size_t>(r * (n + 1) + n)], 5.0f) << "wrote past its row";
        }
      }
    }
  }
}

LOWBIT_INSTANTIATE_FOR_PATHS(float4_dequantize);

}  // namespace
