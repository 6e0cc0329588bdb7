// int8 GEMM throughput: lowbit beside oneDNN (u8 x s8 -> f32, per-channel scales, weights reordered
// once), OpenBLAS sgemm and Eigen float GEMM on the same shapes, 1 and 2 threads, in one process.
//
// Counters: GOPS = 2 M N K / time; peak% = GOPS / (threads x the single-core peak of the active
// path's multiply-accumulate instruction, measured at start-up in this binary). At the end the
// program prints lowbit's speed relative to each peer per shape (median of repetitions when
// --benchmark_repetitions is given).
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

#if LOWBIT_BENCH_ONEDNN
#include <dnnl.hpp>
#endif
#if LOWBIT_PEER_OPENBLAS
#include <cblas.h>
#endif
#if LOWBIT_BENCH_OPENMP
#include <omp.h>
#endif

namespace {

using lowbit::index_t;

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

// ---------------------------------------------------------------------------------------------
// Peak of the active path's multiply-accumulate instruction on one core, in GOPS (2 per MAC).

// Each loop runs 8 independent accumulator chains acc_j += op(x_j, y) (distinct x_j, so nothing
// can be merged, and y opaque to the compiler); the op is what the path's micro-kernel issues per
// multiply: vpmaddwd + vpaddd for the exact int16 kernels, vpdpbusd for VNNI.
#if LOWBIT_HAVE_X86_PATHS
LOWBIT_TARGET_AVX2 double peak_avx2_loop(std::int64_t iters) {
  __m256i x[8], acc[8], y = _mm256_set1_epi16(3);
  for (int j = 0; j < 8; ++j) {
    x[j] = _mm256_set1_epi16(static_cast<short>(j + 1));
    acc[j] = _mm256_setzero_si256();
  }
  for (std::int64_t i = 0; i < iters; ++i) {
    __asm__ volatile("" : "+x"(y));
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(x[j], y));
  }
  for (int j = 1; j < 8; ++j) acc[0] = _mm256_add_epi32(acc[0], acc[j]);
  benchmark::DoNotOptimize(acc[0]);
  return 8.0 * 16.0;  // MACs per iteration
}
LOWBIT_TARGET_AVX512 double peak_avx512_loop(std::int64_t iters) {
  __m512i x[8], acc[8], y = _mm512_set1_epi16(3);
  for (int j = 0; j < 8; ++j) {
    x[j] = _mm512_set1_epi16(static_cast<short>(j + 1));
    acc[j] = _mm512_setzero_si512();
  }
  for (std::int64_t i = 0; i < iters; ++i) {
    __asm__ volatile("" : "+v"(y));
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) acc[j] = _mm512_add_epi32(acc[j], _mm512_madd_epi16(x[j], y));
  }
  for (int j = 1; j < 8; ++j) acc[0] = _mm512_add_epi32(acc[0], acc[j]);
  benchmark::DoNotOptimize(acc[0]);
  return 8.0 * 32.0;
}
LOWBIT_TARGET_AVX512VNNI double peak_vnni_loop(std::int64_t iters) {
  __m512i x[8], acc[8], y = _mm512_set1_epi8(3);
  for (int j = 0; j < 8; ++j) {
    x[j] = _mm512_set1_epi8(static_cast<char>(j + 1));
    acc[j] = _mm512_setzero_si512();
  }
  for (std::int64_t i = 0; i < iters; ++i) {
    __asm__ volatile("" : "+v"(y));
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) acc[j] = _mm512_dpbusd_epi32(acc[j], x[j], y);
  }
  for (int j = 1; j < 8; ++j) acc[0] = _mm512_add_epi32(acc[0], acc[j]);
  benchmark::DoNotOptimize(acc[0]);
  return 8.0 * 64.0;
}
#endif

struct peak_info {
  const char* instruction = "scalar";
  double gops = 0;
};

peak_info measure_peak(lowbit::kernel_path path) {
  peak_info p;
  double (*loop)(std::int64_t) = nullptr;
#if LOWBIT_HAVE_X86_PATHS
  if (path == lowbit::kernel_path::avx2) {
    loop = peak_avx2_loop;
    p.instruction = "vpmaddwd + vpaddd ymm";
  } else if (path == lowbit::kernel_path::avx512) {
    loop = peak_avx512_loop;
    p.instruction = "vpmaddwd + vpaddd zmm";
  } else if (path == lowbit::kernel_path::avx512vnni) {
    loop = peak_vnni_loop;
    p.instruction = "vpdpbusd zmm";
  }
#endif
  if (loop == nullptr) return p;
  std::vector<double> rates;
  const std::int64_t iters = 40000000;
  for (int trial = 0; trial < 5; ++trial) {
    const auto t0 = std::chrono::steady_clock::now();
    const double macs = loop(iters);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(2.0 * macs * static_cast<double>(iters) / s / 1e9);
  }
  std::sort(rates.begin(), rates.end());
  p.gops = rates[rates.size() / 2];
  return p;
}

peak_info& peak() {
  static peak_info p;
  return p;
}

