// tests/support/simde_x86.hpp: SIMDe's portable x86 intrinsics plus the few AVX-512 ones SIMDe 0.7.4 lacks.
//
// Included by lowbit/kernels/x86.hpp in the emulation test build only
// (LOWBIT_EMULATE_X86_SIMD). The additions below follow Intel's definitions of the instructions;
// each is a plain loop over SIMDe's element arrays.
#pragma once

#ifndef SIMDE_ENABLE_NATIVE_ALIASES
#define SIMDE_ENABLE_NATIVE_ALIASES
#endif
#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>

#include <cmath>
#include <cstdint>

typedef simde__mmask8 __mmask8;
typedef simde__mmask16 __mmask16;

// vcvtps2dq zmm: round under the current rounding mode (half to even by default).
static inline simde__m512i _mm512_cvtps_epi32(simde__m512 a) {
  simde__m512_private a_ = simde__m512_to_private(a);
  simde__m512i_private r_;
  for (int i = 0; i < 16; ++i) r_.i32[i] = static_cast<int32_t>(std::nearbyint(a_.f32[i]));
  return simde__m512i_from_private(r_);
}

// vcvtdq2ps zmm.
static inline simde__m512 _mm512_cvtepi32_ps(simde__m512i a) {
  simde__m512i_private a_ = simde__m512i_to_private(a);
  simde__m512_private r_;
  for (int i = 0; i < 16; ++i) r_.f32[i] = static_cast<float>(a_.i32[i]);
  return simde__m512_from_private(r_);
}

// vpmovdb: truncate 16 int32 to their low bytes.
static inline simde__m128i _mm512_cvtepi32_epi8(simde__m512i a) {
  simde__m512i_private a_ = simde__m512i_to_private(a);
  simde__m128i_private r_;
  for (int i = 0; i < 16; ++i) r_.i8[i] = static_cast<int8_t>(a_.i32[i]);
  return simde__m128i_from_private(r_);
}

// vpmovsxbd / vpmovzxbd zmm.
static inline simde__m512i _mm512_cvtepi8_epi32(simde__m128i a) {
  simde__m128i_private a_ = simde__m128i_to_private(a);
  simde__m512i_private r_;
  for (int i = 0; i < 16; ++i) r_.i32[i] = a_.i8[i];
  return simde__m512i_from_private(r_);
}
static inline simde__m512i _mm512_cvtepu8_epi32(simde__m128i a) {
  simde__m128i_private a_ = simde__m128i_to_private(a);
  simde__m512i_private r_;
  for (int i = 0; i < 16; ++i) r_.i32[i] = a_.u8[i];
  return simde__m512i_from_private(r_);
}

// Masked loads and stores of whole lanes (AVX-512F) and bytes (AVX-512BW/VL): lanes whose mask bit
// is clear are not read (they load as zero) and not written.
static inline simde__m512i _mm512_maskz_loadu_epi32(simde__mmask16 k, const void* p) {
  simde__m512i_private r_;
  const auto* src = static_cast<const int32_t*>(p);
  for (int i = 0; i < 16; ++i) r_.i32[i] = (k >> i) & 1 ? src[i] : 0;
  return simde__m512i_from_private(r_);
}
static inline simde__m512 _mm512_maskz_loadu_ps(simde__mmask16 k, const void* p) {
  simde__m512_private r_;
  const auto* src = static_cast<const float*>(p);
  for (int i = 0; i < 16; ++i) r_.f32[i] = (k >> i) & 1 ? src[i] : 0.0f;
  return simde__m512_from_private(r_);
}
static inline void _mm512_mask_storeu_epi32(void* p, simde__mmask16 k, simde__m512i a) {
  simde__m512i_private a_ = simde__m512i_to_private(a);
  auto* dst = static_cast<int32_t*>(p);
  for (int i = 0; i < 16; ++i)
    if ((k >> i) & 1) dst[i] = a_.i32[i];
}
static inline void _mm512_mask_storeu_ps(void* p, simde__mmask16 k, simde__m512 a) {
  simde__m512_private a_ = simde__m512_to_private(a);
  auto* dst = static_cast<float*>(p);
  for (int i = 0; i < 16; ++i)
    if ((k >> i) & 1) dst[i] = a_.f32[i];
}
static inline void _mm_mask_storeu_epi8(void* p, simde__mmask16 k, simde__m128i a) {
  simde__m128i_private a_ = simde__m128i_to_private(a);
  auto* dst = static_cast<int8_t*>(p);
  for (int i = 0; i < 16; ++i)
    if ((k >> i) & 1) dst[i] = a_.i8[i];
}

// vfmadd: one rounding. SIMDe 0.7.4 computes a * b + c with two roundings when the build has no
// FMA, which is not what the instruction does (and not what lowbit's scalar reference does).
static inline simde__m512 lowbit_simde_fmadd512(simde__m512 a, simde__m512 b, simde__m512 c) {
  simde__m512_private a_ = simde__m512_to_private(a), b_ = simde__m512_to_private(b), c_ = simde__m512_to_private(c), r_;
  for (int i = 0; i < 16; ++i) r_.f32[i] = std::fma(a_.f32[i], b_.f32[i], c_.f32[i]);
  return simde__m512_from_private(r_);
}
static inline simde__m256 lowbit_simde_fmadd256(simde__m256 a, simde__m256 b, simde__m256 c) {
  simde__m256_private a_ = simde__m256_to_private(a), b_ = simde__m256_to_private(b), c_ = simde__m256_to_private(c), r_;
  for (int i = 0; i < 8; ++i) r_.f32[i] = std::fma(a_.f32[i], b_.f32[i], c_.f32[i]);
  return simde__m256_from_private(r_);
}
#undef _mm512_fmadd_ps
#define _mm512_fmadd_ps(a, b, c) lowbit_simde_fmadd512(a, b, c)
#undef _mm256_fmadd_ps
#define _mm256_fmadd_ps(a, b, c) lowbit_simde_fmadd256(a, b, c)

