// Observers and calibrators on a 4096 x 4096 float tensor (64 MiB), 1 and 2 threads.
//
// Counters: GB/s = bytes of the tensor read / time (observers); calibrators work on one observer's
// 2048-bin histogram and report milliseconds. PyTorch's figures for the same operations come from
// benchmarks/torch_observers.py, run on the same machine (see benchmarks/README.md).
#include <benchmark/benchmark.h>

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

BENCHMARK_MAIN();
