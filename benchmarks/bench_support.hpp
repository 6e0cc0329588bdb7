// benchmarks/bench_support.hpp: what the GEMM benchmarks share: the single-core peak of the
// instruction each kernel path is bound by, a plain streaming read (the roofline of a GEMV), and
// random operands. Included by one translation unit per benchmark binary.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

#include "lowbit/lowbit.hpp"

#if LOWBIT_BENCH_ONEDNN
#include <dnnl.hpp>
#endif
#if LOWBIT_PEER_OPENBLAS
#include <cblas.h>
#endif
#if LOWBIT_BENCH_OPENMP
#include <omp.h>
#endif
#include <string>

namespace bench {
namespace {  // one translation unit per benchmark binary includes this

// ---------------------------------------------------------------------------------------------
// Peak of the active path's multiply-accumulate instruction on one core, in GOPS (2 per MAC).
//
// Inline assembly with independent accumulators that stay in registers (a C++ loop over an array
// of accumulators spills under GCC 12 and measures half the peak): 24 zmm chains of vpdpbusd,
// 12 ymm chains of VEX vpdpbusd, 6 chains of vpmaddwd + vpaddd (ymm or zmm; the products need a
// register each), 4 chains of vpmaddubsw + vpmaddwd + vpaddd for the 7-bit kernel. Each iteration
// is one instruction per chain on the same (opaque) operands.
#if LOWBIT_HAVE_X86_PATHS
#define LB_VNNI_Z(j) "vpdpbusd %%zmm30, %%zmm31, %%zmm" #j "\n\t"
#define LB_VNNI_Y(j) "%{vex%} vpdpbusd %%ymm14, %%ymm15, %%ymm" #j "\n\t"
#define LB_MADD_Y(j, t) "vpmaddwd %%ymm14, %%ymm15, %%ymm" #t "\n\tvpaddd %%ymm" #t ", %%ymm" #j ", %%ymm" #j "\n\t"
#define LB_MADD_Z(j, t) "vpmaddwd %%zmm30, %%zmm31, %%zmm" #t "\n\tvpaddd %%zmm" #t ", %%zmm" #j ", %%zmm" #j "\n\t"
#define LB_U7_Y(j, t)                                                                     \
  "vpmaddubsw %%ymm14, %%ymm15, %%ymm" #t "\n\tvpmaddwd %%ymm13, %%ymm" #t ", %%ymm" #t \
  "\n\tvpaddd %%ymm" #t ", %%ymm" #j ", %%ymm" #j "\n\t"
LOWBIT_TARGET_AVX512VNNI double peak_vnni_zmm(std::int64_t iters) {
  for (std::int64_t i = 0; i < iters; ++i)
    __asm__ volatile(LB_VNNI_Z(0) LB_VNNI_Z(1) LB_VNNI_Z(2) LB_VNNI_Z(3) LB_VNNI_Z(4) LB_VNNI_Z(5) LB_VNNI_Z(6)
                         LB_VNNI_Z(7) LB_VNNI_Z(8) LB_VNNI_Z(9) LB_VNNI_Z(10) LB_VNNI_Z(11) LB_VNNI_Z(12)
                             LB_VNNI_Z(13) LB_VNNI_Z(14) LB_VNNI_Z(15) LB_VNNI_Z(16) LB_VNNI_Z(17) LB_VNNI_Z(18)
                                 LB_VNNI_Z(19) LB_VNNI_Z(20) LB_VNNI_Z(21) LB_VNNI_Z(22) LB_VNNI_Z(23)
                     :
                     :
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
                       "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21",
                       "xmm22", "xmm23");
  return 24.0 * 64.0;  // MACs per iteration
}
LOWBIT_TARGET_AVXVNNI double peak_vnni_ymm(std::int64_t iters) {
  for (std::int64_t i = 0; i < iters; ++i)
    __asm__ volatile(LB_VNNI_Y(0) LB_VNNI_Y(1) LB_VNNI_Y(2) LB_VNNI_Y(3) LB_VNNI_Y(4) LB_VNNI_Y(5) LB_VNNI_Y(6)
                         LB_VNNI_Y(7) LB_VNNI_Y(8) LB_VNNI_Y(9) LB_VNNI_Y(10) LB_VNNI_Y(11)
                     :
                     :
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11");
  return 12.0 * 32.0;
}
LOWBIT_TARGET_AVX2 double peak_madd_ymm(std::int64_t iters) {
  for (std::int64_t i = 0; i < iters; ++i)
    __asm__ volatile(LB_MADD_Y(0, 6) LB_MADD_Y(1, 7) LB_MADD_Y(2, 8) LB_MADD_Y(3, 9) LB_MADD_Y(4, 10) LB_MADD_Y(5, 11)
                     :
                     :
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11");
  return 6.0 * 16.0;
}
LOWBIT_TARGET_AVX512 double peak_madd_zmm(std::int64_t iters) {
  for (std::int64_t i = 0; i < iters; ++i)
    __asm__ volatile(LB_MADD_Z(0, 12) LB_MADD_Z(1, 13) LB_MADD_Z(2, 14) LB_MADD_Z(3, 15) LB_MADD_Z(4, 16)
                         LB_MADD_Z(5, 17) LB_MADD_Z(6, 18) LB_MADD_Z(7, 19) LB_MADD_Z(8, 20) LB_MADD_Z(9, 21)
                             LB_MADD_Z(10, 22) LB_MADD_Z(11, 23)
                     :
                     :
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
                       "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21",
                       "xmm22", "xmm23");
  return 12.0 * 32.0;
}
LOWBIT_TARGET_AVX2 double peak_u7_ymm(std::int64_t iters) {
  for (std::int64_t i = 0; i < iters; ++i)
    __asm__ volatile(LB_U7_Y(0, 6) LB_U7_Y(1, 7) LB_U7_Y(2, 8) LB_U7_Y(3, 9) LB_U7_Y(4, 10) LB_U7_Y(5, 11)
                     :
                     :
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11");
  return 6.0 * 32.0;
}
#endif

struct peak_info {
  const char* instruction = "scalar";
  double gops = 0;
};

/// Median of 5 timings of a peak loop, in GOPS.
peak_info measure(const char* instruction, double (*loop)(std::int64_t)) {
  peak_info p;
  p.instruction = instruction;
  std::vector<double> rates;
  const std::int64_t iters = 20000000;
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

/// The peak of the instruction the path's GEMM kernel is bound by (7-bit: the vpmaddubsw kernel's).
peak_info measure_peak(lowbit::kernel_path path, bool seven_bit = false) {
#if LOWBIT_HAVE_X86_PATHS
  switch (lowbit::kernels::gemm_kernel_path(path)) {
    case lowbit::kernel_path::avx512vnni: return measure("vpdpbusd zmm", peak_vnni_zmm);
    case lowbit::kernel_path::avxvnni: return measure("vpdpbusd ymm (AVX-VNNI)", peak_vnni_ymm);
    case lowbit::kernel_path::avx512: return measure("vpmaddwd + vpaddd zmm", peak_madd_zmm);
    case lowbit::kernel_path::avx2:
      return seven_bit ? measure("vpmaddubsw + vpmaddwd + vpaddd ymm", peak_u7_ymm)
                       : measure("vpmaddwd + vpaddd ymm", peak_madd_ymm);
    default: break;
  }
#endif
  (void)path;
  (void)seven_bit;
  return {};
}

peak_info& peak() {
  static peak_info p;
  return p;
}

template <class T>
std::vector<T> random_vector(std::size_t n, int lo, int hi, unsigned seed) {
  std::mt19937 g(seed);
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(g));
  return v;
}

// A plain streaming read of n bytes with the widest vectors the CPU has: the roofline of a
// product that reads its weights once.
#if LOWBIT_HAVE_X86_PATHS
LOWBIT_AVX512_DIAGNOSTICS_BEGIN
LOWBIT_TARGET_AVX512 std::uint64_t read_zmm(const std::uint8_t* p, std::size_t n) {
  __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
  std::size_t i = 0;
  for (; i + 256 <= n; i += 256) {
    s0 = _mm512_add_epi64(s0, _mm512_loadu_si512(p + i));
    s1 = _mm512_add_epi64(s1, _mm512_loadu_si512(p + i + 64));
    s2 = _mm512_add_epi64(s2, _mm512_loadu_si512(p + i + 128));
    s3 = _mm512_add_epi64(s3, _mm512_loadu_si512(p + i + 192));
  }
  return static_cast<std::uint64_t>(_mm512_reduce_add_epi64(_mm512_add_epi64(_mm512_add_epi64(s0, s1), _mm512_add_epi64(s2, s3))));
}
LOWBIT_AVX512_DIAGNOSTICS_END
LOWBIT_TARGET_AVX2 std::uint64_t read_ymm(const std::uint8_t* p, std::size_t n) {
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
  std::size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    s0 = _mm256_add_epi64(s0, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)));
    s1 = _mm256_add_epi64(s1, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    s2 = _mm256_add_epi64(s2, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    s3 = _mm256_add_epi64(s3, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  alignas(32) std::uint64_t t[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(t), _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3)));
  return t[0] + t[1] + t[2] + t[3];
}
#endif

std::uint64_t read_bytes(const std::uint8_t* p, std::size_t n) {
#if LOWBIT_HAVE_X86_PATHS
  if (lowbit::path_supported(lowbit::kernel_path::avx512)) return read_zmm(p, n);
  if (lowbit::path_supported(lowbit::kernel_path::avx2)) return read_ymm(p, n);
#endif
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < n; ++i) sum += p[i];
  return sum;
}


/// Copies of a weight buffer of `bytes` rotated per iteration: 1 (hot: the same copy, resident in
/// L3 when it fits) or enough to exceed 256 MiB (cold: each pass reads from DRAM).
lowbit::index_t copies_for(lowbit::index_t bytes, bool cold) {
  return cold ? std::max<lowbit::index_t>(2, (lowbit::index_t{256} << 20) / std::max<lowbit::index_t>(bytes, 1) + 1) : 1;
}

void set_bytes(benchmark::State& state, double bytes) {
  state.counters["GB/s"] = benchmark::Counter(bytes * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

/// A plain streaming read of `bytes`, hot or cold (copies_for), with its GB/s counter: the roofline
/// of a product that reads its weights once. Copies hold different bytes (identical pages could be
/// merged by the host) and are read once before timing (so that the first timed pass does not pay
/// for the host backing the pages).
void read_loop(benchmark::State& state, std::size_t bytes, bool cold) {
  const lowbit::index_t copies = copies_for(static_cast<lowbit::index_t>(bytes), cold);
  std::vector<std::vector<std::uint8_t>> buffers;
  for (lowbit::index_t i = 0; i < copies; ++i)
    buffers.push_back(random_vector<std::uint8_t>(bytes, 0, 255, static_cast<unsigned>(10 + i)));
  for (const auto& b : buffers) benchmark::DoNotOptimize(read_bytes(b.data(), bytes));
  lowbit::index_t next = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(read_bytes(buffers[static_cast<std::size_t>(next)].data(), bytes));
    next = (next + 1) % copies;
  }
  set_bytes(state, static_cast<double>(bytes));
}

/// lowbit's int8 GEMM: activations of format F (uint8, or uint7 for the 7-bit kernel) with codes
/// 0 .. qmax, int8 weights [N, K] with per-channel scales, float output.
template <class F>
void int8_gemm_loop(benchmark::State& state, lowbit::index_t m, lowbit::index_t n, lowbit::index_t k, int threads) {
  const auto a = random_vector<std::uint8_t>(static_cast<std::size_t>(m * k), 0, F::qmax, 1);
  const auto w = random_vector<std::int8_t>(static_cast<std::size_t>(n * k), -127, 127, 2);
  const std::vector<float> scales(static_cast<std::size_t>(n), 0.01f);
  const lowbit::packed_weights pw = lowbit::packed_weights::pack(w.data(), n, k, k, scales);
  std::vector<float> c(static_cast<std::size_t>(m * n));
  const lowbit::context ctx = lowbit::context{}.with_threads(threads);
  const lowbit::activations<F> act(a.data(), m, k, k, {0.02f, 0});
  for (auto _ : state) {
    lowbit::gemm(act, pw, lowbit::output_float{}, c.data(), n, ctx);
    benchmark::DoNotOptimize(c.data());
  }
}

// The peers' products, timed by the benchmark's loop (the caller sets the counters).
#if LOWBIT_PEER_OPENBLAS
/// C [M, N] = A [M, K] x W [N, K]^T in fp32 with OpenBLAS's sgemm, row-major.
void openblas_loop(benchmark::State& state, lowbit::index_t m, lowbit::index_t n, lowbit::index_t k, int threads) {
  openblas_set_num_threads(threads);
  std::vector<float> a(static_cast<std::size_t>(m * k), 0.5f), w(static_cast<std::size_t>(n * k), 0.25f),
      c(static_cast<std::size_t>(m * n));
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), 1.0f,
                a.data(), static_cast<int>(k), w.data(), static_cast<int>(k), 0.0f, c.data(), static_cast<int>(n));
    benchmark::DoNotOptimize(c.data());
  }
}
#endif

#if LOWBIT_BENCH_ONEDNN
/// oneDNN's matmul, u8 x s8 -> f32 with per-channel output scales, the weights reordered once into
/// its preferred layout. Returns oneDNN's name for the implementation it picked.
std::string onednn_loop(benchmark::State& state, lowbit::index_t m, lowbit::index_t n, lowbit::index_t k, int threads) {
#if LOWBIT_BENCH_OPENMP
  omp_set_num_threads(threads);
#else
  (void)threads;
#endif
  using namespace dnnl;
  using dt = memory::data_type;
  using tag = memory::format_tag;
  engine eng(engine::kind::cpu, 0);
  stream strm(eng);
  const memory::dims src_dims = {m, k}, wei_dims = {k, n}, dst_dims = {m, n};
  auto a = random_vector<std::uint8_t>(static_cast<std::size_t>(m * k), 0, 255, 1);
  auto w = random_vector<std::int8_t>(static_cast<std::size_t>(n * k), -127, 127, 2);
  std::vector<float> c(static_cast<std::size_t>(m * n));
  primitive_attr attr;
  attr.set_output_scales(1 << 1, std::vector<float>(static_cast<std::size_t>(n), 0.0002f));
  const matmul::primitive_desc pd(matmul::desc(memory::desc(src_dims, dt::u8, tag::ab), memory::desc(wei_dims, dt::s8, tag::any),
                                               memory::desc(dst_dims, dt::f32, tag::ab)),
                                  attr, eng);
  // The user's weights are [N, K] row-major, i.e. the {K, N} matrix in "ba" order; reorder once.
  memory wei_user(memory::desc(wei_dims, dt::s8, tag::ba), eng, w.data());
  memory wei(pd.weights_desc(), eng);
  reorder(wei_user, wei).execute(strm, wei_user, wei);
  memory src(pd.src_desc(), eng, a.data()), dst(pd.dst_desc(), eng, c.data());
  const matmul prim(pd);
  for (auto _ : state) {
    prim.execute(strm, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}});
    strm.wait();
    benchmark::DoNotOptimize(c.data());
  }
  return pd.impl_info_str();
}
#endif

}  // namespace
}  // namespace bench
