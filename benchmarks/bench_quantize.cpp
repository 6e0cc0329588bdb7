// Quantize, dequantize and min/max throughput for every kernel path, beside a float -> int8
// narrowing copy measured in the same process (the roofline: the least work that reads the same
// floats and writes the same bytes).
//
// Counters: GB/s = (bytes read + bytes written) / time; roof_GB/s = the narrowing copy at the same
// size (the fill of the output for the NF4 dequantization), measured just before (median of
// several runs).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "lowbit/lowbit.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace {

using lowbit::index_t;
using lowbit::kernel_path;

const std::vector<index_t> sizes = {4 << 10, 256 << 10, 16 << 20};

std::vector<float> make_input(index_t n) {
  std::vector<float> x(static_cast<std::size_t>(n));
  std::mt19937 g(1);
  std::normal_distribution<float> d(0.f, 1.f);
  for (auto& v : x) v = d(g);
  return x;
}

// The roofline: float -> int8 with truncation and saturation, nothing else.
#if LOWBIT_HAVE_X86_PATHS
LOWBIT_TARGET_AVX2 void narrowing_copy_avx2(const float* x, index_t n, std::int8_t* out) {
  index_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i a = _mm256_cvttps_epi32(_mm256_loadu_ps(x + i));
    const __m256i b = _mm256_cvttps_epi32(_mm256_loadu_ps(x + i + 8));
    const __m256i c = _mm256_cvttps_epi32(_mm256_loadu_ps(x + i + 16));
    const __m256i d = _mm256_cvttps_epi32(_mm256_loadu_ps(x + i + 24));
    const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i),
                        _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
  }
  for (; i < n; ++i) out[i] = static_cast<std::int8_t>(x[i]);
}
#endif

void narrowing_copy(const float* x, index_t n, std::int8_t* out) {
#if LOWBIT_HAVE_X86_PATHS
  if (lowbit::cpu().avx2) return narrowing_copy_avx2(x, n, out);
#endif
  for (index_t i = 0; i < n; ++i) out[i] = static_cast<std::int8_t>(x[i]);
}

std::map<index_t, double>& roofline() {
  static std::map<index_t, double> gbps;
  return gbps;
}

/// The median over 7 trials of `bytes` moved per call to fn(r), in GB/s; fn is called reps times
/// per trial, r counting the calls.
template <class Fn>
double median_rate(int reps, double bytes, Fn&& fn) {
  std::vector<double> rates;
  for (int trial = 0; trial < 7; ++trial) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) fn(r);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(bytes * reps / s / 1e9);
  }
  std::sort(rates.begin(), rates.end());
  return rates[rates.size() / 2];
}

int roofline_reps(index_t n) { return n <= (256 << 10) ? 2000 : 20; }