void set_counters(benchmark::State& state, const shape& s, int threads) {
  const double ops = 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k);
  state.counters["GOPS"] = benchmark::Counter(ops * static_cast<double>(state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
  if (peak().gops > 0) state.counters["peak_GOPS"] = peak().gops * threads;
}

template <class T>
std::vector<T> random_vector(std::size_t n, int lo, int hi, unsigned seed) {
  std::mt19937 g(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(g));
  return v;
}

// ---------------------------------------------------------------------------------------------
// Implementations.

void bm_lowbit(benchmark::State& state, shape s, int threads) {
  const auto a = random_vector<std::uint8_t>(static_cast<std::size_t>(s.m * s.k), 0, 255, 1);
  const auto w = random_vector<std::int8_t>(static_cast<std::size_t>(s.n * s.k), -127, 127, 2);
  const std::vector<float> scales(static_cast<std::size_t>(s.n), 0.01f);
  const lowbit::packed_weights pw = lowbit::packed_weights::pack(w.data(), s.n, s.k, s.k, scales);
  std::vector<float> c(static_cast<std::size_t>(s.m * s.n));
  const lowbit::context ctx = lowbit::context{}.with_threads(threads);
  const lowbit::activations<lowbit::uint8> act(a.data(), s.m, s.k, s.k, {0.02f, 0});
  for (auto _ : state) {
    lowbit::gemm(act, pw, lowbit::output_float{}, c.data(), s.n, ctx);
    benchmark::DoNotOptimize(c.data());
  }
  set_counters(state, s, threads);
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
  openblas_set_num_threads(threads);
  std::vector<float> a(static_cast<std::size_t>(s.m * s.k), 0.5f), w(static_cast<std::size_t>(s.n * s.k), 0.25f),
      c(static_cast<std::size_t>(s.m * s.n));
  for (auto _ : state) {
    // C[M, N] = A[M, K] x W[N, K]^T, row-major.
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(s.m), static_cast<int>(s.n),
                static_cast<int>(s.k), 1.0f, a.data(), static_cast<int>(s.k), w.data(),
                static_cast<int>(s.k), 0.0f, c.data(), static_cast<int>(s.n));
    benchmark::DoNotOptimize(c.data());
  }
  set_counters(state, s, threads);
}
#endif

#if LOWBIT_BENCH_ONEDNN
void bm_onednn(benchmark::State& state, shape s, int threads) {
#if LOWBIT_BENCH_OPENMP
  omp_set_num_threads(threads);
#endif
  using namespace dnnl;
  using dt = memory::data_type;
  using tag = memory::format_tag;
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  const memory::dims src_dims = {s.m, s.k}, wei_dims = {s.k, s.n}, dst_dims = {s.m, s.n};
  auto a = random_vector<std::uint8_t>(static_cast<std::size_t>(s.m * s.k), 0, 255, 1);
  auto w = random_vector<std::int8_t>(static_cast<std::size_t>(s.n * s.k), -127, 127, 2);
  std::vector<float> c(static_cast<std::size_t>(s.m * s.n));
  const memory::desc src_md(src_dims, dt::u8, tag::ab);
  const memory::desc wei_any(wei_dims, dt::s8, tag::any);
  const memory::desc dst_md(dst_dims, dt::f32, tag::ab);
  primitive_attr attr;
  attr.set_output_scales(1 << 1, std::vector<float>(static_cast<std::size_t>(s.n), 0.0002f));
  const matmul::primitive_desc pd(matmul::desc(src_md, wei_any, dst_md), attr, eng);
  // The user's weights are [N, K] row-major, i.e. the {K, N} matrix in "ba" order; reorder once.
  memory wei_user(memory::desc(wei_dims, dt::s8, tag::ba), eng, w.data());
  memory wei(pd.weights_desc(), eng);
  reorder(wei_user, wei).execute(strm, wei_user, wei);
  memory src(src_md, eng, a.data()), dst(dst_md, eng, c.data());
  const matmul prim(pd);
  for (auto _ : state) {
    prim.execute(strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}});
    strm.wait();
    benchmark::DoNotOptimize(c.data());
  }
  set_counters(state, s, threads);
  state.SetLabel(pd.impl_info_str());
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
    std::printf("\nlowbit relative to the peers (GOPS ratio, > 1 means lowbit is faster); path %s\n",
                lowbit::active_path_name().c_str());
    std::printf("(dynamic = the whole dynamic quantized Linear, float in and out, against OpenBLAS sgemm)\n");
    std::printf("%-40s %9s %9s %7s %9s %7s %9s %7s %9s %7s\n", "threads/shape", "lowbit", "oneDNN", "ratio",
                "OpenBLAS", "ratio", "Eigen", "ratio", "dynamic", "ratio");
    for (const auto& [key, impls] : gops_) {
      auto get = [&](const char* impl) {
        auto f = impls.find(impl);
        return f == impls.end() ? 0.0 : f->second;
      };
      const double lb = get("lowbit");
      if (lb == 0) continue;
      std::printf("%-40s %9.1f", key.c_str(), lb);
      for (const char* peer : {"onednn", "openblas", "eigen"}) {
        const double g = get(peer);
        if (g > 0) {
          std::printf(" %9.1f %7.2f", g, lb / g);
        } else {
          std::printf(" %9s %7s", "-", "-");
        }
      }
      const double dyn = get("dynamic"), blas = get("openblas");
      if (dyn > 0 && blas > 0) {
        std::printf(" %9.1f %7.2f", dyn, dyn / blas);
      } else if (dyn > 0) {
        std::printf(" %9.1f %7s", dyn, "-");
      }
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
  for (const shape& s : shapes()) {
    for (int t : {1, 2}) {
      const std::string suffix = "/" + std::to_string(t) + "t/" + shape_name(s);
      benchmark::RegisterBenchmark(("lowbit" + suffix).c_str(), bm_lowbit, s, t)->UseRealTime();
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
  for (const shape& s : shapes())
    if (s.m == 1) benchmark::RegisterBenchmark(("pack/quantize_and_pack/" + shape_name(s)).c_str(), bm_pack, s)->Unit(benchmark::kMillisecond);
  ratio_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
