// lowbit/kernels/lowbit_gemm_avx512.hpp: the sub-byte weight micro-kernels of the AVX-512 paths (VNNI and BW).
//
// Both are kernels/lowbit_gemm_zmm_body.hpp with the path's dot product on 4-byte lanes:
//   avx512vnni  vpdpbusd: unsigned codes x signed activation bytes, added to int32, no saturation
//   avx512      vpmaddubsw then vpmaddwd with ones: exact for codes below 16 (2 * 15 * 128 fits
//               int16); 8-bit codes are split into nibbles, u = 16 hi + lo, each half exact
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

LOWBIT_AVX512_DIAGNOSTICS_BEGIN

LOWBIT_NAMESPACE_BEGIN
namespace kernels {

namespace avx512 {
LOWBIT_TARGET_AVX512 LOWBIT_ALWAYS_INLINE __m512i lowbit_dot(__m512i acc, __m512i u, __m512i a) noexcept {
  return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, a), _mm512_set1_epi16(1)));
}
LOWBIT_TARGET_AVX512 LOWBIT_ALWAYS_INLINE __m512i lowbit_dot8(__m512i acc, __m512i u, __m512i a) noexcept {
  const __m512i m = _mm512_set1_epi8(0x0F);
  const __m512i lo = _mm512_maddubs_epi16(_mm512_and_si512(u, m), a);
  const __m512i hi = _mm512_maddubs_epi16(_mm512_and_si512(_mm512_srli_epi16(u, 4), m), a);
  return _mm512_add_epi32(acc, _mm512_add_epi32(_mm512_madd_epi16(lo, _mm512_set1_epi16(1)),
                                                _mm512_madd_epi16(hi, _mm512_set1_epi16(16))));
}
#define LOWBIT_LB_TARGET LOWBIT_TARGET_AVX512
#define LOWBIT_LB_PATH kernel_path::avx512
#define LOWBIT_LB_MR 4
#define LOWBIT_LB_WIDE_MR 0
#define LOWBIT_LB_WIDE_ASM 0
#define LOWBIT_LB_PRESCALED 0
#include "lowbit/kernels/lowbit_gemm_zmm_body.hpp"
#undef LOWBIT_LB_TARGET
#undef LOWBIT_LB_PATH
#undef LOWBIT_LB_MR
#undef LOWBIT_LB_WIDE_MR
#undef LOWBIT_LB_WIDE_ASM
#undef LOWBIT_LB_PRESCALED
}  // namespace avx512

namespace avx512vnni {
LOWBIT_TARGET_AVX512VNNI LOWBIT_ALWAYS_INLINE __m512i lowbit_dot(__m512i acc, __m512i u, __m512i a) noexcept {
  return _mm512_dpbusd_epi32(acc, u, a);
}
LOWBIT_TARGET_AVX512VNNI LOWBIT_ALWAYS_INLINE __m512i lowbit_dot8(__m512i acc, __m512i u, __m512i a) noexcept {
  return _mm512_dpbusd_epi32(acc, u, a);
}
#define LOWBIT_LB_TARGET LOWBIT_TARGET_AVX512VNNI
#define LOWBIT_LB_PATH kernel_path::avx512vnni
// 4 rows (16 accumulators + 4 unpacked vectors + mask + broadcast): with 5 or 6 rows GCC 12 spills
// accumulators inside the quad loop and the tile runs at half speed (242 against 462 GOPS at
// M = 32, 4096 x 4096, int4, one Zen 5 core).
#define LOWBIT_LB_MR 4
// On codes expanded to bytes once per panel (strips of several tiles), 6 rows: 24 accumulators and
// the 4 loaded vectors, no masks or shifts in the loop.
#define LOWBIT_LB_WIDE_MR 6
#define LOWBIT_LB_WIDE_ASM 1  // tiles of 2 to 6 rows on expanded codes: each group in assembly (vpdpbusd)
#define LOWBIT_LB_PRESCALED 1
#include "lowbit/kernels/lowbit_gemm_zmm_body.hpp"
#undef LOWBIT_LB_TARGET
#undef LOWBIT_LB_PATH
#undef LOWBIT_LB_MR
#undef LOWBIT_LB_WIDE_MR
#undef LOWBIT_LB_WIDE_ASM
#undef LOWBIT_LB_PRESCALED
}  // namespace avx512vnni

avx512::lowbit_micro_kernel lowbit_kernel(paths::avx512);
avx512vnni::lowbit_micro_kernel lowbit_kernel(paths::avx512vnni);
}  // namespace kernels
LOWBIT_NAMESPACE_END

LOWBIT_AVX512_DIAGNOSTICS_END

#endif  // LOWBIT_HAVE_X86_PATHS