// vfmsub: a * b - c with one rounding, for the same reason.
static inline simde__m512 lowbit_simde_fmsub512(simde__m512 a, simde__m512 b, simde__m512 c) {
  simde__m512_private a_ = simde__m512_to_private(a), b_ = simde__m512_to_private(b), c_ = simde__m512_to_private(c), r_;
  for (int i = 0; i < 16; ++i) r_.f32[i] = std::fma(a_.f32[i], b_.f32[i], -c_.f32[i]);
  return simde__m512_from_private(r_);
}
static inline simde__m256 lowbit_simde_fmsub256(simde__m256 a, simde__m256 b, simde__m256 c) {
  simde__m256_private a_ = simde__m256_to_private(a), b_ = simde__m256_to_private(b), c_ = simde__m256_to_private(c), r_;
  for (int i = 0; i < 8; ++i) r_.f32[i] = std::fma(a_.f32[i], b_.f32[i], -c_.f32[i]);
  return simde__m256_from_private(r_);
}
#undef _mm512_fmsub_ps
#define _mm512_fmsub_ps(a, b, c) lowbit_simde_fmsub512(a, b, c)
#undef _mm256_fmsub_ps
#define _mm256_fmsub_ps(a, b, c) lowbit_simde_fmsub256(a, b, c)

// vcvtps2pd zmm: 8 floats to 8 doubles (exact).
static inline simde__m512d _mm512_cvtps_pd(simde__m256 a) {
  simde__m256_private a_ = simde__m256_to_private(a);
  simde__m512d_private r_;
  for (int i = 0; i < 8; ++i) r_.f64[i] = static_cast<double>(a_.f32[i]);
  return simde__m512d_from_private(r_);
}

// _mm512_reduce_add_ps: the sum of the 16 lanes (as a tree, as GCC's and clang's versions add).
static inline float _mm512_reduce_add_ps(simde__m512 a) {
  simde__m512_private a_ = simde__m512_to_private(a);
  float v[16];
  for (int i = 0; i < 16; ++i) v[i] = a_.f32[i];
  for (int h = 8; h >= 1; h /= 2)
    for (int i = 0; i < h; ++i) v[i] += v[i + h];
  return v[0];
}

#ifndef _MM_FROUND_NO_EXC
#define _MM_FROUND_NO_EXC SIMDE_MM_FROUND_NO_EXC
#endif

// SIMDe 0.7.4 aliases _mm512_madd_epi16 with the argument list of its masked form.
#undef _mm512_madd_epi16
#define _mm512_madd_epi16(a, b) simde_mm512_madd_epi16(a, b)

// vcvtph2ps zmm: 16 fp16 values to float (exact), as two halves through SIMDe's F16C form.
static inline simde__m512 _mm512_cvtph_ps(simde__m256i a) {
  simde__m256i_private a_ = simde__m256i_to_private(a);
  simde__m512_private r_;
  simde__m256_private lo = simde__m256_to_private(simde_mm256_cvtph_ps(simde__m128i_from_private(a_.m128i_private[0])));
  simde__m256_private hi = simde__m256_to_private(simde_mm256_cvtph_ps(simde__m128i_from_private(a_.m128i_private[1])));
  for (int i = 0; i < 8; ++i) r_.f32[i] = lo.f32[i], r_.f32[8 + i] = hi.f32[i];
  return simde__m512_from_private(r_);
}

// vpsrad zmm, imm: arithmetic shift right of each int32 lane (counts above 31 fill with the sign).
static inline simde__m512i _mm512_srai_epi32(simde__m512i a, unsigned int count) {
  simde__m512i_private a_ = simde__m512i_to_private(a), r_;
  const int c = count > 31 ? 31 : static_cast<int>(count);
  for (int i = 0; i < 16; ++i) r_.i32[i] = a_.i32[i] >> c;
  return simde__m512i_from_private(r_);
}

// vmaskmovps / vpmaskmovd loads: lanes whose mask sign bit is clear are not read (they load as
// zero), so a masked load at the end of a buffer is in bounds. SIMDe 0.7.4 loads all eight lanes
// and then clears them, which reads past the buffer (AddressSanitizer reports it).
static inline simde__m256 lowbit_simde_maskload_ps(const float* p, simde__m256i mask) {
  simde__m256i_private m_ = simde__m256i_to_private(mask);
  simde__m256_private r_;
  for (int i = 0; i < 8; ++i) r_.f32[i] = m_.i32[i] < 0 ? p[i] : 0.0f;
  return simde__m256_from_private(r_);
}
static inline simde__m256i lowbit_simde_maskload_epi32(const int32_t* p, simde__m256i mask) {
  simde__m256i_private m_ = simde__m256i_to_private(mask), r_;
  for (int i = 0; i < 8; ++i) r_.i32[i] = m_.i32[i] < 0 ? p[i] : 0;
  return simde__m256i_from_private(r_);
}
#undef _mm256_maskload_ps
#define _mm256_maskload_ps(p, m) lowbit_simde_maskload_ps(reinterpret_cast<const float*>(p), m)
#undef _mm256_maskload_epi32
#define _mm256_maskload_epi32(p, m) lowbit_simde_maskload_epi32(reinterpret_cast<const int32_t*>(p), m)
