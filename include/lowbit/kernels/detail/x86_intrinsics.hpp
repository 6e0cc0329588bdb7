// lowbit/kernels/detail/x86_intrinsics.hpp: x86 intrinsics, or SIMDe's portable versions in the emulation test build.
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
