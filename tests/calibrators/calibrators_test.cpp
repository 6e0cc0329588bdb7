// Calibrators with no peer installable here: distributions with known answers, and straightforward
// independent re-implementations written inside the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <vector>

#include "lowbit/lowbit.hpp"
#include "support/random.hpp"

namespace {

using lowbit::index_t;
using lowbit::row_matrix;

// A Gaussian (sigma 1) of a million values with three huge outliers (3 per million): clipping
// them costs less squared error than the coarser step that keeping them forces on everything else,
// and they are far fewer than 0.01 %, so every calibrator but min/max must clip them.
row_matrix gaussian_with_outliers(lowbit_test::rng& g) {
  row_matrix x = g.normal_matrix(1024, 1024);
  x(3, 7) = 30.f;
  x(10, 100) = -27.f;
  x(40, 3) = 35.f;
  return x;
}

template <class F, class S, class C>
float chosen_amax(const lowbit::histogram_observer<>& h, const C& c) {
  const lowbit::range r = c.choose(lowbit::quantizer<F, S>{}, h);
  return std::max(-r.min[0], r.max[0]);
}

TEST(calibrators, clip_outliers_of_a_gaussian) {
  lowbit_test::rng g(71);
  lowbit::histogram_observer<> h;
  h.observe(gaussian_with_outliers(g));
  using F = lowbit::int8;
  using S = lowbit::symmetric;
  EXPECT_EQ((chosen_amax<F, S>(h, lowbit::minmax_calibrator{})), 35.f);
  const float entropy = chosen_amax<F, S>(h, lowbit::entropy_calibrator{});
  const float percentile = chosen_amax<F, S>(h, lowbit::percentile_calibrator{});
  const float mse = chosen_amax<F, S>(h, lowbit::mse_calibrator{});
  const float l2 = chosen_amax<F, S>(h, lowbit::l2_search_calibrator{});
  for (float a : {entropy, percentile, mse, l2}) {
    EXPECT_LT(a, 12.f) << "outliers at 27-35 must be clipped";
    EXPECT_GT(a, 2.5f) << "the Gaussian itself must not be";
  }
  // Clipping pays: the SQNR of the Gaussian body improves over the min/max range.
  const row_matrix body = g.normal_matrix(64, 256);
  lowbit::quantizer<F, S> q;
  const auto sqnr = [&](float amax) {
    return lowbit::sqnr_db(body, q.quantize(body, q.qparams_for(lowbit::range({-amax}, {amax}))).dequantize());
  };
  EXPECT_GT(sqnr(entropy), sqnr(35.f) + 6.0);
}

TEST(calibrators, keep_the_range_of_a_uniform_distribution) {
  lowbit_test::rng g(72);
  lowbit::histogram_observer<> h;
  h.observe(g.uniform_matrix(64, 256, -3.f, 3.f));
  const float full = 3.f;
  EXPECT_GT((chosen_amax<lowbit::int8, lowbit::symmetric>(h, lowbit::entropy_calibrator{})), 0.95f * full);
  EXPECT_GT((chosen_amax<lowbit::int8, lowbit::symmetric>(h, lowbit::percentile_calibrator{})), 0.99f * full);
  EXPECT_GT((chosen_amax<lowbit::int8, lowbit::symmetric>(h, lowbit::mse_calibrator{})), 0.95f * full);
  EXPECT_GT((chosen_amax<lowbit::int8, lowbit::symmetric>(h, lowbit::l2_search_calibrator{})), 0.95f * full);
}

TEST(calibrators, work_for_every_format_and_scheme) {
  lowbit_test::rng g(73);
  const row_matrix x = gaussian_with_outliers(g);
  lowbit::histogram_observer<> h;
  h.observe(x);
  const auto check = [&](auto fmt, auto sch) {
    using F = decltype(fmt);
    using S = decltype(sch);
    SCOPED_TRACE(std::string(F::name) + " " + S::name);
    lowbit::quantizer<F, S> q;
    const auto data_mse = [&](const lowbit::range& r) { return lowbit::mse(x, q.quantize(x, q.qparams_for(r)).dequantize()); };
    const double full = data_mse(lowbit::range({x.minCoeff()}, {x.maxCoeff()}));
    const auto chosen = [&](const auto& calibrator) {
      const lowbit::range r = calibrator.choose(q, h);
      EXPECT_NO_THROW((lowbit::detail::check_qparams<F, S>(q.qparams_for(r), 1, "test")));
      EXPECT_GE(r.max[0], 0.5f);  // the Gaussian body is never clipped to nothing
      EXPECT_LE(r.max[0], 35.f);
      EXPECT_GE(r.min[0], -35.f);
      return r;
    };
    // Outliers are 3 per million: percentile (0.01 % tails) and entropy always clip them.
    EXPECT_LT(chosen(lowbit::percentile_calibrator{}).max[0], 12.f);
    if (F::bits >= 4) {
      EXPECT_LT(chosen(lowbit::entropy_calibrator{}).max[0], 12.f);
    }
    // MSE and the L2 search minimize the quantization error: never worse than the full range on
    // the data itself (up to what the histogram's resolution hides).
    EXPECT_LE(data_mse(chosen(lowbit::mse_calibrator{})), full * 1.01);
    EXPECT_LE(data_mse(chosen(lowbit::l2_search_calibrator{})), full * 1.01);
  };
  check(lowbit::int8{}, lowbit::symmetric{});
  check(lowbit::uint8{}, lowbit::affine{});
  check(lowbit::int4{}, lowbit::symmetric{});
  check(lowbit::uint4{}, lowbit::affine{});
  check(lowbit::int2{}, lowbit::symmetric{});
  check(lowbit::int2{}, lowbit::affine{});
}

TEST(calibrators, affine_mse_clips_a_one_sided_outlier_only_on_its_side) {
  lowbit_test::rng g(74);
  // A million uniform values in [-2, 2] and one at 8: the step that keeping it forces costs more
  // than clipping it (see the arithmetic in the header), and nothing below -2 should be clipped.
  row_matrix x = g.uniform_matrix(1024, 1024, -2.f, 2.f);
  x(5, 5) = 8.f;
  lowbit::histogram_observer<> h;
  h.observe(x);
  const lowbit::range r = lowbit::mse_calibrator{}.choose(lowbit::quantizer<lowbit::uint8, lowbit::affine>{}, h);
  EXPECT_LT(r.max[0], 4.f);
  EXPECT_LT(r.min[0], -1.9f);
}

// Straightforward KL implementation, written from the definition in calibrators/entropy.hpp.
index_t independent_kl_bins(std::vector<double> p_hist, index_t levels) {
  const index_t n = static_cast<index_t>(p_hist.size());
  p_hist[0] = p_hist[1];
  double best = std::numeric_limits<double>::infinity();
  index_t best_i = n;
  for (index_t i = levels; i <= n; ++i) {
    std::vector<double> p(p_hist.begin(), p_hist.begin() + i);
    for (index_t j = i; j < n; ++j) p[static_cast<std::size_t>(i - 1)] += p_hist[static_cast<std::size_t>(j)];
    std::vector<double> q(static_cast<std::size_t>(i), 0.0);
    for (index_t s = 0; s < levels; ++s) {
      double sum = 0;
      index_t nonempty = 0;
      for (index_t j = 0; j < i; ++j) {
        if (j * levels / i != s || p_hist[static_cast<std::size_t>(j)] == 0) continue;
        sum += p_hist[static_cast<std::size_t>(j)];
        ++nonempty;
      }
      for (index_t j = 0; j < i; ++j)
        if (j * levels / i == s && p_hist[static_cast<std::size_t>(j)] != 0) q[static_cast<std::size_t>(j)] = sum / nonempty;
    }
    double sp = 0, sq = 0;
    for (index_t j = 0; j < i; ++j) {
      sp += p[static_cast<std::size_t>(j)];
      sq += q[static_cast<std::size_t>(j)];
    }
    double kl = 0;
    for (index_t j = 0; j < i; ++j) {
      const double pj = p[static_cast<std::size_t>(j)] / sp, qj = q[static_cast<std::size_t>(j)] / sq;
      if (pj == 0) continue;
      kl = qj == 0 ? std::numeric_limits<double>::infinity() : kl + pj * std::log(pj / qj);
      if (std::isinf(kl)) break;
    }
    if (kl <= best) {
      best = kl;
      best_i = i;
    }
  }
  return best_i;
}

TEST(calibrators, entropy_matches_an_independent_implementation) {
  lowbit_test::rng g(75);
  for (int trial = 0; trial < 4; ++trial) {
    std::vector<double> hist(96);
    for (index_t b = 0; b < 96; ++b) hist[static_cast<std::size_t>(b)] = std::floor(1000.0 * std::exp(-b / (6.0 + 4 * trial)));
    hist[90] += 3;  // a far outlier
    if (trial % 2) hist[40] = 0;  // an empty bin inside
    for (index_t levels : {8, 16}) {
      EXPECT_EQ(lowbit::entropy_calibrator::best_bins(hist, levels, 1), independent_kl_bins(hist, levels))
          << "trial " << trial << " levels " << levels;
    }
  }
}

TEST(calibrators, percentile_matches_sorted_data) {
  lowbit_test::rng g(76);
  row_matrix x = g.normal_matrix(128, 128);
  lowbit::histogram_observer<> h;
  h.observe(x);
  std::vector<float> a(x.data(), x.data() + x.size());
  for (float& v : a) v = std::fabs(v);
  std::sort(a.begin(), a.end());
  for (double p : {99.0, 99.9, 99.99}) {
    const auto idx = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(a.size()))) - 1;
    const float want = a[idx];
    const float got = lowbit::percentile_calibrator(p).choose(lowbit::quantizer<lowbit::int8, lowbit::symmetric>{}, h).max[0];
    const float bin = std::max(-x.minCoeff(), x.maxCoeff()) / 2048.f;
    EXPECT_NEAR(got, want, 2 * bin) << p;
  }
  EXPECT_THROW(lowbit::percentile_calibrator(0.0), lowbit::error);
  EXPECT_THROW(lowbit::percentile_calibrator(100.5), lowbit::error);
  // p = 100 keeps everything.
  const lowbit::range all = lowbit::percentile_calibrator(100.0).choose(lowbit::quantizer<lowbit::uint8, lowbit::affine>{}, h);
  EXPECT_EQ(all.min[0], x.minCoeff());
  EXPECT_EQ(all.max[0], x.maxCoeff());
}

