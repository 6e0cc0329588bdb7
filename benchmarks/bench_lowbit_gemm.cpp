// Sub-byte weight GEMM throughput: int4 and int2 weights (groups of 32 or LOWBIT_BENCH_GROUP, fp16
// scales) beside lowbit's
// int8 GEMM, the NF4 layer (float4_linear), oneDNN's int8 matmul, OpenBLAS sgemm and, when built
// with -DLOWBIT_GGML_DIR (cmake/lowbitGgmlPeer.cmake), llama.cpp's Q4_0 product (ggml) on LLaMA-7B
// shapes, in one process.
//
// Counters: GOPS = 2 M N K / time, with the single-core peak of the active path's dot-product
// instruction beside it (peak_GOPS); for M = 1 also GB/s of weight bytes read (the packed blocks:
// codes, scales, offsets) and the same for a plain streaming read of as many bytes (read/...), with
// the weights hot (one copy) and cold (copies rotated so that each product streams from DRAM).
// At the end a table gives, per shape, each implementation's GOPS and int4's ratios.
//
//   bench_lowbit_gemm                                 all shapes
//   bench_lowbit_gemm --benchmark_filter='M=1/'       the GEMVs
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "lowbit/lowbit.hpp"

#if LOWBIT_WITH_GGML
#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "ggml.h"
#endif


