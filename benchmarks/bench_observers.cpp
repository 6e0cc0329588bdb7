// Observers and calibrators on a 4096 x 4096 float tensor (64 MiB), 1 and 2 threads.
//
// Counters: GB/s = bytes of the tensor read / time (observers); calibrators work on one observer's
// 2048-bin histogram and report milliseconds. PyTorch's figures for the same operations come from
// benchmarks/torch_observers.py, run on the same machine (see benchmarks/README.md).
#include <benchmark/benchmark.h>

#include <cmath>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "lowbit/lowbit.hpp"

namespace {

using lowbit::index_t;

constexpr index_t rows = 4096, cols = 4096;

const std::vector<float>& tensor() {
  static const std::vector<float> x = [] {
    std::vector<float> v(static_cast<std::size_t>(rows * cols));
    std::mt19937 g(5);
    std::normal_distribution<float> d(0.f, 1.f);
    for (auto& e : v) e = d(g);
    v[12345] = 40.f;  // an outlier
    return v;
  }();
  return x;
}

lowbit::context threads(int n) { return lowbit::context{}.with_threads(n); }

template <class Observer>
void run_observer(benchmark::State& state, Observer obs) {
  obs.set_context(threads(static_cast<int>(state.range(0))));
  const std::vector<float>& x = tensor();
  for (auto _ : state) {
    obs.reset();
    obs.observe(x.data(), {rows, cols});
    benchmark::DoNotOptimize(obs.batches());
  }
  state.counters["GB/s"] = benchmark::Counter(4.0 * rows * cols * static_cast<double>(state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
}

void bm_minmax(benchmark::State& s) { run_observer(s, lowbit::minmax_observer<>()); }
void bm_minmax_per_channel(benchmark::State& s) {
  run_observer(s, lowbit::minmax_observer<lowbit::per_channel>(lowbit::per_channel(0)));
}
void bm_moving_average(benchmark::State& s) { run_observer(s, lowbit::moving_average_minmax_observer<>()); }
void bm_histogram(benchmark::State& s) { run_observer(s, lowbit::histogram_observer<>()); }

const lowbit::histogram_observer<>& observed() {
  static const lowbit::histogram_observer<> h = [] {
    lowbit::histogram_observer<> o;
    o.observe(tensor().data(), {rows, cols});
    return o;
  }();
  return h;
}

template <class Calibrator>
void run_calibrator(benchmark::State& state, Calibrator c) {
  const lowbit::histogram_observer<>& h = observed();
  const lowbit::quantizer<lowbit::uint8, lowbit::affine> q;
  for (auto _ : state) {
    lowbit::qparams p = lowbit::calibrate(q, h, c);
    benchmark::DoNotOptimize(p.scale.data());
  }
}

void bm_cal_minmax(benchmark::State& s) { run_calibrator(s, lowbit::minmax_calibrator{}); }
void bm_cal_percentile(benchmark::State& s) { run_calibrator(s, lowbit::percentile_calibrator{}); }
void bm_cal_entropy(benchmark::State& s) { run_calibrator(s, lowbit::entropy_calibrator{}); }
void bm_cal_mse(benchmark::State& s) { run_calibrator(s, lowbit::mse_calibrator{}); }
void bm_cal_l2(benchmark::State& s) { run_calibrator(s, lowbit::l2_search_calibrator{}); }

// Histogram observe + L2 calibration: what PyTorch's HistogramObserver forward + calculate_qparams do.
void bm_histogram_observe_and_calibrate(benchmark::State& state) {
  lowbit::histogram_observer<> obs;
  obs.set_context(threads(static_cast<int>(state.range(0))));
  const lowbit::quantizer<lowbit::uint8, lowbit::affine> q;
  for (auto _ : state) {
    obs.reset();
    obs.observe(tensor().data(), {rows, cols});
    lowbit::qparams p = lowbit::calibrate(q, obs, lowbit::l2_search_calibrator{});
    benchmark::DoNotOptimize(p.scale.data());
  }
}

// The weight search (GPTQ's clipping search) per group of 128 and per channel on 256 x 4096 weights (1 Mi values),
// on each kernel path, beside the double std::pow search it replaced (the previous implementation,
// kept here as the baseline). Counter: ns per value (80 candidates each).
constexpr index_t search_rows = 256;

template <class Q>
lowbit::tensor_observer<lowbit::per_group> search_observer(const Q& q) {
  lowbit::tensor_observer<lowbit::per_group> t(q.granularity());
  t.observe(tensor().data(), {search_rows, cols});
  return t;
}

void bm_weight_search(benchmark::State& state) {
  const auto path = static_cast<lowbit::kernel_path>(state.range(0));
  if (!lowbit::path_supported(path)) return state.SkipWithError("path not supported here");
  state.SetLabel(lowbit::path_name(path));
  const lowbit::quantizer<lowbit::int4, lowbit::symmetric, lowbit::per_group> q(lowbit::per_group(1, state.range(1)));
  lowbit::tensor_observer<lowbit::per_group> o = search_observer(q);
  o.set_context(lowbit::context{}.with_threads(1).with_path(path));
  for (auto _ : state) {
    lowbit::range r = lowbit::weight_search{}.choose(q, o);
    benchmark::DoNotOptimize(r.max.data());
  }
  state.counters["ns/value"] = benchmark::Counter(static_cast<double>(search_rows * cols),
                                                  benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void bm_weight_search_std_pow(benchmark::State& state) {
  const lowbit::quantizer<lowbit::int4, lowbit::symmetric, lowbit::per_group> q(lowbit::per_group(1, state.range(0)));
  const auto o = search_observer(q);
  for (auto _ : state) {
    std::vector<float> best(static_cast<std::size_t>(o.observed_range().size()));
    for (index_t s = 0; s < o.observed_range().size(); ++s) {
      const float* x = o.values(s);
      const index_t n = o.count(s);
      float m = 0;
      for (index_t k = 0; k < n; ++k) m = std::max(m, std::fabs(x[k]));
      double best_err = std::numeric_limits<double>::infinity();
      for (int i = 0; i < 80; ++i) {
        const float p = 1.0f - static_cast<float>(i) / 100.0f;
        const auto [scale, zp] = q.qparams_for(-p * m, p * m);
        double err = 0;
        for (index_t k = 0; k < n; ++k)
          err += std::pow(std::fabs(static_cast<double>(q.fake_quantize(x[k], scale, zp)) - x[k]), 2.4);
        if (err < best_err) {
          best_err = err;
          best[static_cast<std::size_t>(s)] = p * m;
        }
      }
    }
    benchmark::DoNotOptimize(best.data());
  }
  state.counters["ns/value"] = benchmark::Counter(static_cast<double>(search_rows * cols),
                                                  benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

}  // namespace

BENCHMARK(bm_minmax)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(bm_minmax_per_channel)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(bm_moving_average)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(bm_histogram)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(bm_histogram_observe_and_calibrate)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(bm_cal_minmax)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_cal_percentile)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_cal_entropy)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_cal_mse)->Unit(benchmark::kMillisecond);
BENCHMARK(bm_cal_l2)->Unit(benchmark::kMillisecond);
// Arguments: kernel path (lowbit::kernel_path's value), group size (4096: per channel).
BENCHMARK(bm_weight_search)
    ->ArgsProduct({{static_cast<int>(lowbit::kernel_path::scalar), static_cast<int>(lowbit::kernel_path::avx2),
                    static_cast<int>(lowbit::kernel_path::avx512), static_cast<int>(lowbit::kernel_path::neondot)},
                   {128, 4096}})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(bm_weight_search_std_pow)->Arg(128)->Arg(4096)->Unit(benchmark::kMillisecond)->Iterations(1);

// GPTQ (ptq/gptq.hpp) of a 4096 x 4096 layer with 2,048 calibration rows, int4 with groups of 128
// (act order, static groups), one thread: issue 11 asks for at most 10 s. The weights are the
// benchmark tensor scaled to 0.02; the inputs its first 2,048 rows. bm_gptq_hessian is the
// streaming Hessian (H = 2 X^T X / n) over the same rows, measured apart.
using row_matrix = lowbit::row_matrix;

const row_matrix& gptq_inputs() {
  static const row_matrix x = Eigen::Map<const row_matrix>(tensor().data(), 2048, cols);
  return x;
}

void bm_gptq_hessian(benchmark::State& state) {
  for (auto _ : state) {
    lowbit::hessian_observer h(cols);
    h.observe(gptq_inputs());
    benchmark::DoNotOptimize(h.samples());
  }
}

void bm_gptq(benchmark::State& state) {
  const row_matrix w = Eigen::Map<const row_matrix>(tensor().data(), rows, cols) * 0.02f;
  lowbit::hessian_observer h(cols);
  h.observe(gptq_inputs());
  const lowbit::quantizer<lowbit::int4, lowbit::symmetric, lowbit::per_group> q(lowbit::per_group(1, 128));
  lowbit::gptq_options o;
  o.act_order = true;
  o.static_groups = true;
  for (auto _ : state) {
    auto t = lowbit::gptq(q, w, h, o);
    benchmark::DoNotOptimize(t);
  }
}

BENCHMARK(bm_gptq_hessian)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();
BENCHMARK(bm_gptq)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

BENCHMARK_MAIN();