TEST(calibrators, mse_choice_is_near_the_best_on_the_raw_data) {
  lowbit_test::rng g(77);
  row_matrix x = g.normal_matrix(64, 128);
  x(0, 0) = 25.f;
  lowbit::histogram_observer<> h;
  h.observe(x);
  using F = lowbit::int4;
  using S = lowbit::symmetric;
  lowbit::quantizer<F, S> q;
  const auto raw_mse = [&](float amax) {
    return lowbit::mse(x, q.quantize(x, q.qparams_for(lowbit::range({-amax}, {amax}))).dequantize());
  };
  double best = std::numeric_limits<double>::infinity();
  for (float a = 0.5f; a <= 25.f; a += 0.05f) best = std::min(best, raw_mse(a));
  const float chosen = lowbit::mse_calibrator{}.choose(lowbit::quantizer<F, S>{}, h).max[0];
  EXPECT_LE(raw_mse(chosen), best * 1.05);
}

lowbit::range searched(const lowbit::quantizer<lowbit::int4, lowbit::symmetric, lowbit::per_channel>& q, const row_matrix& w) {
  lowbit::tensor_observer<lowbit::per_channel> o(q.granularity());
  o.observe(w);
  return lowbit::weight_search{}.choose(q, o);
}

TEST(weight_search, picks_the_least_error_shrink_per_channel) {
  lowbit_test::rng g(78);
  row_matrix w = g.normal_matrix(6, 200, 0.05f);
  w(2, 17) = 1.0f;  // an outlier weight in channel 2
  using F = lowbit::int4;
  using S = lowbit::symmetric;
  lowbit::quantizer<F, S, lowbit::per_channel> q(lowbit::per_channel(0));
  const lowbit::range r = searched(q, w);
  for (index_t c = 0; c < 6; ++c) {
    // Independent: every candidate p evaluated directly with the quantizer on this channel.
    const row_matrix row = w.row(c);
    const float m = row.cwiseAbs().maxCoeff();
    lowbit::quantizer<F, S> qt;
    double best = std::numeric_limits<double>::infinity();
    float best_p = 1;
    for (int i = 0; i < 80; ++i) {
      const float p = 1.0f - static_cast<float>(i) / 100.0f;
      const auto t = qt.quantize(row, qt.qparams_for(lowbit::range({-p * m}, {p * m})));
      const row_matrix d = t.dequantize() - row;
      double err = 0;
      for (index_t k = 0; k < d.size(); ++k) err += std::pow(std::fabs(static_cast<double>(d.data()[k])), 2.4);
      if (err < best) {
        best = err;
        best_p = p;
      }
    }
    EXPECT_FLOAT_EQ(r.max[static_cast<std::size_t>(c)], best_p * m) << "channel " << c;
  }
  EXPECT_LT(r.max[2], 1.0f);  // the outlier channel shrinks
  lowbit::quantizer<lowbit::uint4, lowbit::affine, lowbit::per_channel> qa(lowbit::per_channel(0));
  lowbit::tensor_observer<lowbit::per_channel> oa(qa.granularity());
  oa.observe(w);
  const lowbit::range ra = lowbit::weight_search{}.choose(qa, oa);
  EXPECT_LE(ra.max[2], 1.0f);
  // The calibrator contract: usable in calibrate() and calibration<> like any other, and on one
  // tensor in one call.
  EXPECT_EQ(lowbit::calibrate(qa, oa, lowbit::weight_search{}), qa.qparams_for(ra));
  EXPECT_EQ(lowbit::calibrate(qa, w, lowbit::weight_search{}), qa.qparams_for(ra));
  lowbit::calibration<decltype(qa), lowbit::tensor_observer<lowbit::per_channel>, lowbit::weight_search> cal(
      qa, lowbit::tensor_observer<lowbit::per_channel>(qa.granularity()));
  cal.observe(w);
  EXPECT_EQ(cal.qparams(), qa.qparams_for(ra));
  // A NaN weight is an error naming it; an infinite one is left out of the search (observers
  // drop infinities) and counted, and quantizing the weights then reports it.
  row_matrix bad = w;
  bad(1, 1) = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(searched(q, bad), lowbit::error);
  bad(1, 1) = std::numeric_limits<float>::infinity();
  lowbit::tensor_observer<lowbit::per_channel> oi(q.granularity());
  oi.observe(bad);
  EXPECT_EQ(oi.infinities(), 1);
  EXPECT_THROW((void)q.quantize(bad, lowbit::calibrate(q, oi, lowbit::weight_search{})), lowbit::error);
}

