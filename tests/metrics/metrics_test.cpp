// Error metrics against values computed by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "lowbit/lowbit.hpp"

namespace {

TEST(metrics, hand_computed) {
  Eigen::MatrixXf x(1, 4), y(1, 4);
  x << 1, 2, 3, 4;
  y << 1, 2, 3, 5;
  const lowbit::error_stats s = lowbit::compare(x, y);
  EXPECT_DOUBLE_EQ(s.mse, 0.25);
  EXPECT_DOUBLE_EQ(s.max_abs, 1.0);
  EXPECT_DOUBLE_EQ(s.sqnr_db, 10.0 * std::log10(30.0 / 1.0));
  EXPECT_DOUBLE_EQ(s.cosine, 34.0 / (std::sqrt(30.0) * std::sqrt(39.0)));
  EXPECT_DOUBLE_EQ(lowbit::sqnr_db(x, y), s.sqnr_db);
  EXPECT_DOUBLE_EQ(lowbit::mse(x, y), 0.25);
  EXPECT_DOUBLE_EQ(lowbit::max_abs_error(x, y), 1.0);
  EXPECT_DOUBLE_EQ(lowbit::cosine_similarity(x, y), s.cosine);
}

TEST(metrics, edge_cases) {
  Eigen::MatrixXf x = Eigen::MatrixXf::Ones(2, 2), z = Eigen::MatrixXf::Zero(2, 2);
  EXPECT_EQ(lowbit::sqnr_db(x, x), std::numeric_limits<double>::infinity());
  EXPECT_EQ(lowbit::sqnr_db(z, x), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(lowbit::cosine_similarity(z, z), 1.0);
  EXPECT_EQ(lowbit::cosine_similarity(z, x), 0.0);
  EXPECT_THROW(lowbit::mse(x, Eigen::MatrixXf::Ones(2, 3)), lowbit::error);
  const Eigen::MatrixXf e(0, 3);
  EXPECT_EQ(lowbit::mse(e, e), 0.0);
}

// Issue 13, finding 9: max_abs_error ignored NaN. A NaN difference now makes it NaN, wherever it is.
TEST(metrics, nan_is_never_hidden) {
  Eigen::MatrixXf x = Eigen::MatrixXf::Ones(2, 3), y = x;
  y(0, 1) = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(lowbit::max_abs_error(x, y)));
  y(0, 1) = 1.f;
  y(1, 2) = std::numeric_limits<float>::quiet_NaN();  // last element, after larger differences
  y(0, 0) = 5.f;
  EXPECT_TRUE(std::isnan(lowbit::max_abs_error(x, y)));
  EXPECT_TRUE(std::isnan(lowbit::mse(x, y)));
  EXPECT_TRUE(std::isnan(lowbit::sqnr_db(x, y)));
}

TEST(metrics, storage_order_does_not_matter) {
  Eigen::MatrixXf x = Eigen::MatrixXf::Random(3, 5);
  lowbit::row_matrix xr = x;
  EXPECT_EQ(lowbit::mse(x, xr), 0.0);
}

}  // namespace
