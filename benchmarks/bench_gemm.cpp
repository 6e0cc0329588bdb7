// int8 GEMM throughput: lowbit beside oneDNN (u8 x s8 -> f32, per-channel scales, weights reordered
// once), OpenBLAS sgemm and Eigen float GEMM on the same shapes, 1 and 2 threads, in one process.
//
// Counters: GOPS = 2 M N K / time; peak% = GOPS / (threads x the single-core peak of the active
// path's multiply-accumulate instruction, measured at start-up in this binary with independent
// accumulators kept in registers). At the end the program prints lowbit's speed relative to each
// peer per shape (median of repetitions when --benchmark_repetitions is given). gemv/hot|dram and
// read/hot|dram: the M = 1 product and a plain read of as many bytes, weights resident in cache or
// streamed from DRAM (GB/s of weight bytes).
//
//   bench_gemm                                   all shapes, all implementations
//   bench_gemm --benchmark_filter='M=8/'         one M
//   bench_gemm --benchmark_out=gemm.json --benchmark_out_format=json   for benchmarks/plot_gemm.py
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "lowbit/lowbit.hpp"
#include "lowbit/ptq/dynamic_linear.hpp"
#include "bench_support.hpp"


namespace {

using lowbit::index_t;
using bench::peak;
using bench::random_vector;
using bench::measure_peak;
using bench::peak_info;

struct shape {
  const char* model;
  index_t m, n, k;
};

std::vector<shape> shapes() {
  std::vector<shape> s;
  for (index_t m : {1, 8, 32, 128, 512}) {
    s.push_back({"llama7b", m, 4096, 4096});
    s.push_back({"llama7b", m, 11008, 4096});
    s.push_back({"llama7b", m, 4096, 11008});
  }
  for (index_t m : {128, 384}) {
    s.push_back({"bert", m, 768, 768});
    s.push_back({"bert", m, 3072, 768});
    s.push_back({"bert", m, 768, 3072});
  }
  for (index_t d : {256, 1024, 2048}) s.push_back({"square", d, d, d});
  return s;
}

std::string shape_name(const shape& s) {
  return std::string(s.model) + "/M=" + std::to_string(s.m) + "/N=" + std::to_string(s.n) +
         "/K=" + std::to_string(s.k);
}

void set_counters(benchmark::State& state, const shape& s, int threads) {
  const double ops = 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k);
  state.counters["GOPS"] = benchmark::Counter(ops * static_cast<double>(state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
  if (peak().gops > 0) state.counters["peak_GOPS"] = peak().gops * threads;
}

// ---------------------------------------------------------------------------------------------
// Implementations.

void bm_lowbit(benchmark::State& state, shape s, int threads) {
  bench::int8_gemm_loop<lowbit::uint8>(state, s.m, s.n, s.k, threads);
  set_counters(state, s, threads);
  state.SetLabel(lowbit::active_path_name());
}

// 7-bit activations (uint7, codes 0..127): on the avx2 path the vpmaddubsw kernel.
void bm_lowbit_u7(benchmark::State& state, shape s, int threads) {
  bench::int8_gemm_loop<lowbit::uint7>(state, s.m, s.n, s.k, threads);
  set_counters(state, s, threads);
  state.SetLabel(lowbit::active_path_name() + " uint7");
}

// ---------------------------------------------------------------------------------------------
// GEMV (M = 1) against the in-process read roofline of the same bytes: a plain streaming read of
// a buffer as large as the packed weights, with the weights hot (one copy, resident in L3 when it
// fits) and cold (copies rotated so that each GEMV reads from DRAM).

/// Copies of the weights rotated per iteration (bench::copies_for).
index_t gemv_copies(const shape& s, bool cold) { return bench::copies_for(s.n * s.k, cold); }

void bm_read(benchmark::State& state, shape s, bool cold) {
  bench::read_loop(state, static_cast<std::size_t>(s.n * s.k), cold);
  set_counters(state, s, 1);
}

void bm_gemv(benchmark::State& state, shape s, bool cold) {
  const auto a = random_vector<std::uint8_t>(static_cast<std::size_t>(s.k), 0, 255, 1);
  const auto w = random_vector<std::int8_t>(static_cast<std::size_t>(s.n * s.k), -127, 127, 2);
  const std::vector<float> scales(static_cast<std::size_t>(s.n), 0.01f);
  const index_t copies = gemv_copies(s, cold);
  std::vector<lowbit::packed_weights> pw;
  for (index_t i = 0; i < copies; ++i) {
    const auto wi = i == 0 ? w : random_vector<std::int8_t>(static_cast<std::size_t>(s.n * s.k), -127, 127, static_cast<unsigned>(20 + i));
    pw.push_back(lowbit::packed_weights::pack(wi.data(), s.n, s.k, s.k, scales));
  }
  std::vector<float> c(static_cast<std::size_t>(s.n));
  const lowbit::context ctx = lowbit::context{}.with_threads(1);
  const lowbit::activations<lowbit::uint8> act(a.data(), 1, s.k, s.k, {0.02f, 0});
  for (const auto& p : pw) lowbit::gemm(act, p, lowbit::output_float{}, c.data(), s.n, ctx);  // warm-up pass
  index_t next = 0;
  for (auto _ : state) {
    lowbit::gemm(act, pw[static_cast<std::size_t>(next)], lowbit::output_float{}, c.data(), s.n, ctx);
    benchmark::DoNotOptimize(c.data());
    next = (next + 1) % copies;
  }
  bench::set_bytes(state, static_cast<double>(s.n * s.k));
  set_counters(state, s, 1);
  state.SetLabel(lowbit::active_path_name());
}

// The whole dynamic quantized Linear: float input -> per-row uint8 quantization -> GEMM -> float.
void bm_dynamic_linear(benchmark::State& state, shape s, int threads) {
  const lowbit::row_matrix w = lowbit::row_matrix::Random(s.n, s.k) * 0.05f;
  const lowbit::row_matrix x = lowbit::row_matrix::Random(s.m, s.k);
  const lowbit::dynamic_linear<> layer(w, std::vector<float>(static_cast<std::size_t>(s.n), 0.1f));
  lowbit::row_matrix y(s.m, s.n);
  const lowbit::context ctx = lowbit::context{}.with_threads(threads);
  for (auto _ : state) {
    layer.forward(x.data(), s.m, s.k, y.data(), s.n, {}, ctx);
    benchmark::DoNotOptimize(y.data());
  }
  set_counters(state, s, threads);
  state.SetLabel(lowbit::active_path_name());
}

void bm_pack(benchmark::State& state, shape s) {
  Eigen::MatrixXf w = Eigen::MatrixXf::Random(s.n, s.k);
  const lowbit::row_matrix wr = w;
  for (auto _ : state) {
    const lowbit::packed_weights p(lowbit::quantizer<lowbit::int8, lowbit::symmetric, lowbit::per_channel>().quantize(wr));
    benchmark::DoNotOptimize(p.panel(0));
  }
  state.counters["weights/s"] = benchmark::Counter(static_cast<double>(s.n * s.k) * static_cast<double>(state.iterations()),
                                                   benchmark::Counter::kIsRate);
}

void bm_eigen(benchmark::State& state, shape s, int threads) {
#if LOWBIT_BENCH_OPENMP
  Eigen::setNbThreads(threads);
#else
  if (threads > 1) {
    state.SkipWithError("Eigen is single-threaded without OpenMP");
    return;
  }
#endif
  const Eigen::MatrixXf a = Eigen::MatrixXf::Random(s.m, s.k);
  const Eigen::MatrixXf w = Eigen::MatrixXf::Random(s.k, s.n);  // W^T, as Eigen users store it
  Eigen::MatrixXf c(s.m, s.n);
  for (auto _ : state) {
    c.noalias() = a * w;
    benchmark::DoNotOptimize(c.data());
  }
  set_counters(state, s, threads);
}

#if LOWBIT_PEER_OPENBLAS
void bm_openblas(benchmark::State& state, shape s, int threads) {
  bench::openblas_loop(state, s.m, s.n, s.k, threads);
  set_counters(state, s, threads);
}
#endif

#if LOWBIT_BENCH_ONEDNN
void bm_onednn(benchmark::State& state, shape s, int threads) {
  state.SetLabel(bench::onednn_loop(state, s.m, s.n, s.k, threads));
  set_counters(state, s, threads);
}
#endif

// ---------------------------------------------------------------------------------------------
// Prints lowbit's GOPS relative to each peer, per shape and thread count.
class ratio_reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      if (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median") continue;
      auto it = r.counters.find("GOPS");
      if (it == r.counters.end()) continue;
      const std::string name = r.run_name.function_name;  // impl/threads/shape
      const auto slash = name.find('/');
      const auto slash2 = name.find('/', slash + 1);
      gops_[name.substr(slash + 1)][name.substr(0, slash)] = it->second.value;
      (void)slash2;
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    const double pk = peak().gops;
    std::printf("\nlowbit relative to the peers (GOPS ratio, > 1 means lowbit is faster); path %s; peak of %s: %.1f GOPS per core\n",
                lowbit::active_path_name().c_str(), peak().instruction, pk);
    std::printf("(uint7 = lowbit with 7-bit activations; dynamic = the whole dynamic quantized Linear, float in and out, against OpenBLAS sgemm)\n");
    std::printf("%-40s %8s %6s %8s %6s %8s %6s %8s %6s %8s %6s %8s %6s\n", "threads/shape", "lowbit", "%peak", "oneDNN",
                "ratio", "uint7", "ratio", "OpenBLAS", "ratio", "Eigen", "ratio", "dynamic", "ratio");
    for (const auto& [key, impls] : gops_) {
      auto get = [&](const char* impl) {
        auto f = impls.find(impl);
        return f == impls.end() ? 0.0 : f->second;
      };
      const double lb = get("lowbit");
      if (lb == 0) continue;
      const int threads = key.rfind("2t/", 0) == 0 ? 2 : 1;
      std::printf("%-40s %8.1f", key.c_str(), lb);
      if (pk > 0) {
        std::printf(" %5.0f%%", 100.0 * lb / (pk * threads));
      } else {
        std::printf(" %6s", "-");
      }
      const double dnn = get("onednn");
      const auto column = [](double mine, double theirs) {
        if (mine > 0 && theirs > 0) {
          std::printf(" %8.1f %6.2f", mine, mine / theirs);
        } else if (mine > 0) {
          std::printf(" %8.1f %6s", mine, "-");
        } else {
          std::printf(" %8s %6s", "-", "-");
        }
      };
      if (dnn > 0) {
        std::printf(" %8.1f %6.2f", dnn, lb / dnn);
      } else {
        std::printf(" %8s %6s", "-", "-");
      }
      column(get("uint7"), dnn);
      for (const char* peer : {"openblas", "eigen"}) {
        const double g = get(peer);
        if (g > 0) {
          std::printf(" %8.1f %6.2f", g, lb / g);
        } else {
          std::printf(" %8s %6s", "-", "-");
        }
      }
      column(get("dynamic"), get("openblas"));
      std::printf("\n");
    }
  }

 private:
  std::map<std::string, std::map<std::string, double>> gops_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  peak() = measure_peak(lowbit::active_path());
  std::printf("lowbit path %s; single-core peak of %s: %.1f GOPS\n", lowbit::active_path_name().c_str(),
              peak().instruction, peak().gops);
  const peak_info u7 = measure_peak(lowbit::active_path(), true);
  if (u7.gops > 0 && u7.instruction != peak().instruction)
    std::printf("7-bit kernel's peak (%s): %.1f GOPS\n", u7.instruction, u7.gops);
  for (const shape& s : shapes()) {
    for (int t : {1, 2}) {
      const std::string suffix = "/" + std::to_string(t) + "t/" + shape_name(s);
      benchmark::RegisterBenchmark(("lowbit" + suffix).c_str(), bm_lowbit, s, t)->UseRealTime();
      benchmark::RegisterBenchmark(("uint7" + suffix).c_str(), bm_lowbit_u7, s, t)->UseRealTime();
      benchmark::RegisterBenchmark(("dynamic" + suffix).c_str(), bm_dynamic_linear, s, t)->UseRealTime();
#if LOWBIT_BENCH_ONEDNN
      benchmark::RegisterBenchmark(("onednn" + suffix).c_str(), bm_onednn, s, t)->UseRealTime();
#endif
#if LOWBIT_PEER_OPENBLAS
      benchmark::RegisterBenchmark(("openblas" + suffix).c_str(), bm_openblas, s, t)->UseRealTime();
#endif
      benchmark::RegisterBenchmark(("eigen" + suffix).c_str(), bm_eigen, s, t)->UseRealTime();
    }
  }
  for (const shape& s : shapes()) {
    if (s.m != 1) continue;
    for (bool cold : {false, true}) {
      const std::string where = cold ? "/dram/" : "/hot/";
      benchmark::RegisterBenchmark(("gemv" + where + shape_name(s)).c_str(), bm_gemv, s, cold)->UseRealTime();
      benchmark::RegisterBenchmark(("read" + where + shape_name(s)).c_str(), bm_read, s, cold)->UseRealTime();
    }
  }
  for (const shape& s : shapes())
    if (s.m == 1) benchmark::RegisterBenchmark(("pack/quantize_and_pack/" + shape_name(s)).c_str(), bm_pack, s)->Unit(benchmark::kMillisecond);
  ratio_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