// The search with a double std::pow per candidate and element (the implementation before issue
// 11's kernel, 1.3 - 2.3 us per value): the independent reference for the choices.
template <class Q>
std::pair<float, double> pow_search(const Q& q, const float* x, index_t n, float p_of_best_only = -1) {
  using F = typename Q::format;
  float lo0 = std::min(0.0f, *std::min_element(x, x + n)), hi0 = std::max(0.0f, *std::max_element(x, x + n));
  if constexpr (!Q::scheme::is_affine) {
    hi0 = std::max(-lo0, hi0);
    lo0 = -hi0;
  }
  const auto error_at = [&](float p) {
    const auto [scale, zp] = q.qparams_for(p * lo0, p * hi0);
    double err = 0;
    for (index_t k = 0; k < n; ++k)
      err += std::pow(std::fabs(static_cast<double>(q.fake_quantize(x[k], scale, zp)) - x[k]), 2.4);
    (void)F::qmin;
    return err;
  };
  if (p_of_best_only >= 0) return {p_of_best_only, error_at(p_of_best_only)};
  double best = std::numeric_limits<double>::infinity();
  float best_p = 1;
  for (int i = 0; i < 80; ++i) {
    const float p = 1.0f - static_cast<float>(i) / 100.0f;
    const double err = error_at(p);
    if (err < best) {
      best = err;
      best_p = p;
    }
  }
  return {best_p, best};
}