double measure_roofline(index_t n) {
  const std::vector<float> x = make_input(n);
  std::vector<std::int8_t> out(static_cast<std::size_t>(n));
  return median_rate(roofline_reps(n), 5.0 * static_cast<double>(n), [&](int) {
    narrowing_copy(x.data(), n, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  });
}

void finish(benchmark::State& state, index_t n, double bytes_per_element) {
  const double bytes = bytes_per_element * static_cast<double>(n) * static_cast<double>(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsRate);
  state.counters["roof_GB/s"] = roofline()[n];
  state.SetLabel(lowbit::path_description(static_cast<kernel_path>(state.range(1))));
}

void bm_roofline(benchmark::State& state) {
  const index_t n = state.range(0);
  const std::vector<float> x = make_input(n);
  std::vector<std::int8_t> out(static_cast<std::size_t>(n));
  for (auto _ : state) {
    narrowing_copy(x.data(), n, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] =
      benchmark::Counter(5.0 * static_cast<double>(n) * static_cast<double>(state.iterations()) / 1e9,
                         benchmark::Counter::kIsRate);
}

template <class F>
void bm_quantize(benchmark::State& state) {
  const index_t n = state.range(0);
  const auto path = static_cast<kernel_path>(state.range(1));
  const std::vector<float> x = make_input(n);
  std::vector<std::uint8_t> out(static_cast<std::size_t>(lowbit::packed_bytes<F>(n)));
  const float factor = 1.0f / 0.02f;
  for (auto _ : state) {
    const bool ok = lowbit::kernels::quantize<F, lowbit::reciprocal_multiply>(
        path, x.data(), n, factor, 0, lowbit::inf_policy::error, out.data());
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  finish(state, n, 4.0 + 1.0 / F::per_byte);
}

template <class F>
void bm_dequantize(benchmark::State& state) {
  const index_t n = state.range(0);
  const auto path = static_cast<kernel_path>(state.range(1));
  std::vector<std::uint8_t> codes(static_cast<std::size_t>(lowbit::packed_bytes<F>(n)), 0x35);
  std::vector<float> out(static_cast<std::size_t>(n));
  for (auto _ : state) {
    lowbit::kernels::dequantize<F>(path, codes.data(), n, 0.02f, 3, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  finish(state, n, 4.0 + 1.0 / F::per_byte);
}

// 4-bit table codes (NF4) to floats, block 64 (kernels/float4.hpp). Its roofline is the least work
// that moves the same bytes: n / 2 bytes read and n floats written, here a fill of the output
// (the writes dominate: 4 of the 4.5 bytes per element), measured in the same process.
std::map<index_t, double>& fill_roofline() {
  static std::map<index_t, double> gbps;
  return gbps;
}

double measure_fill_roofline(index_t n) {
  lowbit::detail::aligned_vector<float> out(static_cast<std::size_t>(n));
  // Two fills: libc's memset, and for outputs beyond the caches a loop of non-temporal stores
  // (the kernels stream such outputs; memset may not): the roofline is the faster.
  auto rate = [&](auto fill) {
    return median_rate(roofline_reps(n), 4.5 * static_cast<double>(n), [&](int r) {
      fill(r);
      benchmark::DoNotOptimize(out.data());
      benchmark::ClobberMemory();
    });
  };
  double best = rate([&](int r) { std::memset(out.data(), r & 0x7F, sizeof(float) * out.size()); });
#if defined(__SSE2__)
  if (n >= lowbit::kernels::float4_stream_min) {
    best = std::max(best, rate([&](int r) {
      const __m128i v = _mm_set1_epi8(static_cast<char>(r & 0x7F));
      auto* p = reinterpret_cast<__m128i*>(out.data());
      for (std::size_t i = 0; i < out.size() / 4; ++i) _mm_stream_si128(p + i, v);
      _mm_sfence();
    }));
  }
#endif
  return best;
}

void bm_dequantize_nf4(benchmark::State& state) {
  const index_t n = state.range(0), block = 64;
  const auto path = static_cast<kernel_path>(state.range(1));
  std::vector<std::uint8_t> codes(static_cast<std::size_t>(n / 2));
  std::mt19937 g(3);
  for (auto& c : codes) c = static_cast<std::uint8_t>(g());
  const std::vector<float> absmax((static_cast<std::size_t>(n) + block - 1) / block, 0.05f);
  lowbit::detail::aligned_vector<float> out(static_cast<std::size_t>(n));  // 64-byte aligned (see kernels/float4.hpp)
  const float* table = lowbit::float4_table(lowbit::float4_kind::nf4);
  for (auto _ : state) {
    lowbit::kernels::dequantize_float4(path, codes.data(), n, table, absmax.data(), block, out.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  const double bytes = (4.5 + 4.0 / block) * static_cast<double>(n) * static_cast<double>(state.iterations());
  state.counters["GB/s"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsRate);
  state.counters["roof_GB/s"] = fill_roofline()[n];
  state.SetLabel(lowbit::path_description(path));
}

// Per-channel min/max of a square-ish matrix with channels along rows (PyTorch's
// PerChannelMinMaxObserver with ch_axis = 0), through the public API.
void bm_minmax_per_channel(benchmark::State& state) {
  const index_t n = state.range(0);
  const auto path = static_cast<kernel_path>(state.range(1));
  index_t rows = 1;
  while (rows * rows < n) rows *= 2;
  const index_t cols = n / rows;
  const std::vector<float> x = make_input(rows * cols);
  const lowbit::context ctx = lowbit::context{}.with_path(path).with_threads(1);
  lowbit::quantizer<lowbit::int8, lowbit::symmetric, lowbit::per_channel> q(lowbit::per_channel(0));
  for (auto _ : state) {
    lowbit::range r = q.observe(x.data(), {rows, cols}, ctx);
    benchmark::DoNotOptimize(r.min.data());
  }
  finish(state, n, 4.0);
}

// Whole-tensor quantize through the public API (min/max pass + quantize pass + allocation).
void bm_quantizer_api(benchmark::State& state) {
  const index_t n = state.range(0);
  const auto path = static_cast<kernel_path>(state.range(1));
  const std::vector<float> x = make_input(n);
  const lowbit::context ctx = lowbit::context{}.with_path(path).with_threads(1);
  lowbit::quantizer<lowbit::int8, lowbit::symmetric> q;
  for (auto _ : state) {
    auto t = q.quantize(x.data(), {n}, ctx);
    benchmark::DoNotOptimize(t.data().data());
  }
  finish(state, n, 4.0 + 4.0 + 1.0);  // two reads of the floats, one write of the codes
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  for (index_t n : sizes) roofline()[n] = measure_roofline(n);
  for (index_t n : sizes) fill_roofline()[n] = measure_fill_roofline(n);
  for (index_t n : sizes) {
    benchmark::RegisterBenchmark(("roofline/narrowing_copy/" + std::to_string(n)).c_str(), bm_roofline)
        ->Args({n});
  }
  for (kernel_path p : lowbit::supported_paths()) {
    const std::string name = lowbit::path_name(p);
    for (index_t n : sizes) {
      const std::vector<std::int64_t> args = {n, static_cast<std::int64_t>(p)};
      benchmark::RegisterBenchmark(("quantize/int8/" + name).c_str(), bm_quantize<lowbit::int8>)->Args(args);
      benchmark::RegisterBenchmark(("quantize/int4/" + name).c_str(), bm_quantize<lowbit::int4>)->Args(args);
      benchmark::RegisterBenchmark(("dequantize/int8/" + name).c_str(), bm_dequantize<lowbit::int8>)->Args(args);
      benchmark::RegisterBenchmark(("dequantize/int4/" + name).c_str(), bm_dequantize<lowbit::int4>)->Args(args);
      benchmark::RegisterBenchmark(("dequantize/nf4/" + name).c_str(), bm_dequantize_nf4)->Args(args);
      benchmark::RegisterBenchmark(("minmax_per_channel/" + name).c_str(), bm_minmax_per_channel)->Args(args);
      benchmark::RegisterBenchmark(("quantizer_api/int8/" + name).c_str(), bm_quantizer_api)->Args(args);
    }
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
