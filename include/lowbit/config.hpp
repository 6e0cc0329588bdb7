// lowbit/config.hpp: version, ABI namespace, error and assertion macros shared by every header.
#pragma once

#include <cassert>
#include <cstddef>
#include <cstdint>

#define LOWBIT_VERSION_MAJOR 0
#define LOWBIT_VERSION_MINOR 1
#define LOWBIT_VERSION_PATCH 0

// ---------------------------------------------------------------------------------------------
// ABI namespace.
//
// (This is about the compiler flags of the translation unit, not about the kernel path lowbit runs:
// the name reads "abi, version 0.1, compiled with these flags". Which kernels run is chosen at run
// time, see runtime/path.hpp.)
//
// lowbit is header-only and part of its machine code depends on the instruction set the
// translation unit is compiled for (the xsimd paths, and the run-time paths whose target
// attributes add to the command-line flags). Two translation units of one program compiled with
// different -m flags would otherwise define the same inline functions differently, and the linker
// would keep one of them at random. Every lowbit entity therefore lives in an inline namespace
// whose name records the compile-time instruction set: such TUs get distinct symbols, and passing
// lowbit objects between them fails at link time instead of misbehaving at run time. (Macros a
// user sets to configure lowbit, such as LOWBIT_THROW or LOWBIT_ENABLE_ASSERTS, must be the same
// in every translation unit, as with Eigen's configuration macros.)
// ---------------------------------------------------------------------------------------------
#if defined(__AVX512BW__)
#define LOWBIT_ABI_ISA avx512bw
#elif defined(__AVX512F__)
#define LOWBIT_ABI_ISA avx512f
#elif defined(__AVX2__)
#define LOWBIT_ABI_ISA avx2
#elif defined(__AVX__)
#define LOWBIT_ABI_ISA avx
#elif defined(__SSE4_2__)
#define LOWBIT_ABI_ISA sse42
#elif defined(__SSE4_1__)
#define LOWBIT_ABI_ISA sse41
#elif defined(__SSSE3__)
#define LOWBIT_ABI_ISA ssse3
#elif defined(__SSE2__)
#define LOWBIT_ABI_ISA sse2
#elif defined(__ARM_FEATURE_DOTPROD)
#define LOWBIT_ABI_ISA neondot
#elif defined(__aarch64__)
#define LOWBIT_ABI_ISA neon
#else
#define LOWBIT_ABI_ISA base
#endif

// Extensions that change what xsimd generates at the same base level get a letter each.
#if defined(__FMA__)
#define LOWBIT_ABI_FMA _fma
#else
#define LOWBIT_ABI_FMA
#endif
#if defined(__AVX512DQ__)
#define LOWBIT_ABI_DQ _dq
#else
#define LOWBIT_ABI_DQ
#endif
#if defined(__AVX512VL__)
#define LOWBIT_ABI_VL _vl
#else
#define LOWBIT_ABI_VL
#endif
#if defined(__AVX512CD__)
#define LOWBIT_ABI_CD _cd
#else
#define LOWBIT_ABI_CD
#endif

#define LOWBIT_DETAIL_CAT6_(a, b, c, d, e, f) a##b##c##d##e##f
#define LOWBIT_DETAIL_CAT6(a, b, c, d, e, f) LOWBIT_DETAIL_CAT6_(a, b, c, d, e, f)
#define LOWBIT_ABI_NAMESPACE \
  LOWBIT_DETAIL_CAT6(abi_v0_1_cflags_, LOWBIT_ABI_ISA, LOWBIT_ABI_FMA, LOWBIT_ABI_DQ, LOWBIT_ABI_VL, LOWBIT_ABI_CD)

#define LOWBIT_NAMESPACE_BEGIN                                                                     \
  namespace lowbit {                                                                               \
  inline namespace LOWBIT_ABI_NAMESPACE {
#define LOWBIT_NAMESPACE_END                                                                       \
  }                                                                                                \
  }

// ---------------------------------------------------------------------------------------------
// Architecture.
// ---------------------------------------------------------------------------------------------
#if defined(__x86_64__) || defined(_M_X64)
#define LOWBIT_ARCH_X86_64 1
#else
#define LOWBIT_ARCH_X86_64 0
#endif
#if defined(__aarch64__) || defined(_M_ARM64)
#define LOWBIT_ARCH_AARCH64 1
#else
#define LOWBIT_ARCH_AARCH64 0
#endif