// Issue 11, item 6: the kernel's power is a polynomial (relative error ~1e-7), so a choice may
// differ from the double std::pow search only where two candidates' errors are that close. On 512
// groups of weights with outliers, every choice is the reference's or within 1e-5 of its error, and
// every kernel path makes the same choices.
TEST(weight_search, makes_the_std_pow_searchs_choices_on_every_path) {
  lowbit_test::rng g(81);
  row_matrix w = g.normal_matrix(64, 512, 0.02f);
  for (index_t i = 0; i < 40; ++i) w(g.integer(0, 63), g.integer(0, 511)) = g.normal(0.f, 0.3f);
  lowbit::quantizer<lowbit::int4, lowbit::symmetric, lowbit::per_group> q(lowbit::per_group(1, 64));
  lowbit::quantizer<lowbit::uint4, lowbit::affine, lowbit::per_group> qa(lowbit::per_group(1, 64));
  const auto run = [&](const auto& quant, lowbit::kernel_path path) {
    lowbit::tensor_observer<lowbit::per_group> o(quant.granularity());
    o.set_context(lowbit::context().with_path(path));
    o.observe(w);
    return lowbit::weight_search{}.choose(quant, o);
  };
  const auto compare = [&](const auto& quant) {
    const lowbit::range r = run(quant, lowbit::kernel_path::scalar);
    int differ = 0;
    for (index_t row = 0; row < 64; ++row) {
      for (index_t gi = 0; gi < 8; ++gi) {
        const float* x = w.data() + row * 512 + gi * 64;
        const auto [best_p, best_err] = pow_search(quant, x, 64);
        const std::size_t s = static_cast<std::size_t>(row * 8 + gi);
        float full = std::max(std::fabs(std::min(0.0f, *std::min_element(x, x + 64))),
                              std::max(0.0f, *std::max_element(x, x + 64)));
        if constexpr (std::decay_t<decltype(quant)>::scheme::is_affine) full = std::max(0.0f, *std::max_element(x, x + 64));
        const float chosen_hi = r.max[s];
        if (chosen_hi == best_p * full) continue;
        ++differ;
        // The chosen p, recovered from the range, evaluated the reference way.
        int chosen_i = -1;
        for (int i = 0; i < 80; ++i)
          if ((1.0f - static_cast<float>(i) / 100.0f) * full == chosen_hi) chosen_i = i;
        ASSERT_GE(chosen_i, 0) << "slot " << s << ": range " << chosen_hi << " is no candidate";
        const double chosen_err = pow_search(quant, x, 64, 1.0f - static_cast<float>(chosen_i) / 100.0f).second;
        EXPECT_LE(chosen_err, best_err * (1 + 1e-5)) << "slot " << s;
      }
    }
    EXPECT_LE(differ, 5) << "choices differing from the std::pow search";
    std::cout << "[ lowbit  ] " << differ << " of 512 choices differ from the std::pow search (near-ties)\n";
    for (lowbit::kernel_path path : lowbit::supported_paths()) {
      const lowbit::range rp = run(quant, path);
      EXPECT_EQ(rp.min, r.min) << lowbit::path_name(path);
      EXPECT_EQ(rp.max, r.max) << lowbit::path_name(path);
    }
  };
  compare(q);
  compare(qa);
}

