// The weight search's kernel, sum (|fake_quantize(x) - x| * ref)^norm: every path bit for bit
// against the scalar reference, and the reference against std::pow in double. Also compiled as
// lowbit_kernels_emulated_tests (AVX2 and AVX-512 on SIMDe).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "lowbit/kernels/power_error.hpp"
#include "lowbit/lowbit.hpp"
#include "support/paths.hpp"
#include "support/random.hpp"

namespace {

using lowbit::index_t;
using lowbit::kernel_path;
namespace k = lowbit::kernels;

struct candidate {
  float scale;
  std::int32_t zp;
  std::int32_t qmin, qmax;
};

// Independent: the quantizer's own fake_quantize, the error in double, std::pow in double.
template <class Rounding>
double pow_reference(const std::vector<float>& x, const candidate& c, float ref, float norm) {
  double sum = 0;
  for (float v : x) {
    float r = Rounding::apply(v, Rounding::factor(c.scale));
    r = std::min(std::max(r, static_cast<float>(c.qmin - c.zp)), static_cast<float>(c.qmax - c.zp));
    const double deq = static_cast<double>(std::nearbyint(r)) * c.scale;  // exact product in double
    sum += std::pow(std::fabs(deq - v) * ref, static_cast<double>(norm));
  }
  return sum;
}

std::vector<float> values(lowbit_test::rng& g, index_t n, float magnitude) {
  std::vector<float> x(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) {
    switch (i % 6) {
      case 0: x[i] = g.normal(0.f, magnitude); break;
      case 1: x[i] = 0.0f; break;                                            // exactly on the grid
      case 2: x[i] = g.uniform(-3.f, 3.f) * magnitude; break;               // often clipped
      case 3: x[i] = g.normal(0.f, magnitude * 1e-3f); break;               // tiny errors
      case 4: x[i] = static_cast<float>(g.integer(-7, 7)) * magnitude / 7; break;  // on or near the grid
      default: x[i] = g.normal(0.f, magnitude * 0.3f); break;
    }
  }
  return x;
}

class power_error : public lowbit_test::path_test {};

template <class Rounding>
void check(kernel_path path, lowbit_test::rng& g) {
  SCOPED_TRACE(Rounding::name);
  const float norms[] = {2.4f, 2.0f, 1.0f, 0.5f, 3.7f};
  for (index_t n : {0, 1, 5, 15, 16, 17, 31, 255, 256, 257, 511, 1000, 4099}) {
    for (float magnitude : {1.0f, 0.02f, 3e30f, 2e-30f}) {
      const std::vector<float> x = values(g, n, magnitude);
      int e = 0;
      std::frexp(3 * magnitude, &e);
      const float ref = std::ldexp(1.0f, 2 - e);
      for (const candidate c : {candidate{magnitude / 7, 0, -8, 7}, candidate{magnitude / 100, 128, 0, 255},
                                candidate{magnitude / 1.5f, 1, 0, 3}, candidate{magnitude * 2, -1, -2, 1}}) {
        for (float norm : norms) {
          const k::power_candidate pc{Rounding::factor(c.scale), c.scale, static_cast<float>(c.qmin - c.zp),
                                      static_cast<float>(c.qmax - c.zp)};
          const k::power_candidate two[2] = {pc, pc};
          double want[2], got[2];
          k::power_errors<Rounding>(kernel_path::scalar, x.data(), n, two, 2, ref, norm, want);
          k::power_errors<Rounding>(path, x.data(), n, two, 2, ref, norm, got);
          ASSERT_EQ(std::memcmp(want, got, sizeof want), 0)
              << "n " << n << " magnitude " << magnitude << " scale " << c.scale << " norm " << norm << ": " << got[0]
              << " vs scalar " << want[0];
          const double exact = pow_reference<Rounding>(x, c, ref, norm);
          ASSERT_NEAR(want[0], exact, 4e-6 * exact + 1e-30)
              << "n " << n << " magnitude " << magnitude << " scale " << c.scale << " norm " << norm;
        }
      }
    }
  }
}

TEST_P(power_error, every_path_matches_the_scalar_reference_which_matches_std_pow) {
  lowbit_test::rng g(31);
  check<lowbit::reciprocal_multiply>(GetParam(), g);
  check<lowbit::true_divide>(GetParam(), g);
}

// The candidates of a weight search over x (int4 symmetric, p = 1 - i / 100, i < count).
template <class Rounding>
std::vector<k::power_candidate> shrinking(const std::vector<float>& x, index_t count) {
  float m = 0;
  for (float v : x) m = std::max(m, std::fabs(v));
  std::vector<k::power_candidate> c;
  for (index_t i = 0; i < count; ++i) {
    const float scale = std::max((1.0f - static_cast<float>(i) / 100.0f) * m / 7.0f, 1e-30f);
    c.push_back({Rounding::factor(scale), scale, -8.0f, 7.0f});
  }
  return c;
}

// A bounded sum below its limit is the whole sum; at or above it, it is at most the whole sum,
// which is then at or above the limit too.
template <class Rounding>
void check_bounded(kernel_path path, lowbit_test::rng& g) {
  SCOPED_TRACE(Rounding::name);
  int stopped_early = 0;
  // 48 and 300: a comparison point falls among the last chunk's final 1 to 3 vectors.
  for (index_t n : {1, 31, 32, 33, 48, 64, 100, 255, 256, 257, 300, 600, 4099}) {
    const std::vector<float> x = values(g, n, 1.0f);
    const std::vector<k::power_candidate> c = shrinking<Rounding>(x, 40);
    std::vector<double> whole(c.size());
    k::power_errors<Rounding>(kernel_path::scalar, x.data(), n, c.data(), static_cast<index_t>(c.size()), 0.5f, 2.4f,
                              whole.data());
    for (std::size_t j = 0; j < c.size(); ++j) {
      for (double fraction : {0.0, 0.1, 0.5, 0.9, 1.0, 1.1}) {
        const double limit = fraction * whole[j];
        const double got = lowbit::dispatch(path, [&](auto tag) {
          return k::bounded_power_error<Rounding>(tag, x.data(), n, c[j], 0.5f, 2.4f, limit);
        });
        // Every path compares at the scalar path's points and returns the same partial sum.
        ASSERT_EQ(got, k::bounded_power_error<Rounding>(lowbit::paths::scalar{}, x.data(), n, c[j], 0.5f, 2.4f, limit))
            << "n " << n << " candidate " << j << " limit " << limit;
        if (got < limit) {
          ASSERT_EQ(got, whole[j]) << "n " << n << " candidate " << j << " limit " << limit;
        } else {
          ASSERT_LE(got, whole[j]) << "n " << n << " candidate " << j << " limit " << limit;
          stopped_early += got < whole[j];
        }
        if (whole[j] < limit) {
          ASSERT_EQ(got, whole[j]);
        }
      }
    }
  }
  EXPECT_GT(stopped_early, 0);  // partial sums were returned, not only whole ones
  // Values that end in zeros: the last partial sums equal the whole sum, which must then come back
  // unchanged at a limit equal to it (a partial sum formed in another order could exceed it).
  for (index_t n : {96, 300, 1024, 5000}) {
    std::vector<float> x = values(g, n, 1.0f);
    std::fill(x.begin() + n / 3, x.end(), 0.0f);
    const std::vector<k::power_candidate> c = shrinking<Rounding>(x, 10);
    std::vector<double> whole(c.size());
    k::power_errors<Rounding>(kernel_path::scalar, x.data(), n, c.data(), 10, 0.5f, 2.4f, whole.data());
    for (std::size_t j = 0; j < c.size(); ++j) {
      const double got = lowbit::dispatch(path, [&](auto tag) {
        return k::bounded_power_error<Rounding>(tag, x.data(), n, c[j], 0.5f, 2.4f, whole[j]);
      });
      ASSERT_EQ(got, whole[j]) << "n " << n << " candidate " << j;
    }
  }
}

// least_power_error finds the first minimum of power_errors' sums, whatever the candidates.
template <class Rounding>
void check_least(kernel_path path, lowbit_test::rng& g) {
  SCOPED_TRACE(Rounding::name);
  auto first_minimum = [&](const std::vector<float>& x, const std::vector<k::power_candidate>& c, float norm) {
    std::vector<double> err(c.size());
    k::power_errors<Rounding>(kernel_path::scalar, x.data(), static_cast<index_t>(x.size()), c.data(),
                              static_cast<index_t>(c.size()), 0.5f, norm, err.data());
    return static_cast<index_t>(std::min_element(err.begin(), err.end()) - err.begin());
  };
  int differ_from_zero = 0;
  for (index_t n : {0, 1, 7, 131, 1000}) {
    for (float norm : {2.4f, 1.0f}) {
      std::vector<float> x = values(g, n, 1.0f);
      std::vector<k::power_candidate> c = shrinking<Rounding>(x, 80);
      auto least = [&] {
        return k::least_power_error<Rounding>(path, x.data(), n, c.data(), static_cast<index_t>(c.size()), 0.5f, norm);
      };
      const index_t want = first_minimum(x, c, norm);
      differ_from_zero += want != 0;
      ASSERT_EQ(least(), want) << "n " << n << " norm " << norm;
      // Reversed: the best candidate sits elsewhere in the order.
      std::reverse(c.begin(), c.end());
      ASSERT_EQ(least(), first_minimum(x, c, norm)) << "reversed, n " << n;
      // Ties: every candidate twice in a row, and the same candidate everywhere.
      std::vector<k::power_candidate> twice;
      for (const auto& one : c) twice.insert(twice.end(), {one, one});
      c = twice;
      const index_t tied = first_minimum(x, c, norm);
      ASSERT_EQ(tied % 2, 0);
      ASSERT_EQ(least(), tied) << "pairs, n " << n;
      const k::power_candidate one = c[static_cast<std::size_t>(tied)];
      c.assign(13, one);
      ASSERT_EQ(least(), 0) << "all equal, n " << n;
      // Values all on the grid of one candidate: its sum is 0.
      x.assign(static_cast<std::size_t>(n), 0.0f);
      c = shrinking<Rounding>(x, 30);
      ASSERT_EQ(least(), 0);
    }
  }
  EXPECT_GT(differ_from_zero, 0);  // the searches above are not all won by the first candidate
  // A tie before the best of the every-8th pass: candidates 7 and 8 are equal and the least, the
  // pass visits 8 first, so 7 must win on the tie (the bound for earlier candidates).
  const std::vector<float> x = values(g, 300, 1.0f);
  const std::vector<k::power_candidate> grid = shrinking<Rounding>(x, 80);
  std::vector<double> err(grid.size());
  k::power_errors<Rounding>(kernel_path::scalar, x.data(), 300, grid.data(), 80, 0.5f, 2.4f, err.data());
  const auto best = static_cast<std::size_t>(std::min_element(err.begin(), err.end()) - err.begin());
  // The others: the grid's 14 largest sums, all above the least.
  std::vector<std::size_t> order(grid.size());
  for (std::size_t j = 0; j < order.size(); ++j) order[j] = j;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return err[a] > err[b]; });
  std::vector<k::power_candidate> c;
  for (std::size_t j = 0; j < 14; ++j) {
    ASSERT_GT(err[order[j]], err[best]);
    c.push_back(grid[order[j]]);
  }
  c.insert(c.begin() + 7, {grid[best], grid[best]});
  ASSERT_EQ(k::least_power_error<Rounding>(path, x.data(), 300, c.data(), 16, 0.5f, 2.4f), 7);
}

TEST_P(power_error, a_bounded_sum_is_exact_below_its_limit_and_a_lower_bound_above) {
  lowbit_test::rng g(32);
  check_bounded<lowbit::reciprocal_multiply>(GetParam(), g);
  check_bounded<lowbit::true_divide>(GetParam(), g);
}

TEST_P(power_error, the_least_sum_is_the_first_minimum_of_all_sums) {
  lowbit_test::rng g(33);
  check_least<lowbit::reciprocal_multiply>(GetParam(), g);
  check_least<lowbit::true_divide>(GetParam(), g);
}

LOWBIT_INSTANTIATE_FOR_PATHS(power_error);

}  // namespace
