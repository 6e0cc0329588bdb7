// Observers: PyTorch 1.13 agreement on batch sequences (golden data), bad input, merge and reset.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "lowbit/lowbit.hpp"
#include "support/errors.hpp"
#include "support/golden.hpp"
#include "support/random.hpp"

namespace {

using lowbit::index_t;
using lowbit::row_matrix;

const lowbit_test::golden_file& golden() {
  static const lowbit_test::golden_file file("observers_golden.txt");
  return file;
}

std::vector<row_matrix> batches(const std::string& seq) {
  std::vector<row_matrix> out;
  const auto n = golden()[seq + ".batches"].i64[0];
  for (std::int64_t i = 0; i < n; ++i) {
    const auto& r = golden()[seq + ".batch" + std::to_string(i)];
    out.push_back(Eigen::Map<const row_matrix>(r.f32.data(), r.shape[0], r.shape[1]));
  }
  return out;
}

template <class F, class S, class Observer>
void expect_matches(const std::string& key, const Observer& obs, const lowbit::qparams& p) {
  SCOPED_TRACE(key);
  const lowbit::range r = obs.observed_range();
  const auto& mins = golden()[key + ".min"].f32;
  const auto& maxs = golden()[key + ".max"].f32;
  ASSERT_EQ(r.min.size(), mins.size());
  for (std::size_t i = 0; i < mins.size(); ++i) {
    EXPECT_EQ(r.min[i], mins[i]) << "slot " << i;
    EXPECT_EQ(r.max[i], maxs[i]) << "slot " << i;
  }
  const auto& scales = golden()[key + ".scale"].f32;
  const auto& zps = golden()[key + ".zero_point"].i64;
  ASSERT_EQ(p.scale.size(), scales.size());
  for (std::size_t i = 0; i < scales.size(); ++i) {
    EXPECT_EQ(p.scale[i], scales[i]) << "slot " << i;
    EXPECT_EQ(p.zero_point[i], zps[i]) << "slot " << i;
  }
}

class observers_golden : public ::testing::TestWithParam<std::string> {};

template <class F, class S>
void check_sequence(const std::string& seq, const std::string& label) {
  const std::vector<row_matrix> xs = batches(seq);
  const std::string base = seq + "." + label;
  lowbit::quantizer<F, S> q;
  lowbit::minmax_observer<> minmax;
  lowbit::moving_average_minmax_observer<> moving;
  lowbit::moving_average_minmax_observer<> moving10(lowbit::per_tensor{}, 0.1f);
  lowbit::histogram_observer<> hist;
  for (const auto& x : xs) {
    minmax.observe(x);
    moving.observe(x);
    moving10.observe(x);
    hist.observe(x);
  }
  expect_matches<F, S>(base + ".minmax", minmax, lowbit::calibrate(q, minmax, lowbit::minmax_calibrator{}));
  expect_matches<F, S>(base + ".moving", moving, lowbit::calibrate(q, moving, lowbit::minmax_calibrator{}));
  expect_matches<F, S>(base + ".moving10", moving10, lowbit::calibrate(q, moving10, lowbit::minmax_calibrator{}));

  // Histogram: the counts PyTorch accumulated, then its L2 search, then the qparams.
  const std::string hk = base + ".histogram";
  const auto& want = golden()[hk + ".histogram"].f32;
  const lowbit::histogram_view h = hist.histogram(0);
  ASSERT_EQ(h.bins, static_cast<index_t>(want.size()));
  EXPECT_EQ(h.min, golden()[hk + ".min"].f32[0]);
  EXPECT_EQ(h.max, golden()[hk + ".max"].f32[0]);
  index_t differ = 0;
  for (index_t b = 0; b < h.bins; ++b) differ += h.counts[b] != want[static_cast<std::size_t>(b)];
  EXPECT_EQ(differ, 0) << "histogram bins that differ from PyTorch's";
  // The L2 search on PyTorch's own histogram picks PyTorch's range exactly.
  lowbit::histogram_view theirs = h;
  theirs.counts = want.data();
  const auto [lo, hi] = lowbit::l2_search_calibrator{}.choose_range(q, theirs);
  EXPECT_EQ(lo, golden()[hk + ".search_min"].f32[0]);
  EXPECT_EQ(hi, golden()[hk + ".search_max"].f32[0]);
  // And our observer + our search give PyTorch's qparams.
  const lowbit::qparams p = lowbit::calibrate(q, hist, lowbit::l2_search_calibrator{});
  EXPECT_EQ(p.scale[0], golden()[hk + ".scale"].f32[0]);
  EXPECT_EQ(p.zero_point[0], golden()[hk + ".zero_point"].i64[0]);

  for (int axis : {0, 1}) {
    lowbit::quantizer<F, S, lowbit::per_channel> qc(lowbit::per_channel{axis});
    lowbit::minmax_observer<lowbit::per_channel> pc(lowbit::per_channel{axis});
    lowbit::moving_average_minmax_observer<lowbit::per_channel> mpc(lowbit::per_channel{axis}, 0.01f);
    for (const auto& x : xs) {
      pc.observe(x);
      mpc.observe(x);
    }
    const std::string a = std::to_string(axis);
    expect_matches<F, S>(base + ".perchannel" + a, pc, lowbit::calibrate(qc, pc, lowbit::minmax_calibrator{}));
    expect_matches<F, S>(base + ".movingperchannel" + a, mpc, lowbit::calibrate(qc, mpc, lowbit::minmax_calibrator{}));
  }
}

TEST_P(observers_golden, agree_with_pytorch) {
  check_sequence<lowbit::uint8, lowbit::affine>(GetParam(), "u8_affine");
  check_sequence<lowbit::int8, lowbit::symmetric>(GetParam(), "s8_symmetric");
}

INSTANTIATE_TEST_SUITE_P(sequences, observers_golden, ::testing::Values("grow", "outliers", "relu", "single"));

using lowbit_test::error_of;

template <class Observer>
void nan_leaves_observer_unchanged(Observer obs) {
  lowbit_test::rng g(61);
  obs.observe(g.normal_matrix(4, 8));
  obs.observe(g.normal_matrix(4, 8));
  const Observer before = obs;
  row_matrix bad = g.normal_matrix(4, 8) * 100.f;
  bad(1, 3) = std::numeric_limits<float>::quiet_NaN();
  bad(2, 2) = std::numeric_limits<float>::infinity();
  const std::string e = error_of([&] { obs.observe(bad); });
  EXPECT_NE(e.find("batch 2"), std::string::npos) << e;
  EXPECT_NE(e.find("index [1, 3]"), std::string::npos) << e;
  EXPECT_EQ(obs.observed_range().min, before.observed_range().min);
  EXPECT_EQ(obs.observed_range().max, before.observed_range().max);
  EXPECT_EQ(obs.batches(), 2);
  EXPECT_EQ(obs.infinities(), before.infinities());
  if constexpr (std::is_same_v<Observer, lowbit::histogram_observer<>>) {
    const lowbit::histogram_view a = obs.histogram(0), b = before.histogram(0);
    EXPECT_TRUE(std::equal(a.counts, a.counts + a.bins, b.counts));
  }
}

TEST(observers, nan_is_an_error_naming_batch_and_element) {
  nan_leaves_observer_unchanged(lowbit::minmax_observer<>());
  nan_leaves_observer_unchanged(lowbit::moving_average_minmax_observer<>());
  nan_leaves_observer_unchanged(lowbit::histogram_observer<>());
  nan_leaves_observer_unchanged(lowbit::minmax_observer<lowbit::per_channel>(lowbit::per_channel(1)));
}

TEST(observers, infinities_are_dropped_and_counted) {
  row_matrix x = row_matrix::Constant(3, 5, 1.f);
  x(0, 0) = -2.f;
  x(1, 1) = std::numeric_limits<float>::infinity();
  x(2, 2) = -std::numeric_limits<float>::infinity();
  lowbit::minmax_observer<> mm;
  lowbit::histogram_observer<> h(lowbit::per_tensor{}, 64);
  lowbit::minmax_observer<lowbit::per_channel> pc(lowbit::per_channel(0));
  mm.observe(x);
  h.observe(x);
  pc.observe(x);
  EXPECT_EQ(mm.observed_range().min[0], -2.f);
  EXPECT_EQ(mm.observed_range().max[0], 1.f);
  EXPECT_EQ(mm.infinities(), 2);
  EXPECT_EQ(h.infinities(), 2);
  EXPECT_EQ(h.histogram(0).total(), 13.0);
  EXPECT_EQ(pc.observed_range().max[1], 1.f);
  EXPECT_EQ(pc.infinities(), 2);
}

// Issue 13, finding 1: a bin count that is not a power of two and a batch whose range is just
// below FLT_MAX / bins made (x - lo) * bins overflow to +Inf, which the AVX2 histogram kernel turned
// into an out-of-bounds increment. Every path now counts every value, as the reference does.
TEST(observers, histogram_of_a_range_just_below_flt_max_over_bins) {
  for (lowbit::kernel_path path : lowbit::supported_paths()) {
    for (lowbit::index_t bins : {100, 2047, 2048, 3}) {
      std::vector<float> x(1024, std::numeric_limits<float>::max() / static_cast<float>(bins));
      x[17] = 0.f;
      lowbit::histogram_observer<> h(lowbit::per_tensor{}, bins);
      h.set_context(lowbit::context{}.with_path(path));
      h.observe(x.data(), {1024});
      EXPECT_EQ(h.histogram(0).total(), 1024.0) << lowbit::path_name(path) << " bins " << bins;
      EXPECT_EQ(h.histogram(0).counts[bins - 1], 1023.f);
      EXPECT_EQ(h.histogram(0).counts[0], 1.f);
    }
  }
}

// Issue 13, finding 2: finite data whose range grows near FLT_MAX made the observed max +Inf (the
// regrid's downsample * span overflowed), after which every calibrator failed.
TEST(observers, histogram_range_growth_near_flt_max_stays_finite) {
  lowbit::histogram_observer<> h;
  const std::vector<float> a = {-1e38f, 1e38f}, b = {-1.7e38f, 1.7e38f};
  h.observe(a.data(), {2});
  h.observe(b.data(), {2});
  const lowbit::range r = h.observed_range();
  EXPECT_EQ(r.min[0], -1.7e38f);
  EXPECT_EQ(r.max[0], 1.7e38f);
  EXPECT_NEAR(h.histogram(0).total(), 4.0, 1e-4);
  const std::vector<float> c = {-3.3e38f, 3.3e38f};  // wider than FLT_MAX from end to end
  h.observe(c.data(), {2});
  EXPECT_TRUE(std::isfinite(h.observed_range().max[0]));
  EXPECT_NEAR(h.histogram(0).total(), 6.0, 1e-4);
  const lowbit::quantizer<lowbit::int8, lowbit::symmetric> q;
  EXPECT_NO_THROW((void)lowbit::calibrate(q, h, lowbit::percentile_calibrator{}));
  EXPECT_NO_THROW((void)lowbit::calibrate(q, h, lowbit::entropy_calibrator{}));
  EXPECT_NO_THROW((void)lowbit::calibrate(q, h, lowbit::mse_calibrator{}));
  EXPECT_NO_THROW((void)lowbit::calibrate(q, h, lowbit::l2_search_calibrator{}));
}

// Found by fuzzing (issue 13): a moving average whose batch extreme lies across the float range
// from the current one computed current - value = +-Inf and the observed range became infinite.
TEST(observers, moving_average_across_the_float_range_stays_finite) {
  lowbit::moving_average_minmax_observer<> m(lowbit::per_tensor{}, 0.25f);
  const std::vector<float> a = {-3e38f, -2e38f}, b = {3e38f, 3.2e38f};
  m.observe(a.data(), {2});
  m.observe(b.data(), {2});
  const lowbit::range r = m.observed_range();
  EXPECT_TRUE(std::isfinite(r.min[0]) && std::isfinite(r.max[0]));
  EXPECT_FLOAT_EQ(r.min[0], static_cast<float>(-3e38 + 0.25 * 6e38));  // in double: 6e38 is beyond FLT_MAX
  EXPECT_NO_THROW((void)lowbit::calibrate(lowbit::quantizer<lowbit::int8, lowbit::affine>(), m, lowbit::minmax_calibrator{}));
}

// The newcomer's report: the same constructor spelling works for every observer (granularity
// first, then the observer's own options).
TEST(observers, every_observer_takes_its_granularity_first) {
  const lowbit::per_channel g(1);
  lowbit::minmax_observer<lowbit::per_channel> a(g);
  lowbit::moving_average_minmax_observer<lowbit::per_channel> b(g);
  lowbit::histogram_observer<lowbit::per_channel> c(g);
  lowbit::tensor_observer<lowbit::per_channel> d(g);
  lowbit::moving_average_minmax_observer<lowbit::per_channel> b2(g, 0.1f);
  lowbit::histogram_observer<lowbit::per_channel> c2(g, 256);
  const row_matrix x = row_matrix::Ones(2, 3);
  a.observe(x);
  b.observe(x);
  c.observe(x);
  d.observe(x);
  b2.observe(x);
  c2.observe(x);
  EXPECT_EQ(a.observed_range().size(), 3);
  EXPECT_EQ(b.observed_range().size(), 3);
  EXPECT_EQ(c.observed_range().size(), 3);
  EXPECT_EQ(d.observed_range().size(), 3);
  EXPECT_EQ(c2.bins(), 256);
  EXPECT_EQ(b2.averaging_constant(), 0.1f);
}

TEST(observers, channel_count_must_not_change) {
  lowbit::minmax_observer<lowbit::per_channel> pc(lowbit::per_channel(1));
  pc.observe(row_matrix::Ones(2, 5));
  const std::string e = error_of([&] { pc.observe(row_matrix::Ones(2, 6)); });
  EXPECT_NE(e.find("has 6 channels"), std::string::npos) << e;
  EXPECT_NO_THROW(pc.observe(row_matrix::Ones(7, 5)));  // more rows is fine
  lowbit::histogram_observer<lowbit::per_channel> hp(lowbit::per_channel(0), 128);
  hp.observe(row_matrix::Ones(3, 4));
  EXPECT_THROW(hp.observe(row_matrix::Ones(4, 4)), lowbit::error);
}

TEST(observers, no_data_gives_pytorch_defaults) {
  lowbit::quantizer<lowbit::uint8, lowbit::affine> q;
  lowbit::minmax_observer<> mm;
  lowbit::histogram_observer<> h;
  mm.observe(row_matrix(0, 3));  // empty batches are ignored
  EXPECT_EQ(mm.batches(), 0);
  for (const lowbit::qparams& p :
       {lowbit::calibrate(q, mm, lowbit::minmax_calibrator{}), lowbit::calibrate(q, h, lowbit::l2_search_calibrator{}),
        lowbit::calibrate(q, h, lowbit::entropy_calibrator{}), lowbit::calibrate(q, h, lowbit::percentile_calibrator{}),
        lowbit::calibrate(q, h, lowbit::mse_calibrator{})}) {
    EXPECT_EQ(p.scale[0], 1.f);
    EXPECT_EQ(p.zero_point[0], 0);
  }
}

TEST(observers, degenerate_histograms_give_finite_qparams) {
  lowbit::quantizer<lowbit::int8, lowbit::symmetric> qs;
  lowbit::quantizer<lowbit::uint8, lowbit::affine> qa;
  const std::vector<row_matrix> cases = {row_matrix::Constant(4, 4, 0.5f), row_matrix::Constant(1, 1, -3.f),
                                         row_matrix::Zero(2, 3),
                                         (row_matrix(1, 3) << 0.f, 1e-30f, 5e-31f).finished()};
  for (const row_matrix& x : cases) {
    lowbit::histogram_observer<> h;
    h.observe(x);
    h.observe(x);  // a second batch of the same values
    for (const lowbit::qparams& p :
         {lowbit::calibrate(qs, h, lowbit::l2_search_calibrator{}), lowbit::calibrate(qa, h, lowbit::l2_search_calibrator{}),
          lowbit::calibrate(qs, h, lowbit::entropy_calibrator{}), lowbit::calibrate(qa, h, lowbit::entropy_calibrator{}),
          lowbit::calibrate(qs, h, lowbit::percentile_calibrator{}), lowbit::calibrate(qa, h, lowbit::percentile_calibrator{}),
          lowbit::calibrate(qs, h, lowbit::mse_calibrator{}), lowbit::calibrate(qa, h, lowbit::mse_calibrator{})}) {
      EXPECT_TRUE(std::isfinite(p.scale[0]) && p.scale[0] > 0) << x;
    }
    EXPECT_DOUBLE_EQ(h.histogram(0).total(), 2.0 * static_cast<double>(x.size()));
  }
  // A constant first batch, then real data: the constant stays in the range and the mass is kept.
  lowbit::histogram_observer<> h;
  h.observe(row_matrix::Constant(2, 2, 5.f));
  h.observe((row_matrix(1, 4) << -1.f, 0.f, 1.f, 2.f).finished());
  EXPECT_EQ(h.histogram(0).max, 5.f);
  EXPECT_EQ(h.histogram(0).min, -1.f);
  EXPECT_DOUBLE_EQ(h.histogram(0).total(), 8.0);
}

TEST(observers, extreme_ranges_keep_every_count) {
  // Old bins too narrow to regrid PyTorch's way (1e-30 wide), then a range a 1e30 times larger.
  lowbit::histogram_observer<> h;
  h.observe((row_matrix(1, 2) << 0.f, 1e-30f).finished());
  h.observe((row_matrix(1, 2) << 0.f, 1.f).finished());
  EXPECT_EQ(h.histogram(0).max, 1.f);
  EXPECT_DOUBLE_EQ(h.histogram(0).total(), 4.0);
  // Growth of more than 512x in one batch, and values near FLT_MAX.
  lowbit::histogram_observer<> g;
  g.observe((row_matrix(1, 3) << -1.f, 0.f, 1.f).finished());
  g.observe((row_matrix(1, 2) << -3e38f, 3e38f).finished());
  EXPECT_EQ(g.histogram(0).min, -3e38f);
  EXPECT_EQ(g.histogram(0).max, 3e38f);
  EXPECT_DOUBLE_EQ(g.histogram(0).total(), 5.0);
  // A constant batch too large for histc's +-1 widening in float still counts.
  lowbit::histogram_observer<> c;
  c.observe(row_matrix::Constant(2, 3, 1e8f));
  EXPECT_DOUBLE_EQ(c.histogram(0).total(), 6.0);
  lowbit::quantizer<lowbit::int8, lowbit::symmetric> q;
  for (const auto* o : {&h, &g, &c}) {
    for (const lowbit::qparams& p : {lowbit::calibrate(q, *o, lowbit::entropy_calibrator{}),
                                     lowbit::calibrate(q, *o, lowbit::l2_search_calibrator{}),
                                     lowbit::calibrate(q, *o, lowbit::mse_calibrator{})})
      EXPECT_TRUE(std::isfinite(p.scale[0]) && p.scale[0] > 0);
  }
}

TEST(observers, merge_is_observing_both) {
  lowbit_test::rng g(62);
  const row_matrix a = g.normal_matrix(6, 40), b = g.normal_matrix(6, 40) * 3.f;
  lowbit::minmax_observer<lowbit::per_channel> one(lowbit::per_channel(0)), x(lowbit::per_channel(0)), y(lowbit::per_channel(0));
  one.observe(a);
  one.observe(b);
  x.observe(a);
  y.observe(b);
  x.merge(y);
  EXPECT_EQ(x.observed_range().min, one.observed_range().min);
  EXPECT_EQ(x.observed_range().max, one.observed_range().max);
  EXPECT_EQ(x.batches(), 2);
  // Histograms: the combined range is the union and no count is lost.
  lowbit::histogram_observer<> h1, h2, both;
  h1.observe(a);
  h2.observe(b);
  both.observe(a);
  both.observe(b);
  h1.merge(h2);
  EXPECT_EQ(h1.histogram(0).min, std::min(a.minCoeff(), b.minCoeff()));
  EXPECT_GE(h1.histogram(0).max, std::max(a.maxCoeff(), b.maxCoeff()));
  EXPECT_NEAR(h1.histogram(0).total(), 480.0, 1e-3);
  // Merged and sequential histograms choose nearly the same range.
  lowbit::quantizer<lowbit::int8, lowbit::symmetric> q;
  const float merged = lowbit::calibrate(q, h1, lowbit::entropy_calibrator{}).scale[0];
  const float sequential = lowbit::calibrate(q, both, lowbit::entropy_calibrator{}).scale[0];
  EXPECT_NEAR(merged, sequential, 0.05f * sequential);
  EXPECT_THROW(lowbit::histogram_observer<>({}, 64).merge(lowbit::histogram_observer<>({}, 128)), lowbit::error);
  // Moving averages merge weighted by their batch counts.
  lowbit::moving_average_minmax_observer<> m1, m2;
  m1.observe(row_matrix::Constant(1, 2, 1.f));
  m2.observe(row_matrix::Constant(1, 2, 3.f));
  m2.observe(row_matrix::Constant(1, 2, 3.f));
  m1.merge(m2);
  EXPECT_NEAR(m1.observed_range().max[0], 1.f + 2.f * (2.f / 3.f), 1e-6f);
}

TEST(observers, threads_do_not_change_the_result) {
  lowbit_test::rng g(64);
  row_matrix x = g.normal_matrix(512, 1024);
  x(100, 7) = std::numeric_limits<float>::infinity();
  lowbit::context one, two;
  one.threads = 1;
  two.threads = 2;
  lowbit::histogram_observer<> h1, h2;
  lowbit::minmax_observer<lowbit::per_channel> p1(lowbit::per_channel(0)), p2(lowbit::per_channel(0));
  h1.set_context(one);
  h2.set_context(two);
  p1.set_context(one);
  p2.set_context(two);
  for (int b = 0; b < 2; ++b) {
    h1.observe(x * static_cast<float>(b + 1));
    h2.observe(x * static_cast<float>(b + 1));
    p1.observe(x);
    p2.observe(x);
  }
  EXPECT_EQ(h1.infinities(), 2);
  EXPECT_EQ(h2.infinities(), 2);
  const lowbit::histogram_view a = h1.histogram(0), b = h2.histogram(0);
  EXPECT_EQ(a.min, b.min);
  EXPECT_EQ(a.max, b.max);
  EXPECT_TRUE(std::equal(a.counts, a.counts + a.bins, b.counts));
  EXPECT_EQ(p1.observed_range().min, p2.observed_range().min);
  EXPECT_EQ(p1.observed_range().max, p2.observed_range().max);
  // A NaN found by a worker is still reported as the first one, with its batch.
  row_matrix bad = x;
  bad(300, 5) = std::numeric_limits<float>::quiet_NaN();
  bad(400, 1) = std::numeric_limits<float>::quiet_NaN();
  const std::string e = error_of([&] { h2.observe(bad); });
  EXPECT_NE(e.find("index [300, 5]"), std::string::npos) << e;
}

// Thread safety (README): an observer is not shared between threads; each thread fills its own
// and merge() combines them: for min / max, exactly what one observer of all the batches gives.
TEST(observers, observers_filled_on_threads_and_merged) {
  lowbit_test::rng g(65);
  std::vector<row_matrix> batches;
  for (int b = 0; b < 8; ++b) batches.push_back(g.normal_matrix(64, 100, 1.f + 0.5f * static_cast<float>(b)));
  lowbit::minmax_observer<lowbit::per_channel> one(lowbit::per_channel(1));
  lowbit::histogram_observer<> hone;
  for (const auto& b : batches) {
    one.observe(b);
    hone.observe(b);
  }
  std::vector<lowbit::minmax_observer<lowbit::per_channel>> parts(4, lowbit::minmax_observer<lowbit::per_channel>(lowbit::per_channel(1)));
  std::vector<lowbit::histogram_observer<>> hparts(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int b = t; b < 8; b += 4) {
        parts[static_cast<std::size_t>(t)].observe(batches[static_cast<std::size_t>(b)]);
        hparts[static_cast<std::size_t>(t)].observe(batches[static_cast<std::size_t>(b)]);
      }
    });
  for (auto& t : threads) t.join();
  for (int t = 1; t < 4; ++t) {
    parts[0].merge(parts[static_cast<std::size_t>(t)]);
    hparts[0].merge(hparts[static_cast<std::size_t>(t)]);
  }
  EXPECT_EQ(parts[0].observed_range(), one.observed_range());
  EXPECT_EQ(parts[0].batches(), 8);
  // Histograms: every count is kept (to float rounding; 51,200 values here) and the merged range
  // covers the data. The ranges themselves differ: each observer grows its range on PyTorch's grid
  // as its own batches arrive.
  EXPECT_NEAR(hparts[0].histogram(0).total(), 51200.0, 1.0);
  EXPECT_NEAR(hone.histogram(0).total(), 51200.0, 1.0);
  const lowbit::range all = one.observed_range();
  EXPECT_LE(hparts[0].observed_range().min[0], *std::min_element(all.min.begin(), all.min.end()));
  EXPECT_GE(hparts[0].observed_range().max[0], *std::max_element(all.max.begin(), all.max.end()));
}

