// lowbit/runtime/cpu_features.hpp: what the CPU (and the OS) can run, read once with CPUID/XGETBV or getauxval.
#pragma once

#include "lowbit/config.hpp"

#if LOWBIT_ARCH_X86_64 && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#endif
#if LOWBIT_ARCH_AARCH64 && defined(__linux__)
#include <sys/auxv.h>
#endif

LOWBIT_NAMESPACE_BEGIN

/// Instruction-set features relevant to lowbit's kernels. A feature is true only when both the CPU
/// reports it and the OS saves the registers it needs (XCR0 for AVX and AVX-512 state).
struct cpu_features {
  bool avx2 = false;  ///< AVX2 with FMA, BMI2 and F16C, YMM state enabled
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512dq = false;
  bool avx512vl = false;
  bool avx512vnni = false;  ///< CPUID leaf 7 ECX bit 11 (vpdpbusd on zmm)
  bool avxvnni = false;     ///< CPUID leaf 7 sub-leaf 1 EAX bit 4 (VEX vpdpbusd on ymm), YMM state enabled
  bool neon = false;        ///< AArch64 Advanced SIMD (always present on AArch64)
  bool neondot = false;    ///< AArch64 dot product (sdot / udot), HWCAP_ASIMDDP
};

namespace detail {

#if LOWBIT_ARCH_X86_64 && (defined(__GNUC__) || defined(__clang__))
inline unsigned long long read_xcr0() noexcept {
  unsigned eax = 0, edx = 0;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (static_cast<unsigned long long>(edx) << 32) | eax;
}
#endif

inline cpu_features detect_cpu_features() noexcept {
  cpu_features f;
#if LOWBIT_ARCH_X86_64 && (defined(__GNUC__) || defined(__clang__))
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(1, 0, eax, ebx, ecx, edx);
  const bool osxsave = (ecx >> 27) & 1u;
  const bool avx = (ecx >> 28) & 1u;
  const bool fma = (ecx >> 12) & 1u;
  const bool f16c = (ecx >> 29) & 1u;
  if (!osxsave || !avx) return f;
  const unsigned long long xcr0 = read_xcr0();
  const bool os_ymm = (xcr0 & 0x6u) == 0x6u;     // SSE and AVX state
  const bool os_zmm = (xcr0 & 0xE6u) == 0xE6u;   // + opmask, ZMM_Hi256, Hi16_ZMM
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  const bool avx2 = (ebx >> 5) & 1u;
  const bool bmi2 = (ebx >> 8) & 1u;
  const unsigned leaf7_subleaves = eax;  // EAX of sub-leaf 0: the highest sub-leaf
  const unsigned leaf7_ebx = ebx, leaf7_ecx = ecx;
  f.avx2 = os_ymm && avx2 && fma && bmi2 && f16c;
  if (f.avx2 && leaf7_subleaves >= 1) {
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    f.avxvnni = (eax >> 4) & 1u;
  }
  ebx = leaf7_ebx;
  ecx = leaf7_ecx;
  if (f.avx2 && os_zmm) {
    f.avx512f = (ebx >> 16) & 1u;
    f.avx512dq = (ebx >> 17) & 1u;
    f.avx512bw = (ebx >> 30) & 1u;
    f.avx512vl = (ebx >> 31) & 1u;
    f.avx512vnni = f.avx512f && ((ecx >> 11) & 1u);
  }
#elif LOWBIT_ARCH_AARCH64
  f.neon = true;
#if defined(__linux__)
  constexpr unsigned long hwcap_asimddp = 1ul << 20;  // HWCAP_ASIMDDP in <asm/hwcap.h>
  f.neondot = (getauxval(AT_HWCAP) & hwcap_asimddp) != 0;
#endif
#endif
  return f;
}

}  // namespace detail

/// The features of the CPU this process runs on, detected on first use.
inline const cpu_features& cpu() noexcept {
  static const cpu_features features = detail::detect_cpu_features();
  return features;
}

LOWBIT_NAMESPACE_END
