// lowbit/kernels/isa.hpp: the kernel paths, which ones this build and CPU can run, and the active one.
//
// A path is a family of kernels compiled for one instruction set. The active path is the best of
// "compiled in" and "supported by this CPU", unless the environment variable LOWBIT_ISA or
// set_isa() forces another one. An operation without a kernel for the active path uses the best
// lower path of the same family (avx512_vnni -> avx512 -> avx2 -> simd -> scalar, and
// neon_dot -> simd -> scalar).
//
//   scalar       portable C++; the reference every other path must match bit for bit
//   simd         xsimd at the instruction set the translation unit was compiled for (SSE2 or
//                better on x86-64, NEON on AArch64)
//   avx2         x86-64 AVX2 + FMA, reached at run time through target attributes
//   avx512       AVX-512 F/BW/DQ/VL
//   avx512_vnni  AVX-512 + VNNI (vpdpbusd)
//   neon_dot     AArch64 NEON with the dot-product extension (sdot), reached at run time
#pragma once

#include <atomic>
#include <cstdlib>
#include <ostream>
#include <string>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/kernels/cpu_features.hpp"

LOWBIT_NAMESPACE_BEGIN

enum class isa : int { scalar = 0, simd, avx2, avx512, avx512_vnni, neon_dot };

inline constexpr isa all_isas[] = {isa::scalar, isa::simd,        isa::avx2,
                                   isa::avx512, isa::avx512_vnni, isa::neon_dot};

/// The name LOWBIT_ISA accepts for a path.
inline const char* isa_name(isa p) noexcept {
  switch (p) {
    case isa::scalar: return "scalar";
    case isa::simd: return "simd";
    case isa::avx2: return "avx2";
    case isa::avx512: return "avx512";
    case isa::avx512_vnni: return "avx512vnni";
    case isa::neon_dot: return "neondot";
  }
  return "unknown";
}

inline std::ostream& operator<<(std::ostream& out, isa p) { return out << isa_name(p); }

/// Parses a LOWBIT_ISA value; "neon" is accepted for the simd path on AArch64.
inline bool parse_isa(const std::string& text, isa& out) noexcept {
  for (isa p : all_isas) {
    if (text == isa_name(p)) {
      out = p;
      return true;
    }
  }
  if (text == "avx512_vnni") {
    out = isa::avx512_vnni;
    return true;
  }
  if (text == "neon_dot") {
    out = isa::neon_dot;
    return true;
  }
  if (text == "neon" && LOWBIT_ARCH_AARCH64) {
    out = isa::simd;
    return true;
  }
  return false;
}

/// True when this build contains the path and this CPU can run it. In the test-only emulation
/// build (LOWBIT_EMULATE_X86_SIMD) the x86 paths run on SIMDe and are always available.
inline bool isa_supported(isa p) noexcept {
  const cpu_features& f = cpu();
  (void)f;
  switch (p) {
    case isa::scalar:
    case isa::simd: return true;
#if LOWBIT_HAVE_X86_PATHS
#if defined(LOWBIT_EMULATE_X86_SIMD)
    case isa::avx2:
    case isa::avx512:
    case isa::avx512_vnni: return true;
#else
    case isa::avx2: return f.avx2;
    case isa::avx512: return f.avx2 && f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl;
    case isa::avx512_vnni:
      return f.avx2 && f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl && f.avx512vnni;
#endif
#endif
#if LOWBIT_HAVE_NEON_DOT_PATH
    case isa::neon_dot: return f.neon_dot;
#endif
    default: return false;
  }
}

/// All paths this build and CPU can run, from the reference upwards.
inline std::vector<isa> supported_isas() {
  std::vector<isa> out;
  for (isa p : all_isas)
    if (isa_supported(p)) out.push_back(p);
  return out;
}

/// The best supported path.
inline isa best_isa() noexcept {
  isa best = isa::simd;
  for (isa p : all_isas)
    if (isa_supported(p)) best = p;
  return best;
}

namespace detail {
inline std::atomic<int>& isa_override() noexcept {
  static std::atomic<int> value{-1};  // -1: not yet read from the environment
  return value;
}

inline isa isa_from_environment() {
  const char* env = std::getenv("LOWBIT_ISA");
  if (env == nullptr || *env == '\0') return best_isa();
  isa p = isa::scalar;
  if (!parse_isa(env, p)) {
    fail("LOWBIT_ISA=", env,
         " is not a path name; use scalar, simd, avx2, avx512, avx512vnni or neondot");
  }
  if (!isa_supported(p)) {
    fail("LOWBIT_ISA=", env, " asks for a path this CPU or build cannot run; the best here is ",
         isa_name(best_isa()));
  }
  return p;
}
}  // namespace detail

/// The path lowbit's operations use: LOWBIT_ISA if set (read once; a name that is unknown or not
/// supported here raises lowbit::error), otherwise best_isa(). set_isa() replaces it.
inline isa active_isa() {
  std::atomic<int>& v = detail::isa_override();
  int current = v.load(std::memory_order_relaxed);
  if (current < 0) {
    current = static_cast<int>(detail::isa_from_environment());
    v.store(current, std::memory_order_relaxed);
  }
  return static_cast<isa>(current);
}

/// Forces a path for the whole process (tests, benchmarks). Raises lowbit::error if unsupported.
inline void set_isa(isa p) {
  if (!isa_supported(p)) detail::fail("set_isa(", isa_name(p), "): path not supported on this CPU/build");
  detail::isa_override().store(static_cast<int>(p), std::memory_order_relaxed);
}

/// Restores a previous path when it goes out of scope: `lowbit::scoped_isa guard(lowbit::isa::avx2);`
class scoped_isa {
 public:
  explicit scoped_isa(isa p) : previous_(active_isa()) { set_isa(p); }
  ~scoped_isa() { detail::isa_override().store(static_cast<int>(previous_)); }
  scoped_isa(const scoped_isa&) = delete;
  scoped_isa& operator=(const scoped_isa&) = delete;

 private:
  isa previous_;
};

LOWBIT_NAMESPACE_END
