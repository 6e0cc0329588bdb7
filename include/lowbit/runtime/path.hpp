// lowbit/runtime/path.hpp: kernel paths: which exist, which this build and CPU can run, the fallback chain, the active one.
//
// A path is a family of kernels compiled for one instruction set. One spelling per path, used for
// the enum, the strings LOWBIT_PATH accepts, the kernel file names (kernels/gemm_avx512vnni.hpp)
// and the tag types below:
//
//   scalar      portable C++; the reference every other path must match bit for bit
//   simd        xsimd at the instruction set the translation unit was compiled for (SSE2 or
//               better on x86-64, NEON on AArch64)
//   avx2        x86-64 AVX2 + FMA, reached at run time through target attributes
//   avxvnni     AVX2 + AVX-VNNI (VEX vpdpbusd on ymm: Intel Alder Lake and later, AMD Zen 5)
//   avx512      AVX-512 F/BW/DQ/VL
//   avx512vnni  AVX-512 + VNNI (vpdpbusd on zmm)
//   neondot     AArch64 NEON with the dot-product extension (sdot), reached at run time
//
// The fallback chain is stated once, as the inheritance of the tag types: an operation without a
// kernel for a path uses its nearest ancestor's,
//
//   avx512vnni -> avx512 -> avx2 -> simd -> scalar
//   avxvnni -> avx2,   neondot -> simd
//
// Kernels are overloaded on the tags (kernels/*.hpp), and dispatch() below is the one table that
// turns a run-time path into a tag; overload resolution then picks the most derived kernel.
//
// The active path is the best of "compiled in" and "supported by this CPU", unless the environment
// variable LOWBIT_PATH or set_path() forces another one. Operations take it from their context
// (runtime/context.hpp), whose default is the active path.
#pragma once

#include <atomic>
#include <cstdlib>
#include <ostream>
#include <string>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/runtime/cpu_features.hpp"

LOWBIT_NAMESPACE_BEGIN

enum class kernel_path : int { scalar = 0, simd, avx2, avxvnni, avx512, avx512vnni, neondot };

inline constexpr kernel_path all_paths[] = {kernel_path::scalar,  kernel_path::simd,   kernel_path::avx2,
                                            kernel_path::avxvnni, kernel_path::avx512, kernel_path::avx512vnni,
                                            kernel_path::neondot};

/// The path's one name, as LOWBIT_PATH accepts it.
inline const char* path_name(kernel_path p) noexcept {
  switch (p) {
    case kernel_path::scalar: return "scalar";
    case kernel_path::simd: return "simd";
    case kernel_path::avx2: return "avx2";
    case kernel_path::avxvnni: return "avxvnni";
    case kernel_path::avx512: return "avx512";
    case kernel_path::avx512vnni: return "avx512vnni";
    case kernel_path::neondot: return "neondot";
  }
  return "unknown";
}

inline std::ostream& operator<<(std::ostream& out, kernel_path p) { return out << path_name(p); }

/// Parses a path name (exactly as path_name spells it).
inline bool parse_path(const std::string& text, kernel_path& out) noexcept {
  for (kernel_path p : all_paths) {
    if (text == path_name(p)) {
      out = p;
      return true;
    }
  }
  return false;
}

/// Tag types, one per path; the inheritance is the fallback chain.
namespace paths {
struct scalar {
  static constexpr kernel_path value = kernel_path::scalar;
};
struct simd : scalar {
  static constexpr kernel_path value = kernel_path::simd;
};
struct avx2 : simd {
  static constexpr kernel_path value = kernel_path::avx2;
};
struct avxvnni : avx2 {
  static constexpr kernel_path value = kernel_path::avxvnni;
};
struct avx512 : avx2 {
  static constexpr kernel_path value = kernel_path::avx512;
};
struct avx512vnni : avx512 {
  static constexpr kernel_path value = kernel_path::avx512vnni;
};
struct neondot : simd {
  static constexpr kernel_path value = kernel_path::neondot;
};
}  // namespace paths

/// The next path of the fallback chain (scalar for scalar), as the tag types state it.
constexpr kernel_path fallback(kernel_path p) noexcept {
  switch (p) {
    case kernel_path::simd: return kernel_path::scalar;
    case kernel_path::avx2: return kernel_path::simd;
    case kernel_path::avxvnni: return kernel_path::avx2;
    case kernel_path::avx512: return kernel_path::avx2;
    case kernel_path::avx512vnni: return kernel_path::avx512;
    case kernel_path::neondot: return kernel_path::simd;
    default: return kernel_path::scalar;
  }
}

