// runtime/path.hpp and runtime/cpu_features.hpp: CPU feature detection, path names, the fallback chain, dispatch, and the LOWBIT_PATH override.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <type_traits>

#include "lowbit/lowbit.hpp"

namespace {

// Re-reads LOWBIT_PATH on the next active_path() call.
void forget_active_path() { lowbit::detail::path_override().store(-1); }

// The flags of /proc/cpuinfo if it describes this architecture (under qemu-user it shows the
// host's CPU instead).
std::set<std::string> proc_cpuinfo_flags() {
  std::set<std::string> flags;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    const bool x86 = LOWBIT_ARCH_X86_64 && line.rfind("flags", 0) == 0;
    const bool arm = LOWBIT_ARCH_AARCH64 && line.rfind("Features", 0) == 0;
    if (!x86 && !arm) continue;
    std::istringstream s(line.substr(line.find(':') + 1));
    std::string f;
    while (s >> f) flags.insert(f);
    break;
  }
  return flags;
}

TEST(path, detection_agrees_with_the_kernel_view) {
  const std::set<std::string> flags = proc_cpuinfo_flags();
  if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags line for this architecture";
  const lowbit::cpu_features& f = lowbit::cpu();
#if LOWBIT_ARCH_X86_64
  EXPECT_EQ(f.avx2, flags.count("avx2") && flags.count("fma") && flags.count("bmi2") && flags.count("f16c"));
  EXPECT_EQ(f.avx512f, flags.count("avx512f") == 1);
  EXPECT_EQ(f.avx512bw, flags.count("avx512bw") == 1);
  EXPECT_EQ(f.avx512vnni, flags.count("avx512_vnni") == 1);
  EXPECT_EQ(f.avxvnni, f.avx2 && flags.count("avx_vnni") == 1);
#elif LOWBIT_ARCH_AARCH64
  EXPECT_TRUE(f.neon);
  EXPECT_EQ(f.neondot, flags.count("asimddp") == 1);
#endif
}

TEST(path, names_round_trip) {
  for (lowbit::kernel_path p : lowbit::all_paths) {
    lowbit::kernel_path parsed = lowbit::kernel_path::scalar;
    ASSERT_TRUE(lowbit::parse_path(lowbit::path_name(p), parsed)) << lowbit::path_name(p);
    EXPECT_EQ(parsed, p);
  }
  lowbit::kernel_path out = lowbit::kernel_path::scalar;
  EXPECT_FALSE(lowbit::parse_path("avx1024", out));
  EXPECT_FALSE(lowbit::parse_path("", out));
  EXPECT_EQ(lowbit::path_description(lowbit::kernel_path::simd).rfind("simd(", 0), 0u);
}

TEST(path, scalar_and_simd_always_supported_and_best_is_supported) {
  EXPECT_TRUE(lowbit::path_supported(lowbit::kernel_path::scalar));
  EXPECT_TRUE(lowbit::path_supported(lowbit::kernel_path::simd));
  EXPECT_TRUE(lowbit::path_supported(lowbit::best_path()));
  for (lowbit::kernel_path p : lowbit::supported_paths())
    EXPECT_LE(static_cast<int>(p), static_cast<int>(lowbit::best_path()));
#if LOWBIT_ARCH_X86_64
  EXPECT_FALSE(lowbit::path_supported(lowbit::kernel_path::neondot));
#else
  EXPECT_FALSE(lowbit::path_supported(lowbit::kernel_path::avx2));
#endif
}