// Run-time kernel paths need GCC/Clang target attributes. LOWBIT_EMULATE_X86_SIMD is a test-only
// switch: the x86 kernels are compiled against SIMDe's portable intrinsics so that their logic can
// be checked on machines without those instruction sets (tests/CMakeLists.txt,
// lowbit_kernels_emulated_tests).
#if LOWBIT_ARCH_X86_64 && (defined(__GNUC__) || defined(__clang__))
#define LOWBIT_HAVE_X86_PATHS 1
#else
#define LOWBIT_HAVE_X86_PATHS 0
#endif
#if LOWBIT_ARCH_AARCH64 && (defined(__GNUC__) || defined(__clang__)) && defined(__linux__)
#define LOWBIT_HAVE_NEONDOT_PATH 1
#else
#define LOWBIT_HAVE_NEONDOT_PATH 0
#endif

#if defined(LOWBIT_EMULATE_X86_SIMD)
#define LOWBIT_TARGET_AVX2
#define LOWBIT_TARGET_AVXVNNI
#define LOWBIT_TARGET_AVX512
#define LOWBIT_TARGET_AVX512VNNI
#else
#define LOWBIT_TARGET_AVX2 __attribute__((target("avx2,fma,bmi2,f16c")))
#define LOWBIT_TARGET_AVXVNNI __attribute__((target("avx2,fma,bmi2,f16c,avxvnni")))
#define LOWBIT_TARGET_AVX512 __attribute__((target("avx2,fma,bmi2,f16c,avx512f,avx512bw,avx512dq,avx512vl")))
#define LOWBIT_TARGET_AVX512VNNI                                                                   \
  __attribute__((target("avx2,fma,bmi2,f16c,avx512f,avx512bw,avx512dq,avx512vl,avx512vnni")))
#endif
#define LOWBIT_TARGET_NEONDOT __attribute__((target("arch=armv8.2-a+dotprod")))

// ---------------------------------------------------------------------------------------------
// Errors and assertions.
//
// Bad data at the API boundary raises lowbit::error through LOWBIT_THROW, which a user may
// redefine (for example to log and abort in builds with -fno-exceptions). Inner kernels are
// noexcept and only check their preconditions with LOWBIT_ASSERT, which follows NDEBUG unless
// LOWBIT_ENABLE_ASSERTS is defined (the test builds define it in Release).
// ---------------------------------------------------------------------------------------------
#ifndef LOWBIT_THROW
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
#define LOWBIT_THROW(message) throw ::lowbit::error(message)
#else
#include <cstdio>
#include <cstdlib>
#define LOWBIT_THROW(message)                                                                      \
  do {                                                                                             \
    std::fprintf(stderr, "lowbit error: %s\n", std::string(message).c_str());                     \
    std::abort();                                                                                  \
  } while (0)
#endif
#endif

#ifndef LOWBIT_ASSERT
#if defined(LOWBIT_ENABLE_ASSERTS)
#include <cstdio>
#include <cstdlib>
#define LOWBIT_ASSERT(condition)                                                                   \
  do {                                                                                             \
    if (!(condition)) {                                                                            \
      std::fprintf(stderr, "%s:%d: lowbit assertion failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                                \
    }                                                                                              \
  } while (0)
#else
#define LOWBIT_ASSERT(condition) assert(condition)
#endif
#endif

// Keeps a vector accumulator in a register across loop iterations. GCC 12 otherwise spills
// micro-kernel accumulators held in arrays to the stack on every iteration. (No-op in the
// emulation build, whose vectors are not machine registers.)
#if defined(__GNUC__) && !defined(__clang__) && !defined(LOWBIT_EMULATE_X86_SIMD) && LOWBIT_ARCH_X86_64
#define LOWBIT_KEEP_YMM(v) __asm__("" : "+x"(v))
#define LOWBIT_KEEP_ZMM(v) __asm__("" : "+v"(v))
#else
#define LOWBIT_KEEP_YMM(v) (void)0
#define LOWBIT_KEEP_ZMM(v) (void)0
#endif

#if defined(__GNUC__) || defined(__clang__)
#define LOWBIT_RESTRICT __restrict__
#define LOWBIT_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define LOWBIT_RESTRICT
#define LOWBIT_ALWAYS_INLINE inline
#endif

LOWBIT_NAMESPACE_BEGIN
/// Signed index type used for sizes, strides and positions throughout lowbit.
using index_t = std::ptrdiff_t;
LOWBIT_NAMESPACE_END