TEST(observers, reset_forgets) {
  lowbit::histogram_observer<> h;
  h.observe(row_matrix::Ones(2, 2));
  h.reset();
  EXPECT_EQ(h.batches(), 0);
  EXPECT_TRUE(h.histogram(0).empty());
  EXPECT_EQ(h.observed_range().min[0], std::numeric_limits<float>::infinity());
}

TEST(observers, contract_trait) {
  static_assert(lowbit::is_observer_v<lowbit::minmax_observer<>>);
  static_assert(lowbit::is_observer_v<lowbit::histogram_observer<lowbit::per_channel>>);
  static_assert(lowbit::is_observer_v<lowbit::moving_average_minmax_observer<>>);
  static_assert(!lowbit::is_observer_v<int>);
#if defined(__cpp_concepts) && __cpp_concepts >= 201907L
  static_assert(lowbit::observer<lowbit::minmax_observer<>>);
#endif
}

// A user-written observer only needs the contract: here, min/max of |x| per tensor.
struct absmax_observer {
  float amax = 0;
  index_t seen = 0;
  template <class D>
  void observe(const Eigen::DenseBase<D>& x) {
    amax = std::max(amax, x.derived().template cast<float>().cwiseAbs().maxCoeff());
    ++seen;
  }
  void observe(const float* data, const std::vector<index_t>& shape) {
    index_t n = 1;
    for (index_t d : shape) n *= d;
    observe(Eigen::Map<const Eigen::VectorXf>(data, n));
  }
  void reset() { *this = absmax_observer{}; }
  void merge(const absmax_observer& o) {
    amax = std::max(amax, o.amax);
    seen += o.seen;
  }
  lowbit::range observed_range() const { return lowbit::range({-amax}, {amax}); }
  index_t batches() const { return seen; }
  lowbit::per_tensor granularity() const { return {}; }
};