TEST(weight_search, works_per_group_with_a_short_last_group_and_per_tensor) {
  lowbit_test::rng g(80);
  const row_matrix w = g.normal_matrix(4, 70, 0.1f);
  lowbit::quantizer<lowbit::int4, lowbit::symmetric, lowbit::per_group> q(lowbit::per_group(1, 32));
  lowbit::tensor_observer<lowbit::per_group> o(q.granularity());
  o.observe(w);
  const lowbit::range r = lowbit::weight_search{}.choose(q, o);
  ASSERT_EQ(r.size(), 4 * 3);
  EXPECT_EQ(o.count(2), 6);  // row 0, the short last group: columns 64 .. 69
  // Each group's choice equals a per-tensor search over that group's values alone.
  for (index_t row = 0; row < 4; ++row) {
    for (index_t gi = 0; gi < 3; ++gi) {
      const index_t c0 = gi * 32, n = std::min<index_t>(32, 70 - c0);
      const row_matrix part = w.block(row, c0, 1, n);
      lowbit::quantizer<lowbit::int4, lowbit::symmetric> qt;
      lowbit::tensor_observer<> ot;
      ot.observe(part);
      const lowbit::range rt = lowbit::weight_search{}.choose(qt, ot);
      EXPECT_EQ(r.max[static_cast<std::size_t>(row * 3 + gi)], rt.max[0]) << row << " " << gi;
    }
  }
  // The search never does worse than the plain min/max range on the data it searched.
  const auto err = [&](const lowbit::qparams& p) { return lowbit::mse(w, q.quantize(w, p).dequantize()); };
  EXPECT_LE(err(q.qparams_for(r)), err(q.qparams_for(o.observed_range())));
}