namespace {

using lowbit::index_t;

struct shape {
  index_t m, n, k;
};

std::string shape_name(const shape& s) {
  return "llama7b/M=" + std::to_string(s.m) + "/N=" + std::to_string(s.n) + "/K=" + std::to_string(s.k);
}

void set_gops(benchmark::State& state, const shape& s, int threads) {
  const double ops = 2.0 * static_cast<double>(s.m) * static_cast<double>(s.n) * static_cast<double>(s.k);
  state.counters["GOPS"] = benchmark::Counter(ops * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
  if (bench::peak().gops > 0) state.counters["peak_GOPS"] = bench::peak().gops * threads;
}

/// The weights' group size: LOWBIT_BENCH_GROUP if set (a positive multiple of 4 that divides the
/// shapes' K, 4096 and 11008: 4, 8, 16, 32, 64, 86, 172, 344 ... ; checked), else 32.
index_t bench_group() {
  const char* env = std::getenv("LOWBIT_BENCH_GROUP");
  if (env == nullptr) return 32;
  const long g = std::strtol(env, nullptr, 10);
  if (g <= 0 || g % 4 != 0 || 4096 % g != 0 || 11008 % g != 0) {
    std::fprintf(stderr, "LOWBIT_BENCH_GROUP=%s: the group size must be a positive multiple of 4 dividing 4096 and 11008\n", env);
    std::exit(2);
  }
  return static_cast<index_t>(g);
}

/// Weights [N, K] of format F with random codes and fp16 scales (a different seed per copy, so
/// that copies hold different bytes), symmetric, groups of bench_group(). Assembled from codes: quantizing
/// 256 MiB of random floats for the DRAM copies would take minutes.
template <class F>
lowbit::packed_lowbit_weights<F> weights(const shape& s, unsigned seed) {
  std::vector<typename F::code_type> codes(static_cast<std::size_t>(s.n * s.k));
  std::uint64_t x = 0x9E3779B97F4A7C15ull * (seed + 1);
  for (auto& c : codes) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift64
    c = static_cast<typename F::code_type>(F::qmin + static_cast<int>((x >> 32) % (F::qmax - F::qmin + 1)));
  }
  const index_t G = bench_group();
  const std::vector<lowbit::half_bits> scales(static_cast<std::size_t>(s.n * (s.k / G)), lowbit::float_to_half(0.01f));
  return lowbit::packed_lowbit_weights<F>::assemble(s.n, s.k, G, lowbit::offset_kind::symmetric, codes.data(), s.k, scales,
                                                    {}, {}, {}, lowbit::context{}.with_threads(2));
}

// int8 activations (per row) x packed F weights -> float.
template <class F>
void bm_lowbit(benchmark::State& state, shape s, int threads, bool cold) {
  std::vector<lowbit::packed_lowbit_weights<F>> w;
  w.push_back(weights<F>(s, 1));
  const index_t copies = bench::copies_for(w[0].bytes(), cold);
  for (index_t i = 1; i < copies; ++i) w.push_back(weights<F>(s, static_cast<unsigned>(1 + i)));
  const auto a = bench::random_vector<std::int8_t>(static_cast<std::size_t>(s.m * s.k), -127, 127, 3);
  const lowbit::activations<lowbit::int8> act(a.data(), s.m, s.k, s.k, {0.02f, 0});
  std::vector<float> c(static_cast<std::size_t>(s.m * s.n));
  const lowbit::context ctx = lowbit::context{}.with_threads(threads);
  for (const auto& p : w) lowbit::lowbit_gemm(act, p, lowbit::output_float{}, c.data(), s.n, ctx);  // warm-up
  index_t next = 0;
  for (auto _ : state) {
    lowbit::lowbit_gemm(act, w[static_cast<std::size_t>(next)], lowbit::output_float{}, c.data(), s.n, ctx);
    benchmark::DoNotOptimize(c.data());
    next = (next + 1) % copies;
  }
  set_gops(state, s, threads);
  if (s.m == 1) bench::set_bytes(state, static_cast<double>(w[0].bytes()));
  state.SetLabel(lowbit::active_path_name() + ", " + std::to_string(w[0].bits_per_weight()).substr(0, 4) + " bits/weight");
}

// A streaming read of as many bytes as the int4 weights take (4.5 bits per weight with groups of 32).
void bm_read(benchmark::State& state, shape s, bool cold) {
  // int4's packed bytes: half a byte per weight and a 2-byte scale per group.
  bench::read_loop(state, static_cast<std::size_t>(s.n * s.k / 2 + 2 * s.n * (s.k / bench_group())), cold);
}

// NF4 weights (block 64, float absmax: 4.5 bits per weight) in float4_linear: panels dequantized by
// table lookup, then Eigen's float GEMM (at this build's instruction set).
void bm_nf4(benchmark::State& state, shape s, int threads) {
  const auto codes = bench::random_vector<std::uint8_t>(static_cast<std::size_t>(s.n * s.k / 2), 0, 255, 5);
  lowbit::float4_tensor w({s.n, s.k}, lowbit::float4_kind::nf4, 64, codes,
                          std::vector<float>(static_cast<std::size_t>(s.n * s.k / 64), 0.05f));
  const lowbit::float4_linear layer(std::move(w));
  const auto xv = bench::random_vector<float>(static_cast<std::size_t>(s.m * s.k), -8, 8, 6);
  const lowbit::row_matrix x = Eigen::Map<const lowbit::row_matrix>(xv.data(), s.m, s.k);
  const lowbit::context ctx = lowbit::context{}.with_threads(threads);
  for (auto _ : state) {
    lowbit::row_matrix y = layer.forward(x, lowbit::output_float{}, ctx);
    benchmark::DoNotOptimize(y.data());
  }
  set_gops(state, s, threads);
  if (s.m == 1) bench::set_bytes(state, static_cast<double>(layer.weights().bytes()));
  state.SetLabel(lowbit::active_path_name() + ", 4.5 bits/weight");
}

// lowbit's int8 GEMM (uint8 activations x int8 weights, per-channel scales).
void bm_int8(benchmark::State& state, shape s, int threads) {
  bench::int8_gemm_loop<lowbit::uint8>(state, s.m, s.n, s.k, threads);
  set_gops(state, s, threads);
}

#if LOWBIT_PEER_OPENBLAS
void bm_openblas(benchmark::State& state, shape s, int threads) {
  bench::openblas_loop(state, s.m, s.n, s.k, threads);
  set_gops(state, s, threads);
}
#endif

#if LOWBIT_BENCH_ONEDNN
void bm_onednn(benchmark::State& state, shape s, int threads) {
  state.SetLabel(bench::onednn_loop(state, s.m, s.n, s.k, threads));
  set_gops(state, s, threads);
}
#endif

#if LOWBIT_WITH_GGML
// llama.cpp's product for Q4_0 weights: ggml_mul_mat on ggml's CPU backend, the weights in the
// first of the CPU's extra buffer types (where llama.cpp's loader puts them: repacked into
// interleaved blocks for the AVX2 / AVX-512 kernels, or AMX tiles where the CPU has them), float
// activations quantized to Q8_0 inside the op, float output. The label names the buffer type.
struct ggml_q4_0 {
  ggml_backend_t backend = nullptr;
  ggml_context* wctx = nullptr;
  ggml_context* gctx = nullptr;
  ggml_backend_buffer_t wbuf = nullptr;
  ggml_gallocr_t galloc = nullptr;
  ggml_cgraph* graph = nullptr;
  ggml_tensor* w = nullptr;
  std::string buffer;

