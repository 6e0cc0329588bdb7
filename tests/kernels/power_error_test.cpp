// The weight search's kernel, sum (|fake_quantize(x) - x| * ref)^norm: every path bit for bit
// against the scalar reference, and the reference against std::pow in double. Also compiled as
// lowbit_kernels_emulated_tests (AVX2 and AVX-512 on SIMDe).
#include <gtest/gtest.h>

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

LOWBIT_INSTANTIATE_FOR_PATHS(power_error);

}  // namespace