// Issue 13, finding 3: the affine MSE search rejected strictly positive or negative data
// (sigmoid, softmax outputs) with "range [1, 0.99] has min > max", and static calibration with it.
// Every calibrator now returns a valid range for one-sided and constant data.
template <class Q>
void check_valid_ranges(const row_matrix& x, const Q& q) {
  lowbit::histogram_observer<> h;
  h.observe(x);
  const auto check = [&](const auto& calibrator, const char* name) {
    const lowbit::range r = calibrator.choose(q, h);
    ASSERT_EQ(r.size(), 1);
    EXPECT_LE(r.min[0], r.max[0]) << name;
    lowbit::qparams p;
    EXPECT_NO_THROW(p = q.qparams_for(r)) << name;
    const double err = lowbit::max_abs_error(x, q.quantize(x, p).dequantize());
    EXPECT_TRUE(std::isfinite(err)) << name;
  };
  check(lowbit::minmax_calibrator{}, "minmax");
  check(lowbit::percentile_calibrator{}, "percentile");
  check(lowbit::entropy_calibrator{}, "entropy");
  check(lowbit::mse_calibrator{}, "mse");
  check(lowbit::l2_search_calibrator{}, "l2_search");
}

TEST(calibrators, one_sided_and_constant_data_give_valid_ranges) {
  lowbit_test::rng g(81);
  const row_matrix cases[] = {g.uniform_matrix(64, 64, 1.f, 2.f), g.uniform_matrix(64, 64, -2.f, -1.f),
                              row_matrix::Constant(8, 8, 0.5f), row_matrix::Constant(8, 8, -3.f),
                              row_matrix::Zero(8, 8), g.uniform_matrix(64, 64, 0.f, 1e-3f)};
  for (const row_matrix& x : cases) {
    SCOPED_TRACE(std::to_string(x.minCoeff()) + " .. " + std::to_string(x.maxCoeff()));
    check_valid_ranges(x, lowbit::quantizer<lowbit::uint8, lowbit::affine>{});
    check_valid_ranges(x, lowbit::quantizer<lowbit::int8, lowbit::symmetric>{});
    check_valid_ranges(x, lowbit::quantizer<lowbit::int4, lowbit::affine>{});
    check_valid_ranges(x, lowbit::quantizer<lowbit::uint2, lowbit::affine>{});
  }
  // The reported reproduction: uniform [1, 2] through static calibration with MSE.
  lowbit::static_calibration<lowbit::quantizer<lowbit::uint8, lowbit::affine>, lowbit::histogram_observer<>,
                             lowbit::mse_calibrator>
      sc;
  sc.add("sigmoid");
  sc.observe("sigmoid", g.uniform_matrix(32, 32, 1.f, 2.f));
  EXPECT_NO_THROW(sc.freeze());
  EXPECT_GT(sc.qparams("sigmoid").scale[0] * 255.f, 1.5f);  // [0, ~2]: zero is always in the range
}

