// tests/support/random.hpp: seeded random data; the seed is printed so a failure can be replayed.
//
// LOWBIT_TEST_SEED=<n> in the environment replaces the default seed of every generator.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>

namespace lowbit_test {

inline std::uint64_t test_seed(std::uint64_t fallback) {
  static const char* env = std::getenv("LOWBIT_TEST_SEED");
  const std::uint64_t seed = env ? std::strtoull(env, nullptr, 10) : fallback;
  static bool printed = false;
  if (!printed) {
    std::cout << "[ lowbit  ] random seed " << seed << " (set LOWBIT_TEST_SEED to replay)\n";
    printed = true;
  }
  return seed;
}

class rng {
 public:
  explicit rng(std::uint64_t seed = 1234) : engine_(test_seed(seed)) {}
  float normal(float mean = 0.f, float stddev = 1.f) {
    return std::normal_distribution<float>(mean, stddev)(engine_);
  }
  float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(engine_); }
  int integer(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(engine_); }

  using row_matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  row_matrix normal_matrix(std::ptrdiff_t rows, std::ptrdiff_t cols, float stddev = 1.f) {
    row_matrix m(rows, cols);
    for (std::ptrdiff_t i = 0; i < m.size(); ++i) m.data()[i] = normal(0.f, stddev);
    return m;
  }
  row_matrix uniform_matrix(std::ptrdiff_t rows, std::ptrdiff_t cols, float lo, float hi) {
    row_matrix m(rows, cols);
    for (std::ptrdiff_t i = 0; i < m.size(); ++i) m.data()[i] = uniform(lo, hi);
    return m;
  }
  std::mt19937_64& engine() { return engine_; }

 private:
  std::mt19937_64 engine_;
};

}  // namespace lowbit_test
