// core/shape.hpp: axis normalization, checked sizes, and the strings error messages use.
#include <gtest/gtest.h>

#include <limits>
#include <vector>

#include "lowbit/core/shape.hpp"
#include "support/errors.hpp"

namespace {

using lowbit::index_t;
namespace d = lowbit::detail;

TEST(shape, normalize_axis) {
  EXPECT_EQ(d::normalize_axis(0, 3, "t"), 0);
  EXPECT_EQ(d::normalize_axis(-1, 3, "t"), 2);
  EXPECT_EQ(d::normalize_axis(-3, 3, "t"), 0);
  EXPECT_THROW(d::normalize_axis(3, 3, "t"), lowbit::error);
  EXPECT_THROW(d::normalize_axis(-4, 3, "t"), lowbit::error);
  const std::string e = lowbit_test::error_of([] { d::normalize_axis(5, 2, "quantize"); });
  EXPECT_TRUE(lowbit_test::contains(e, "quantize: axis 5 is out of range for a tensor of rank 2 (valid: -2 to 1)")) << e;
}

TEST(shape, checked_size) {
  EXPECT_EQ(d::checked_size({2, 3, 4}, "t"), 24);
  EXPECT_EQ(d::checked_size({}, "t"), 1);
  EXPECT_EQ(d::checked_size({5, 0, 7}, "t"), 0);
  EXPECT_THROW(d::checked_size({2, -1}, "t"), lowbit::error);
  const index_t big = std::numeric_limits<index_t>::max() / 2;
  EXPECT_THROW(d::checked_size({big, 3}, "t"), lowbit::error);
}

TEST(shape, strings_and_positions) {
  EXPECT_EQ(d::shape_string({2, 3}), "[2, 3]");
  EXPECT_EQ(d::shape_string({}), "[]");
  EXPECT_EQ(d::multi_index({4, 50}, 107), "[2, 7]");
  EXPECT_EQ(d::multi_index({2, 3, 4}, 23), "[1, 2, 3]");
  EXPECT_EQ(d::ceil_div(0, 4), 0);
  EXPECT_EQ(d::ceil_div(9, 4), 3);
  EXPECT_EQ(d::ceil_div(5, std::numeric_limits<index_t>::max()), 1);
}

}  // namespace