TEST(calibrators, calibrate_one_tensor_with_the_calibrators_own_observer) {
  lowbit_test::rng g(82);
  const row_matrix x = gaussian_with_outliers(g);
  const lowbit::quantizer<lowbit::int8, lowbit::symmetric> q;
  lowbit::histogram_observer<> h;
  h.observe(x);
  EXPECT_EQ(lowbit::calibrate(q, x, lowbit::entropy_calibrator{}), lowbit::calibrate(q, h, lowbit::entropy_calibrator{}));
  lowbit::minmax_observer<> m;
  m.observe(x);
  EXPECT_EQ(lowbit::calibrate(q, x, lowbit::minmax_calibrator{}), lowbit::calibrate(q, m, lowbit::minmax_calibrator{}));
}

TEST(calibrators, histogram_from_elsewhere_through_a_view) {
  // Counts and range from another tool: no observer needed.
  std::vector<float> counts(256, 0.f);
  for (int b = 0; b < 256; ++b) counts[static_cast<std::size_t>(b)] = static_cast<float>(1000 * std::exp(-0.001 * (b - 128) * (b - 128)));
  counts[255] = 1.f;  // a rare outlier bin
  const lowbit::histogram_view h{-4.f, 4.f, counts.data(), 256};
  const lowbit::quantizer<lowbit::int8, lowbit::symmetric> q;
  const auto [lo, hi] = lowbit::percentile_calibrator(99.9).choose_range(q, h);
  EXPECT_LT(hi, 4.f);
  EXPECT_EQ(lo, -hi);
  const auto [elo, ehi] = lowbit::entropy_calibrator{}.choose_range(q, h);
  EXPECT_LE(elo, ehi);
  EXPECT_GT(ehi, 0.f);
}

TEST(calibration, composes_quantizer_observer_and_calibrator) {
  lowbit_test::rng g(79);
  lowbit::calibration<lowbit::quantizer<lowbit::uint8, lowbit::affine>, lowbit::histogram_observer<>,
                      lowbit::percentile_calibrator>
      cal;
  for (int i = 0; i < 2; ++i) cal.observe(gaussian_with_outliers(g));
  const lowbit::qparams p = cal.qparams();
  EXPECT_LT(p.scale[0] * 255.f, 20.f);
  const auto t = cal.quantize(g.normal_matrix(4, 4));
  EXPECT_EQ(t.params(), p);
  EXPECT_EQ(cal.observer().batches(), 2);
  // Per-channel observers with per-channel quantizers.
  lowbit::calibration<lowbit::quantizer<lowbit::int8, lowbit::symmetric, lowbit::per_channel>,
                      lowbit::minmax_observer<lowbit::per_channel>, lowbit::minmax_calibrator>
      pc(lowbit::quantizer<lowbit::int8, lowbit::symmetric, lowbit::per_channel>(lowbit::per_channel(1)),
         lowbit::minmax_observer<lowbit::per_channel>(lowbit::per_channel(1)));
  pc.observe(g.normal_matrix(5, 7));
  EXPECT_EQ(pc.qparams().size(), 7);
}

}  // namespace
