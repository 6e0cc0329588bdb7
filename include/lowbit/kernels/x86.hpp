// lowbit/kernels/x86.hpp: x86 intrinsics, or SIMDe's portable versions in the emulation test build.
#pragma once

#include "lowbit/config.hpp"

#if LOWBIT_HAVE_X86_PATHS
#if defined(LOWBIT_EMULATE_X86_SIMD)
// Test-only: every AVX2 / AVX-512 intrinsic becomes a portable implementation (SIMDe with native
// aliases, completed by the test suite's tests/support/simde_x86.hpp), so the kernels' logic runs,
// slowly, on a CPU without those instruction sets. The translation unit must not include
// <immintrin.h> itself: SIMDe declares the same type names.
#include LOWBIT_EMULATE_X86_SIMD
#else
#include <immintrin.h>
#endif
#endif

// GCC 12 reports its own _mm512_undefined_* placeholders (used inside _mm512_min_ps and others)
// as uninitialized once they are inlined into target-attributed functions (GCC bug 105593). The
// AVX-512 kernel headers wrap their code in these.
#if defined(__GNUC__) && !defined(__clang__)
#define LOWBIT_AVX512_DIAGNOSTICS_BEGIN                                                            \
  _Pragma("GCC diagnostic push") _Pragma("GCC diagnostic ignored \"-Wuninitialized\"")             \
      _Pragma("GCC diagnostic ignored \"-Wmaybe-uninitialized\"")
#define LOWBIT_AVX512_DIAGNOSTICS_END _Pragma("GCC diagnostic pop")
#else
#define LOWBIT_AVX512_DIAGNOSTICS_BEGIN
#define LOWBIT_AVX512_DIAGNOSTICS_END
#endif