TEST(observers, a_user_observer_composes) {
  static_assert(lowbit::is_observer_v<absmax_observer>);
  absmax_observer o;
  o.observe((row_matrix(1, 3) << -4.f, 1.f, 2.f).finished());
  const lowbit::qparams p = lowbit::calibrate(lowbit::quantizer<lowbit::int8, lowbit::symmetric>(), o,
                                              lowbit::minmax_calibrator{});
  EXPECT_EQ(p.scale[0], 4.f / 127.5f);
}

TEST(static_calibration, named_tensors) {
  lowbit_test::rng g(63);
  using calib = lowbit::static_calibration<lowbit::quantizer<lowbit::uint8, lowbit::affine>,
                                           lowbit::histogram_observer<>, lowbit::entropy_calibrator>;
  calib c;
  c.add("fc1.input");
  c.add("fc2.input");
  EXPECT_THROW(c.add("fc1.input"), lowbit::error);
  for (int i = 0; i < 3; ++i) {
    c.observe("fc1.input", g.normal_matrix(8, 16));
    c.observe("fc2.input", g.uniform_matrix(8, 16, 0.f, 6.f));
  }
  EXPECT_THROW(c.observe("fc3.input", g.normal_matrix(2, 2)), lowbit::error);
  EXPECT_THROW(c.qparams("fc1.input"), lowbit::error);  // before freeze
  c.freeze();
  EXPECT_TRUE(c.frozen());
  EXPECT_THROW(c.observe("fc1.input", g.normal_matrix(2, 2)), lowbit::error);
  const lowbit::qparams p1 = c.qparams("fc1.input"), p2 = c.qparams("fc2.input");
  EXPECT_GT(p1.zero_point[0], 64);  // centred data: zero point near the middle
  EXPECT_EQ(p2.zero_point[0], 0);   // nonnegative data
  EXPECT_EQ(c.names(), (std::vector<std::string>{"fc1.input", "fc2.input"}));
  calib never;
  never.add("x");
  EXPECT_NE(error_of([&] { never.freeze(); }).find("never observed"), std::string::npos);
}

}  // namespace