  ggml_q4_0(const shape& s, int threads) {
    ggml_log_set([](ggml_log_level, const char*, void*) {}, nullptr);  // no "repack tensor" lines in the table
    backend = ggml_backend_cpu_init();
    ggml_backend_cpu_set_n_threads(backend, threads);
    ggml_backend_dev_t dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    auto extra = reinterpret_cast<ggml_backend_dev_get_extra_bufts_t>(
        ggml_backend_reg_get_proc_address(ggml_backend_dev_backend_reg(dev), "ggml_backend_dev_get_extra_bufts"));
    ggml_backend_buffer_type_t buft = ggml_backend_cpu_buffer_type();
    if (extra != nullptr && extra(dev) != nullptr && *extra(dev) != nullptr) buft = *extra(dev);
    buffer = ggml_backend_buft_name(buft);
    ggml_init_params wp{ggml_tensor_overhead() * 2, nullptr, true};
    wctx = ggml_init(wp);
    w = ggml_new_tensor_2d(wctx, GGML_TYPE_Q4_0, s.k, s.n);
    wbuf = ggml_backend_alloc_ctx_tensors_from_buft(wctx, buft);
    const auto f = bench::random_vector<float>(static_cast<std::size_t>(s.n * s.k), -1, 1, 7);
    std::vector<std::uint8_t> q(ggml_nbytes(w));
    ggml_quantize_chunk(GGML_TYPE_Q4_0, f.data(), q.data(), 0, s.n, s.k, nullptr);
    ggml_backend_tensor_set(w, q.data(), 0, q.size());  // repacked here by the extra buffer type
    ggml_init_params gp{ggml_tensor_overhead() * 8 + ggml_graph_overhead(), nullptr, true};
    gctx = ggml_init(gp);
    ggml_tensor* x = ggml_new_tensor_2d(gctx, GGML_TYPE_F32, s.k, s.m);
    ggml_set_input(x);
    ggml_tensor* y = ggml_mul_mat(gctx, w, x);
    ggml_set_output(y);
    graph = ggml_new_graph(gctx);
    ggml_build_forward_expand(graph, y);
    galloc = ggml_gallocr_new(ggml_backend_cpu_buffer_type());
    ggml_gallocr_alloc_graph(galloc, graph);
    const auto xv = bench::random_vector<float>(static_cast<std::size_t>(s.m * s.k), -8, 8, 6);
    ggml_backend_tensor_set(x, xv.data(), 0, xv.size() * sizeof(float));
  }
  ~ggml_q4_0() {
    ggml_gallocr_free(galloc);
    ggml_free(gctx);
    ggml_backend_buffer_free(wbuf);
    ggml_free(wctx);
    ggml_backend_free(backend);
  }
  void run() { ggml_backend_graph_compute(backend, graph); }
};

void bm_ggml(benchmark::State& state, shape s, int threads) {
  ggml_q4_0 g(s, threads);
  g.run();  // warm-up
  for (auto _ : state) g.run();
  set_gops(state, s, threads);
  if (s.m == 1) bench::set_bytes(state, static_cast<double>(ggml_nbytes(g.w)));
  state.SetLabel("ggml " + g.buffer + ", 4.5 bits/weight");
}
#endif

// Per shape: GOPS of each implementation (median when repeated) and int4's ratios.
class table_reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.error_occurred || (r.run_type == Run::RT_Aggregate && r.aggregate_name != "median")) continue;
      const std::string name = r.run_name.function_name;  // impl/threads/shape
      const auto slash = name.find('/');
      for (const char* counter : {"GOPS", "GB/s"}) {
        auto it = r.counters.find(counter);
        if (it != r.counters.end()) values_[name.substr(slash + 1)][name.substr(0, slash) + " " + counter] = it->second.value;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf("\npath %s; single-core peak of %s: %.1f GOPS. GOPS per implementation; int4/x = int4's speed-up over x\n",
                lowbit::active_path_name().c_str(), bench::peak().instruction, bench::peak().gops);
    std::printf("%-36s %7s %7s %7s %7s %7s %8s %7s %9s %9s %9s %9s\n", "threads/shape", "int4", "int2", "int8", "nf4", "oneDNN",
                "OpenBLAS", "ggml", "int4/int8", "int4/dnn", "int4/ggml", "int2/int4");
    for (const auto& [key, v] : values_) {
      const auto get = [&](const std::string& k) {
        auto f = v.find(k);
        return f == v.end() ? 0.0 : f->second;
      };
      const double i4 = get("int4 GOPS"), i2 = get("int2 GOPS"), i8 = get("int8 GOPS"), nf4 = get("nf4 GOPS"),
                   dnn = get("onednn GOPS"), blas = get("openblas GOPS"), gg = get("ggml-q4_0 GOPS");
      if (i4 == 0) continue;
      const auto ratio = [](double a, double b) { return b > 0 && a > 0 ? a / b : 0.0; };
      std::printf("%-36s %7.1f %7.1f %7.1f %7.1f %7.1f %8.1f %7.1f %9.2f %9.2f %9.2f %9.2f\n", key.c_str(), i4, i2, i8, nf4, dnn,
                  blas, gg, ratio(i4, i8), ratio(i4, dnn), ratio(i4, gg), ratio(i2, i4));
    }
  }

 private:
  std::map<std::string, std::map<std::string, double>> values_;
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  bench::peak() = bench::measure_peak(lowbit::active_path());
  std::printf("lowbit path %s; single-core peak of %s: %.1f GOPS\n", lowbit::active_path_name().c_str(),
              bench::peak().instruction, bench::peak().gops);
  for (index_t m : {1, 8, 32, 128}) {
    for (const auto& [n, k] : {std::pair<index_t, index_t>{4096, 4096}, {11008, 4096}, {4096, 11008}}) {
      const shape s{m, n, k};
      for (int t : {1, 2}) {
        const std::string suffix = "/" + std::to_string(t) + "t/" + shape_name(s);
        benchmark::RegisterBenchmark(("int4" + suffix).c_str(), bm_lowbit<lowbit::int4>, s, t, false)->UseRealTime();
        benchmark::RegisterBenchmark(("int2" + suffix).c_str(), bm_lowbit<lowbit::int2>, s, t, false)->UseRealTime();
        benchmark::RegisterBenchmark(("int8" + suffix).c_str(), bm_int8, s, t)->UseRealTime();
        benchmark::RegisterBenchmark(("nf4" + suffix).c_str(), bm_nf4, s, t)->UseRealTime();
#if LOWBIT_BENCH_ONEDNN
        benchmark::RegisterBenchmark(("onednn" + suffix).c_str(), bm_onednn, s, t)->UseRealTime();
#endif
#if LOWBIT_WITH_GGML
        benchmark::RegisterBenchmark(("ggml-q4_0" + suffix).c_str(), bm_ggml, s, t)->UseRealTime();
#endif
#if LOWBIT_PEER_OPENBLAS
        benchmark::RegisterBenchmark(("openblas" + suffix).c_str(), bm_openblas, s, t)->UseRealTime();
#endif
      }
      if (m == 1) {
        const std::string suffix = "/1t/" + shape_name(s);
        benchmark::RegisterBenchmark(("int4-dram" + suffix).c_str(), bm_lowbit<lowbit::int4>, s, 1, true)->UseRealTime();
        benchmark::RegisterBenchmark(("int2-dram" + suffix).c_str(), bm_lowbit<lowbit::int2>, s, 1, true)->UseRealTime();
        benchmark::RegisterBenchmark(("read-hot" + suffix).c_str(), bm_read, s, false)->UseRealTime();
        benchmark::RegisterBenchmark(("read-dram" + suffix).c_str(), bm_read, s, true)->UseRealTime();
      }
    }
  }
  table_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
}