TEST(path, environment_override) {
  forget_active_path();
  ::setenv("LOWBIT_PATH", "scalar", 1);
  EXPECT_EQ(lowbit::active_path(), lowbit::kernel_path::scalar);
  EXPECT_EQ(lowbit::active_path_name(), "scalar");

  forget_active_path();
  ::setenv("LOWBIT_PATH", "not-a-path", 1);
  try {
    (void)lowbit::active_path();
    FAIL() << "an unknown LOWBIT_PATH must be an error";
  } catch (const lowbit::error& e) {
    EXPECT_NE(std::string(e.what()).find("not-a-path"), std::string::npos) << e.what();
  }

  for (lowbit::kernel_path p : lowbit::all_paths) {
    if (lowbit::path_supported(p)) continue;
    forget_active_path();
    ::setenv("LOWBIT_PATH", lowbit::path_name(p), 1);
    EXPECT_THROW((void)lowbit::active_path(), lowbit::error) << lowbit::path_name(p);
    EXPECT_THROW(lowbit::set_path(p), lowbit::error);
  }

  forget_active_path();
  ::unsetenv("LOWBIT_PATH");
  EXPECT_EQ(lowbit::active_path(), lowbit::best_path());
}

TEST(path, fallback_chain_is_the_tag_hierarchy) {
  using lowbit::kernel_path;
  // The chain as documented, and the tags' inheritance stating the same.
  EXPECT_EQ(lowbit::fallback(kernel_path::avx512vnni), kernel_path::avx512);
  EXPECT_EQ(lowbit::fallback(kernel_path::avx512), kernel_path::avx2);
  EXPECT_EQ(lowbit::fallback(kernel_path::avxvnni), kernel_path::avx2);
  EXPECT_EQ(lowbit::fallback(kernel_path::avx2), kernel_path::simd);
  EXPECT_EQ(lowbit::fallback(kernel_path::neondot), kernel_path::simd);
  EXPECT_EQ(lowbit::fallback(kernel_path::simd), kernel_path::scalar);
  EXPECT_EQ(lowbit::fallback(kernel_path::scalar), kernel_path::scalar);
  static_assert(std::is_base_of_v<lowbit::paths::avx512, lowbit::paths::avx512vnni>);
  static_assert(std::is_base_of_v<lowbit::paths::avx2, lowbit::paths::avx512>);
  static_assert(std::is_base_of_v<lowbit::paths::avx2, lowbit::paths::avxvnni>);
  static_assert(std::is_base_of_v<lowbit::paths::simd, lowbit::paths::neondot>);
  static_assert(std::is_base_of_v<lowbit::paths::scalar, lowbit::paths::simd>);
  for (kernel_path p : lowbit::all_paths) {
    // Every supported path dispatches to its own tag; the chain from it reaches scalar.
    if (lowbit::path_supported(p)) {
      EXPECT_EQ(lowbit::dispatch(p, [](auto tag) { return decltype(tag)::value; }), p) << lowbit::path_name(p);
    }
    kernel_path q = p;
    for (int steps = 0; steps < 6 && q != kernel_path::scalar; ++steps) q = lowbit::fallback(q);
    EXPECT_EQ(q, kernel_path::scalar) << lowbit::path_name(p);
  }
}

TEST(path, kernels_resolve_along_the_chain) {
  using lowbit::kernel_path;
  // simd has no GEMM kernel: it runs the scalar one. Every other path this build compiles has its
  // own (a kernel header whose #if names the wrong macro would silently fall back: this catches it).
  EXPECT_EQ(lowbit::kernels::gemm_kernel_path(kernel_path::simd), kernel_path::scalar);
  EXPECT_EQ(lowbit::kernels::gemm_kernel_path(kernel_path::scalar), kernel_path::scalar);
#if LOWBIT_HAVE_X86_PATHS
  for (kernel_path p : {kernel_path::avx2, kernel_path::avxvnni, kernel_path::avx512, kernel_path::avx512vnni})
    EXPECT_EQ(lowbit::kernels::gemm_kernel_path(p), p) << lowbit::path_name(p);
#endif
#if LOWBIT_HAVE_NEONDOT_PATH
  EXPECT_EQ(lowbit::kernels::gemm_kernel_path(kernel_path::neondot), kernel_path::neondot);
#endif
}

TEST(path, scoped_override_restores) {
  const lowbit::kernel_path before = lowbit::active_path();
  {
    lowbit::scoped_path guard(lowbit::kernel_path::scalar);
    EXPECT_EQ(lowbit::active_path(), lowbit::kernel_path::scalar);
  }
  EXPECT_EQ(lowbit::active_path(), before);
}

}  // namespace