/// Calls fn(tag) with the tag of path p: the one table from run-time paths to kernels. Paths this
/// build has no kernels for are never supported (path_supported), so they map to scalar.
template <class Fn>
decltype(auto) dispatch(kernel_path p, Fn&& fn) {
  switch (p) {
#if LOWBIT_HAVE_X86_PATHS
    case kernel_path::avx512vnni: return fn(paths::avx512vnni{});
    case kernel_path::avx512: return fn(paths::avx512{});
    case kernel_path::avxvnni: return fn(paths::avxvnni{});
    case kernel_path::avx2: return fn(paths::avx2{});
#endif
#if LOWBIT_HAVE_NEONDOT_PATH
    case kernel_path::neondot: return fn(paths::neondot{});
#endif
    case kernel_path::simd: return fn(paths::simd{});
    default: return fn(paths::scalar{});
  }
}

/// True when this build contains the path and this CPU can run it. In the test-only emulation
/// build (LOWBIT_EMULATE_X86_SIMD) the x86 paths run on SIMDe and are always available.
inline bool path_supported(kernel_path p) noexcept {
  const cpu_features& f = cpu();
  (void)f;
  switch (p) {
    case kernel_path::scalar:
    case kernel_path::simd: return true;
#if LOWBIT_HAVE_X86_PATHS
#if defined(LOWBIT_EMULATE_X86_SIMD)
    case kernel_path::avx2:
    case kernel_path::avxvnni:
    case kernel_path::avx512:
    case kernel_path::avx512vnni: return true;
#else
    case kernel_path::avx2: return f.avx2;
    case kernel_path::avxvnni: return f.avx2 && f.avxvnni;
    case kernel_path::avx512: return f.avx2 && f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl;
    case kernel_path::avx512vnni:
      return f.avx2 && f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl && f.avx512vnni;
#endif
#endif
#if LOWBIT_HAVE_NEONDOT_PATH
    case kernel_path::neondot: return f.neondot;
#endif
    default: return false;
  }
}

/// All paths this build and CPU can run, from the reference upwards.
inline std::vector<kernel_path> supported_paths() {
  std::vector<kernel_path> out;
  for (kernel_path p : all_paths)
    if (path_supported(p)) out.push_back(p);
  return out;
}

/// The best supported path (the last supported one in all_paths order).
inline kernel_path best_path() noexcept {
  kernel_path best = kernel_path::simd;
  for (kernel_path p : all_paths)
    if (path_supported(p)) best = p;
  return best;
}

/// Raises lowbit::error naming `what` unless the path runs here.
inline void check_path(kernel_path p, const char* what) {
  if (!path_supported(p))
    detail::fail(what, ": path ", path_name(p), " is not supported on this CPU/build (the best here is ",
                 path_name(best_path()), ")");
}

namespace detail {
inline std::atomic<int>& path_override() noexcept {
  static std::atomic<int> value{-1};  // -1: not yet read from the environment
  return value;
}

inline kernel_path path_from_environment() {
  const char* env = std::getenv("LOWBIT_PATH");
  if (env == nullptr || *env == '\0') return best_path();
  kernel_path p = kernel_path::scalar;
  if (!parse_path(env, p)) {
    fail("LOWBIT_PATH=", env,
         " is not a path name; use scalar, simd, avx2, avxvnni, avx512, avx512vnni or neondot");
  }
  if (!path_supported(p)) {
    fail("LOWBIT_PATH=", env, " asks for a path this CPU or build cannot run; the best here is ",
         path_name(best_path()));
  }
  return p;
}
}  // namespace detail

/// The path lowbit's operations use by default: LOWBIT_PATH if set (read once; a name that is
/// unknown or not supported here raises lowbit::error), otherwise best_path(). set_path()
/// replaces it.
inline kernel_path active_path() {
  std::atomic<int>& v = detail::path_override();
  int current = v.load(std::memory_order_relaxed);
  if (current < 0) {
    current = static_cast<int>(detail::path_from_environment());
    v.store(current, std::memory_order_relaxed);
  }
  return static_cast<kernel_path>(current);
}

/// Forces a path for the whole process (tests, benchmarks). Raises lowbit::error if unsupported.
inline void set_path(kernel_path p) {
  check_path(p, "set_path");
  detail::path_override().store(static_cast<int>(p), std::memory_order_relaxed);
}

/// Restores the previous path when it goes out of scope: `lowbit::scoped_path guard(lowbit::kernel_path::avx2);`
class scoped_path {
 public:
  explicit scoped_path(kernel_path p) : previous_(active_path()) { set_path(p); }
  ~scoped_path() { detail::path_override().store(static_cast<int>(previous_)); }
  scoped_path(const scoped_path&) = delete;
  scoped_path& operator=(const scoped_path&) = delete;

 private:
  kernel_path previous_;
};

LOWBIT_NAMESPACE_END
