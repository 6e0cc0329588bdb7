// Every elementwise kernel path against the scalar reference, bit for bit, and the reference
// against an independent formulation. Also compiled as lowbit_kernels_emulated_tests, where the AVX2
// and AVX-512 paths run on SIMDe.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <numeric>
#include <vector>

#include "lowbit/kernels/histogram.hpp"
#include "lowbit/lowbit.hpp"
#include "support/paths.hpp"
#include "support/random.hpp"

namespace {

using lowbit::index_t;
using lowbit::kernel_path;
namespace k = lowbit::kernels;

constexpr std::uint8_t sentinel = 0xA5;
const std::vector<index_t> lengths = {0,  1,  2,  3,  4,  5,  7,  8,   9,   15,  16,  17,  31,
                                      32, 33, 47, 63, 64, 65, 96, 127, 128, 129, 255, 256, 257,
                                      1000, 4099};

// Independent formulation of the quantize step: round first, then add the zero point and clamp
// (kernels clamp first, then round; the two agree for integer bounds).
template <class F, class Rounding>
std::int32_t independent_quantize(float x, float factor, std::int32_t zp) {
  const float v = Rounding::divides ? x / factor : x * factor;
  if (v >= 4e9f) return F::qmax;
  if (v <= -4e9f) return F::qmin;
  const long long r = std::llrint(v) + zp;
  return static_cast<std::int32_t>(std::min<long long>(F::qmax, std::max<long long>(F::qmin, r)));
}

std::vector<float> test_values(lowbit_test::rng& g, index_t n, float scale) {
  std::vector<float> x(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) {
    switch (i % 5) {
      case 0: x[i] = g.normal(0.f, 40.f * scale); break;
      case 1: x[i] = (static_cast<float>(g.integer(-300, 300)) + 0.5f) * scale; break;  // near ties
      case 2: x[i] = g.uniform(-1000.f, 1000.f) * scale; break;                        // saturates
      case 3: x[i] = g.normal(0.f, 3.f * scale); break;
      default: x[i] = static_cast<float>(g.integer(-5, 5)) * scale; break;
    }
  }
  return x;
}

class elementwise : public lowbit_test::path_test {};

template <class F, class Rounding>
void check_quantize(kernel_path path, lowbit_test::rng& g) {
  SCOPED_TRACE(std::string(F::name) + " " + Rounding::name);
  for (index_t n : lengths) {
    SCOPED_TRACE("n = " + std::to_string(n));
    // A power-of-two scale makes the (k + 0.5) * scale inputs exact ties.
    const float scale = (n % 2) ? 0.125f : g.uniform(0.01f, 0.3f);
    const float factor = Rounding::factor(scale);
    const std::int32_t zp = g.integer(F::qmin, F::qmax);
    const std::vector<float> x = test_values(g, n, scale);
    const index_t bytes = lowbit::packed_bytes<F>(n);
    std::vector<std::uint8_t> ref(static_cast<std::size_t>(bytes + 8), sentinel);
    std::vector<std::uint8_t> got(ref);
    ASSERT_TRUE((k::scalar::quantize<F, Rounding>(x.data(), n, factor, zp, lowbit::inf_policy::error,
                                                  ref.data())));
    ASSERT_TRUE((k::quantize<F, Rounding>(path, x.data(), n, factor, zp, lowbit::inf_policy::error,
                                          got.data())));
    ASSERT_EQ(ref, got);  // includes the 8 sentinel bytes after the run: nothing written past it
    for (index_t i = 0; i < n; ++i) {
      ASSERT_EQ(k::scalar::load_code<F>(ref.data(), i),
                (independent_quantize<F, Rounding>(x[i], factor, zp)))
          << "x = " << x[i] << " at " << i;
    }
    if (n % F::per_byte != 0) {  // unused high bits of the last byte are zero
      const int used = static_cast<int>(n % F::per_byte) * F::bits;
      ASSERT_EQ(ref[static_cast<std::size_t>(bytes - 1)] >> used, 0);
    }

    // Per-element qparams.
    std::vector<float> factors(static_cast<std::size_t>(n));
    std::vector<std::int32_t> zps(static_cast<std::size_t>(n));
    for (index_t i = 0; i < n; ++i) {
      factors[i] = Rounding::factor(g.uniform(0.01f, 0.3f));
      zps[i] = g.integer(F::qmin, F::qmax);
    }
    std::fill(ref.begin(), ref.end(), sentinel);
    std::fill(got.begin(), got.end(), sentinel);
    ASSERT_TRUE((k::scalar::quantize_vec<F, Rounding>(x.data(), n, factors.data(), zps.data(),
                                                      lowbit::inf_policy::error, ref.data())));
    ASSERT_TRUE((k::quantize_vec<F, Rounding>(path, x.data(), n, factors.data(), zps.data(),
                                              lowbit::inf_policy::error, got.data())));
    ASSERT_EQ(ref, got);
    for (index_t i = 0; i < n; ++i)
      ASSERT_EQ(k::scalar::load_code<F>(ref.data(), i),
                (independent_quantize<F, Rounding>(x[i], factors[i], zps[i])));
  }
}

template <class F>
void check_nonfinite(kernel_path path) {
  SCOPED_TRACE(F::name);
  constexpr float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (index_t n : {index_t{5}, index_t{64}, index_t{200}}) {
    for (index_t at : {index_t{0}, n / 2, n - 1}) {
      std::vector<float> x(static_cast<std::size_t>(n), 0.25f);
      std::vector<std::uint8_t> out(static_cast<std::size_t>(lowbit::packed_bytes<F>(n)));
      x[at] = nan;
      EXPECT_FALSE((k::quantize<F, lowbit::reciprocal_multiply>(path, x.data(), n, 10.f, 0,
                                                               lowbit::inf_policy::error, out.data())));
      EXPECT_FALSE((k::quantize<F, lowbit::reciprocal_multiply>(
          path, x.data(), n, 10.f, 0, lowbit::inf_policy::saturate, out.data())));
      for (float sign : {1.f, -1.f}) {
        x[at] = sign * inf;
        EXPECT_FALSE((k::quantize<F, lowbit::reciprocal_multiply>(
            path, x.data(), n, 10.f, 0, lowbit::inf_policy::error, out.data())));
        ASSERT_TRUE((k::quantize<F, lowbit::true_divide>(path, x.data(), n, 0.1f, 0,
                                                         lowbit::inf_policy::saturate, out.data())));
        EXPECT_EQ(k::scalar::load_code<F>(out.data(), at), sign > 0 ? F::qmax : F::qmin);
      }
    }
  }
}

template <class F>
void check_dequantize(kernel_path path, lowbit_test::rng& g) {
  SCOPED_TRACE(F::name);
  for (index_t n : lengths) {
    const index_t bytes = lowbit::packed_bytes<F>(n);
    std::vector<std::uint8_t> codes(static_cast<std::size_t>(bytes));
    for (auto& b : codes) b = static_cast<std::uint8_t>(g.integer(0, 255));
    if constexpr (F::bits == 8) {  // keep codes in range for formats narrower than the byte
      for (auto& b : codes) {
        const auto c = std::clamp<int>(F::is_signed ? static_cast<std::int8_t>(b) : b, F::qmin, F::qmax);
        b = static_cast<std::uint8_t>(c);
      }
    }
    const float scale = g.uniform(0.001f, 2.f);
    const std::int32_t zp = g.integer(F::qmin, F::qmax);
    std::vector<float> ref(static_cast<std::size_t>(n) + 4, -7.f), got(ref);
    k::scalar::dequantize<F>(codes.data(), n, scale, zp, ref.data());
    k::dequantize<F>(path, codes.data(), n, scale, zp, got.data());
    ASSERT_EQ(0, std::memcmp(ref.data(), got.data(), ref.size() * sizeof(float))) << "n = " << n;
    for (index_t i = 0; i < n; ++i)  // independent: (q - zp) * scale computed in double, rounded once
      ASSERT_EQ(ref[i], static_cast<float>(static_cast<double>(k::scalar::load_code<F>(codes.data(), i) - zp) *
                                           static_cast<double>(scale)));

    std::vector<float> scales(static_cast<std::size_t>(n));
    std::vector<std::int32_t> zps(static_cast<std::size_t>(n));
    for (index_t i = 0; i < n; ++i) {
      scales[i] = g.uniform(0.001f, 2.f);
      zps[i] = g.integer(F::qmin, F::qmax);
    }
    std::fill(ref.begin(), ref.end(), -7.f);
    std::fill(got.begin(), got.end(), -7.f);
    k::scalar::dequantize_vec<F>(codes.data(), n, scales.data(), zps.data(), ref.data());
    k::dequantize_vec<F>(path, codes.data(), n, scales.data(), zps.data(), got.data());
    ASSERT_EQ(0, std::memcmp(ref.data(), got.data(), ref.size() * sizeof(float))) << "n = " << n;
  }
}

TEST_P(elementwise, quantize_matches_reference) {
  lowbit_test::rng g(11);
  check_quantize<lowbit::int8, lowbit::reciprocal_multiply>(GetParam(), g);
  check_quantize<lowbit::uint8, lowbit::reciprocal_multiply>(GetParam(), g);
  check_quantize<lowbit::int8_narrow, lowbit::reciprocal_multiply>(GetParam(), g);
  check_quantize<lowbit::int4, lowbit::reciprocal_multiply>(GetParam(), g);
  check_quantize<lowbit::uint4, lowbit::reciprocal_multiply>(GetParam(), g);
  check_quantize<lowbit::int2, lowbit::reciprocal_multiply>(GetParam(), g);
  check_quantize<lowbit::uint2, lowbit::reciprocal_multiply>(GetParam(), g);
  check_quantize<lowbit::int3, lowbit::reciprocal_multiply>(GetParam(), g);
  check_quantize<lowbit::uint3, lowbit::reciprocal_multiply>(GetParam(), g);
  check_quantize<lowbit::int8, lowbit::true_divide>(GetParam(), g);
  check_quantize<lowbit::uint8, lowbit::true_divide>(GetParam(), g);
  check_quantize<lowbit::int4, lowbit::true_divide>(GetParam(), g);
  check_quantize<lowbit::uint2, lowbit::true_divide>(GetParam(), g);
}

TEST_P(elementwise, quantize_reports_nonfinite) {
  check_nonfinite<lowbit::int8>(GetParam());
  check_nonfinite<lowbit::uint8>(GetParam());
  check_nonfinite<lowbit::int4>(GetParam());
  check_nonfinite<lowbit::uint2>(GetParam());
  check_nonfinite<lowbit::int3>(GetParam());
}

TEST_P(elementwise, dequantize_matches_reference) {
  lowbit_test::rng g(12);
  check_dequantize<lowbit::int8>(GetParam(), g);
  check_dequantize<lowbit::uint8>(GetParam(), g);
  check_dequantize<lowbit::int8_narrow>(GetParam(), g);
  check_dequantize<lowbit::int4>(GetParam(), g);
  check_dequantize<lowbit::uint4>(GetParam(), g);
  check_dequantize<lowbit::int2>(GetParam(), g);
  check_dequantize<lowbit::uint2>(GetParam(), g);
  check_dequantize<lowbit::int3>(GetParam(), g);
  check_dequantize<lowbit::uint3>(GetParam(), g);
}

TEST_P(elementwise, minmax_matches_reference) {
  lowbit_test::rng g(13);
  const kernel_path path = GetParam();
  for (index_t n : lengths) {
    std::vector<float> x(static_cast<std::size_t>(n));
    for (auto& v : x) v = g.normal(1.f, 5.f);
    float rmn = std::numeric_limits<float>::infinity(), rmx = -rmn, mn = rmn, mx = rmx;
    ASSERT_TRUE(k::scalar::minmax(x.data(), n, rmn, rmx));
    ASSERT_TRUE(k::minmax(path, x.data(), n, mn, mx));
    EXPECT_EQ(rmn, mn);
    EXPECT_EQ(rmx, mx);
    if (n > 0) {
      EXPECT_EQ(rmn, *std::min_element(x.begin(), x.end()));
      EXPECT_EQ(rmx, *std::max_element(x.begin(), x.end()));
    }
    std::vector<float> rmins(static_cast<std::size_t>(n), 0.5f), rmaxs(rmins), mins(rmins), maxs(rmins);
    ASSERT_TRUE(k::scalar::minmax_vec(x.data(), n, rmins.data(), rmaxs.data()));
    ASSERT_TRUE(k::minmax_vec(path, x.data(), n, mins.data(), maxs.data()));
    EXPECT_EQ(rmins, mins);
    EXPECT_EQ(rmaxs, maxs);
    for (index_t at : {index_t{0}, n / 3, n - 1}) {
      if (n == 0) break;
      for (float bad : {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                        -std::numeric_limits<float>::infinity()}) {
        std::vector<float> y = x;
        y[at] = bad;
        float a = 0, b = 0;
        EXPECT_FALSE(k::minmax(path, y.data(), n, a, b)) << "n " << n << " at " << at;
        EXPECT_FALSE(k::minmax_vec(path, y.data(), n, mins.data(), maxs.data()));
      }
    }
  }
}

TEST_P(elementwise, histogram_binning_matches_reference) {
  lowbit_test::rng g(15);
  for (index_t n : {index_t{0}, index_t{7}, index_t{300}, index_t{5000}, index_t{40000}}) {
    for (index_t bins : {index_t{16}, index_t{2048}}) {
      std::vector<float> x(static_cast<std::size_t>(n));
      for (auto& v : x) v = g.normal(0.f, 2.f);
      if (n > 10) {
        x[3] = std::numeric_limits<float>::infinity();
        x[4] = std::numeric_limits<float>::quiet_NaN();
        x[5] = 3.f;  // exactly the right edge: counted in the last bin
        x[6] = -2.5f;  // exactly the left edge
      }
      std::vector<std::uint32_t> want(static_cast<std::size_t>(bins), 0u), got(want);
      k::scalar::histc(x.data(), n, -2.5f, 3.f, bins, want.data());
      k::histc(GetParam(), x.data(), n, -2.5f, 3.f, bins, got.data());
      ASSERT_EQ(want, got) << "n " << n << " bins " << bins;
    }
  }
  // A range so wide that (x - lo) * bins overflows float: binned in double, never out of bounds.
  std::vector<float> wide(1000);
  for (std::size_t i = 0; i < wide.size(); ++i) wide[i] = (static_cast<float>(i % 7) - 3.f) * 1e38f;
  std::vector<std::uint32_t> want(2048, 0u), got(2048, 0u);
  k::scalar::histc(wide.data(), 1000, -3e38f, 3e38f, 2048, want.data());
  k::histc(GetParam(), wide.data(), 1000, -3e38f, 3e38f, 2048, got.data());
  EXPECT_EQ(want, got);
  EXPECT_EQ(std::accumulate(got.begin(), got.end(), 0u), 1000u);
  EXPECT_EQ(got[0], 143u);     // the values at -3e38
  EXPECT_EQ(got[2047], 142u);  // the values at +3e38 (right edge inclusive)
}

TEST_P(elementwise, signed_zeros_give_the_same_range_on_every_path) {
  std::vector<float> x(64, 1.f);
  x[0] = 0.f;
  x[1] = -0.f;
  x[9] = -0.f;
  lowbit::quantizer<lowbit::int8, lowbit::affine> q;
  const lowbit::range r = q.observe(x.data(), {64}, lowbit::context{}.with_path(GetParam()));
  EXPECT_FALSE(std::signbit(r.min[0]));
}

// Whole tensors through the quantizer: layouts whose runs start inside a byte (odd run lengths
// for sub-byte formats), strided and column-major inputs, per-channel on either axis, groups.
template <class F, class Scheme, class G>
void check_tensor_paths(kernel_path path, const G& granularity, index_t rows, index_t cols, lowbit_test::rng& g) {
  lowbit::quantizer<F, Scheme, G> q(granularity);
  const lowbit_test::rng::row_matrix x = g.normal_matrix(rows, cols, 2.f);
  const Eigen::MatrixXf col_major = x;
  const lowbit::context scalar = lowbit::context{}.with_path(lowbit::kernel_path::scalar);
  const lowbit::context on_path = lowbit::context{}.with_path(path);
  const lowbit::quantized_tensor<F> ref = q.quantize(x, scalar);
  const lowbit::range ref_range = q.observe(x, scalar);
  const lowbit::quantized_tensor<F> got = q.quantize(x, on_path);
  const lowbit::quantized_tensor<F> got_cm = q.quantize(col_major, on_path);
  const lowbit::range got_range = q.observe(col_major, on_path);
  ASSERT_EQ(ref_range.min, got_range.min);
  ASSERT_EQ(ref_range.max, got_range.max);
  ASSERT_EQ(ref.data(), got.data());
  ASSERT_EQ(ref.data(), got_cm.data());
  ASSERT_EQ(ref.params(), got.params());
  lowbit::row_matrix dref = ref.dequantize(scalar);
  lowbit::row_matrix dgot = got.dequantize(on_path);
  ASSERT_EQ(0, std::memcmp(dref.data(), dgot.data(), static_cast<std::size_t>(dref.size()) * sizeof(float)));
}

TEST_P(elementwise, tensors_match_reference) {
  lowbit_test::rng g(14);
  const kernel_path path = GetParam();
  for (index_t rows : {1, 3, 17}) {
    for (index_t cols : {1, 5, 33, 70}) {
      SCOPED_TRACE(std::to_string(rows) + "x" + std::to_string(cols));
      check_tensor_paths<lowbit::int8, lowbit::affine>(path, lowbit::per_tensor{}, rows, cols, g);
      check_tensor_paths<lowbit::uint8, lowbit::affine>(path, lowbit::per_channel(0), rows, cols, g);
      check_tensor_paths<lowbit::int4, lowbit::symmetric>(path, lowbit::per_channel(0), rows, cols, g);
      check_tensor_paths<lowbit::int4, lowbit::affine>(path, lowbit::per_channel(1), rows, cols, g);
      check_tensor_paths<lowbit::uint4, lowbit::affine>(path, lowbit::per_group(1, 4), rows, cols, g);
      check_tensor_paths<lowbit::int2, lowbit::symmetric>(path, lowbit::per_group(0, 2), rows, cols, g);
      check_tensor_paths<lowbit::uint2, lowbit::affine>(path, lowbit::per_group(1, 3), rows, cols, g);
      check_tensor_paths<lowbit::int2, lowbit::affine>(path, lowbit::per_tensor{}, rows, cols, g);
      check_tensor_paths<lowbit::int3, lowbit::symmetric>(path, lowbit::per_channel(0), rows, cols, g);
      check_tensor_paths<lowbit::uint3, lowbit::affine>(path, lowbit::per_group(1, 4), rows, cols, g);
    }
  }
}

LOWBIT_INSTANTIATE_FOR_PATHS(elementwise);

}  // namespace
