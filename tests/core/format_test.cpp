// Number formats: ranges, packing order, code round trips.
#include <gtest/gtest.h>

#include <string>
#include <type_traits>
#include <vector>

#include "lowbit/lowbit.hpp"

namespace {

using lowbit::index_t;
namespace ks = lowbit::kernels::scalar;

TEST(format, ranges_follow_onnx_and_pytorch) {
  EXPECT_EQ(lowbit::int8::qmin, -128);
  EXPECT_EQ(lowbit::int8::qmax, 127);
  EXPECT_EQ(lowbit::uint8::qmin, 0);
  EXPECT_EQ(lowbit::uint8::qmax, 255);
  EXPECT_EQ(lowbit::int8_narrow::qmin, -127);
  EXPECT_EQ(lowbit::int4::qmin, -8);
  EXPECT_EQ(lowbit::int4::qmax, 7);
  EXPECT_EQ(lowbit::uint4::qmax, 15);
  EXPECT_EQ(lowbit::int2::qmin, -2);
  EXPECT_EQ(lowbit::int2::qmax, 1);
  EXPECT_EQ(lowbit::uint2::qmax, 3);
  EXPECT_EQ(lowbit::int3::qmin, -4);  // 3-bit ranges in 4-bit containers
  EXPECT_EQ(lowbit::int3::qmax, 3);
  EXPECT_EQ(lowbit::int3::per_byte, 2);
  EXPECT_EQ(lowbit::uint3::qmax, 7);
  EXPECT_EQ(lowbit::int4::per_byte, 2);
  EXPECT_EQ(lowbit::int2::per_byte, 4);
  EXPECT_TRUE(lowbit::is_format_v<lowbit::uint2>);
  EXPECT_FALSE(lowbit::is_format_v<int>);
}

TEST(format, packed_bytes_rounds_up) {
  EXPECT_EQ(lowbit::packed_bytes<lowbit::int8>(7), 7);
  EXPECT_EQ(lowbit::packed_bytes<lowbit::int4>(7), 4);
  EXPECT_EQ(lowbit::packed_bytes<lowbit::int4>(8), 4);
  EXPECT_EQ(lowbit::packed_bytes<lowbit::int2>(9), 3);
  EXPECT_EQ(lowbit::packed_bytes<lowbit::int2>(0), 0);
}

TEST(format, symmetric_zero_points_follow_pytorch) {
  EXPECT_EQ(lowbit::symmetric_zero_point<lowbit::int8>(), 0);
  EXPECT_EQ(lowbit::symmetric_zero_point<lowbit::int4>(), 0);
  EXPECT_EQ(lowbit::symmetric_zero_point<lowbit::uint8>(), 128);  // quint8's default range
  EXPECT_EQ(lowbit::symmetric_zero_point<lowbit::uint4>(), 7);    // (0 + 15) // 2
  EXPECT_EQ(lowbit::symmetric_zero_point<lowbit::uint2>(), 1);
  EXPECT_EQ(lowbit::symmetric_zero_point<lowbit::int3>(), 0);
  EXPECT_EQ(lowbit::symmetric_zero_point<lowbit::uint3>(), 3);  // (0 + 7) // 2
}

TEST(format, int4_first_element_in_low_nibble) {
  std::uint8_t b[2] = {0xFF, 0xFF};
  ks::store_code<lowbit::int4>(b, 0, 1);
  ks::store_code<lowbit::int4>(b, 1, -2);  // 0b1110
  ks::store_code<lowbit::int4>(b, 2, -8);  // last element of an odd-length run
  EXPECT_EQ(b[0], 0xE1);
  EXPECT_EQ(b[1], 0x08);  // unused high nibble zero
  EXPECT_EQ(ks::load_code<lowbit::int4>(b, 0), 1);
  EXPECT_EQ(ks::load_code<lowbit::int4>(b, 1), -2);
  EXPECT_EQ(ks::load_code<lowbit::int4>(b, 2), -8);
}

TEST(format, int2_packs_four_per_byte_low_bits_first) {
  std::uint8_t b[1] = {0};
  const int codes[4] = {1, -2, 0, -1};  // 01, 10, 00, 11
  for (int i = 0; i < 4; ++i) ks::store_code<lowbit::int2>(b, i, codes[i]);
  EXPECT_EQ(b[0], 0b11001001);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(ks::load_code<lowbit::int2>(b, i), codes[i]);
}

template <class F>
void round_trip_every_code() {
  std::vector<std::uint8_t> buf(lowbit::packed_bytes<F>(F::qmax - F::qmin + 1));
  index_t i = 0;
  for (int c = F::qmin; c <= F::qmax; ++c) ks::store_code<F>(buf.data(), i++, c);
  i = 0;
  for (int c = F::qmin; c <= F::qmax; ++c) EXPECT_EQ(ks::load_code<F>(buf.data(), i++), c) << F::name;
}

TEST(format, every_code_round_trips) {
  round_trip_every_code<lowbit::int8>();
  round_trip_every_code<lowbit::uint8>();
  round_trip_every_code<lowbit::int4>();
  round_trip_every_code<lowbit::uint4>();
  round_trip_every_code<lowbit::int2>();
  round_trip_every_code<lowbit::uint2>();
  round_trip_every_code<lowbit::int3>();
  round_trip_every_code<lowbit::uint3>();
}

// with_weight_format: bits and scheme to the (format, scheme) pair the weight tools use.
TEST(format, with_weight_format_names_each_pair_and_rejects_other_widths) {
  const auto describe = [](auto f, auto s) {
    using F = decltype(f);
    return std::to_string(F::qmin) + ".." + std::to_string(F::qmax) + (std::is_same_v<decltype(s), lowbit::affine> ? " affine" : " symmetric");
  };
  EXPECT_EQ(lowbit::with_weight_format(8, false, describe), "-128..127 symmetric");
  EXPECT_EQ(lowbit::with_weight_format(8, true, describe), "0..255 affine");
  EXPECT_EQ(lowbit::with_weight_format(4, false, describe), "-8..7 symmetric");
  EXPECT_EQ(lowbit::with_weight_format(4, true, describe), "0..15 affine");
  EXPECT_EQ(lowbit::with_weight_format(3, false, describe), "-4..3 symmetric");
  EXPECT_EQ(lowbit::with_weight_format(3, true, describe), "0..7 affine");
  EXPECT_EQ(lowbit::with_weight_format(2, false, describe), "-2..1 symmetric");
  EXPECT_EQ(lowbit::with_weight_format(2, true, describe), "0..3 affine");
  // A caller's own widths: only those are instantiated and accepted.
  EXPECT_EQ((lowbit::with_weight_format<8, 2>(2, true, describe)), "0..3 affine");
  EXPECT_THROW((void)(lowbit::with_weight_format<8, 2>(4, false, describe)), lowbit::error);
  int calls = 0;
  lowbit::with_weight_format<4>(4, false, [&](auto, auto) { ++calls; });  // fn returning void
  EXPECT_EQ(calls, 1);
  for (int bits : {0, 1, 5, 16}) {
    try {
      (void)lowbit::with_weight_format(bits, false, describe, "the caller");
      ADD_FAILURE() << bits << " bits accepted";
    } catch (const lowbit::error& e) {
      EXPECT_NE(std::string(e.what()).find("the caller: " + std::to_string(bits) + " bits"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
