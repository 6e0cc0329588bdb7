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

}  // namespace
}  // namespace bench
