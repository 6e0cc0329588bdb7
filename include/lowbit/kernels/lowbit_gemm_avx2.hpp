// lowbit/kernels/lowbit_gemm_avx2.hpp: the sub-byte weight micro-kernels of the ymm paths (AVX2 and AVX-VNNI).
//
// Both are kernels/lowbit_gemm_ymm_body.hpp with the path's dot product on 4-byte lanes:
//   avxvnni  VEX vpdpbusd: unsigned codes x signed activation bytes into int32, no saturation
//   avx2     vpmaddubsw then vpmaddwd with ones: exact for codes below 16 (2 * 15 * 128 fits
//            int16); 8-bit codes are split into nibbles, u = 16 hi + lo, each half exact
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "lowbit/config.hpp"
#include "lowbit/core/output_stages.hpp"
#include "lowbit/kernels/lowbit_gemm_contract.hpp"
#include "lowbit/kernels/x86.hpp"
#include "lowbit/runtime/path.hpp"

#if LOWBIT_HAVE_X86_PATHS

LOWBIT_NAMESPACE_BEGIN
namespace kernels {

namespace avx2 {
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE __m256i lowbit_dot(__m256i acc, __m256i u, __m256i a) noexcept {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, a), _mm256_set1_epi16(1)));
}
LOWBIT_TARGET_AVX2 LOWBIT_ALWAYS_INLINE __m256i lowbit_dot8(__m256i acc, __m256i u, __m256i a) noexcept {
  const __m256i m = _mm256_set1_epi8(0x0F);
  const __m256i lo = _mm256_maddubs_epi16(_mm256_and_si256(u, m), a);
  const __m256i hi = _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(u, 4), m), a);
  return _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(lo, _mm256_set1_epi16(1)),
                                                _mm256_madd_epi16(hi, _mm256_set1_epi16(16))));
}
#define LOWBIT_LB_TARGET LOWBIT_TARGET_AVX2
#define LOWBIT_LB_PATH kernel_path::avx2
#define LOWBIT_LB_MR 2
#include "lowbit/kernels/lowbit_gemm_ymm_body.hpp"
#undef LOWBIT_LB_TARGET
#undef LOWBIT_LB_PATH
#undef LOWBIT_LB_MR
}  // namespace avx2

namespace avxvnni {
LOWBIT_TARGET_AVXVNNI LOWBIT_ALWAYS_INLINE __m256i lowbit_dot(__m256i acc, __m256i u, __m256i a) noexcept {
#if defined(LOWBIT_EMULATE_X86_SIMD)
  return _mm256_dpbusd_epi32(acc, u, a);  // SIMDe has the AVX-512VL form of the same operation
#else
  return _mm256_dpbusd_avx_epi32(acc, u, a);
#endif
}
LOWBIT_TARGET_AVXVNNI LOWBIT_ALWAYS_INLINE __m256i lowbit_dot8(__m256i acc, __m256i u, __m256i a) noexcept {
  return lowbit_dot(acc, u, a);
}
#define LOWBIT_LB_TARGET LOWBIT_TARGET_AVXVNNI
#define LOWBIT_LB_PATH kernel_path::avxvnni
#define LOWBIT_LB_MR 3
#include "lowbit/kernels/lowbit_gemm_ymm_body.hpp"
#undef LOWBIT_LB_TARGET
#undef LOWBIT_LB_PATH
#undef LOWBIT_LB_MR
}  // namespace avxvnni

avx2::lowbit_micro_kernel lowbit_kernel(paths::avx2);
avxvnni::lowbit_micro_kernel lowbit_kernel(paths::avxvnni);
}  // namespace kernels
LOWBIT_NAMESPACE_END

#endif  // LOWBIT_HAVE_X86_PATHS
