// CPU feature detection, path names, and the LOWBIT_ISA override.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "lowbit/lowbit.hpp"

namespace {

// Re-reads LOWBIT_ISA on the next active_isa() call.
void forget_active_isa() { lowbit::detail::isa_override().store(-1); }

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

TEST(isa, detection_agrees_with_the_kernel_view) {
  const std::set<std::string> flags = proc_cpuinfo_flags();
  if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags line for this architecture";
  const lowbit::cpu_features& f = lowbit::cpu();
#if LOWBIT_ARCH_X86_64
  EXPECT_EQ(f.avx2, flags.count("avx2") && flags.count("fma") && flags.count("bmi2") && flags.count("f16c"));
  EXPECT_EQ(f.avx512f, flags.count("avx512f") == 1);
  EXPECT_EQ(f.avx512bw, flags.count("avx512bw") == 1);
  EXPECT_EQ(f.avx512vnni, flags.count("avx512_vnni") == 1);
#elif LOWBIT_ARCH_AARCH64
  EXPECT_TRUE(f.neon);
  EXPECT_EQ(f.neon_dot, flags.count("asimddp") == 1);
#endif
}

TEST(isa, names_round_trip) {
  for (lowbit::isa p : lowbit::all_isas) {
    lowbit::isa parsed = lowbit::isa::scalar;
    ASSERT_TRUE(lowbit::parse_isa(lowbit::isa_name(p), parsed)) << lowbit::isa_name(p);
    EXPECT_EQ(parsed, p);
  }
  lowbit::isa out = lowbit::isa::scalar;
  EXPECT_FALSE(lowbit::parse_isa("avx1024", out));
  EXPECT_FALSE(lowbit::parse_isa("", out));
  EXPECT_EQ(lowbit::isa_description(lowbit::isa::simd).rfind("simd(", 0), 0u);
}

TEST(isa, scalar_and_simd_always_supported_and_best_is_supported) {
  EXPECT_TRUE(lowbit::isa_supported(lowbit::isa::scalar));
  EXPECT_TRUE(lowbit::isa_supported(lowbit::isa::simd));
  EXPECT_TRUE(lowbit::isa_supported(lowbit::best_isa()));
  for (lowbit::isa p : lowbit::supported_isas())
    EXPECT_LE(static_cast<int>(p), static_cast<int>(lowbit::best_isa()));
#if LOWBIT_ARCH_X86_64
  EXPECT_FALSE(lowbit::isa_supported(lowbit::isa::neon_dot));
#else
  EXPECT_FALSE(lowbit::isa_supported(lowbit::isa::avx2));
#endif
}

TEST(isa, environment_override) {
  forget_active_isa();
  ::setenv("LOWBIT_ISA", "scalar", 1);
  EXPECT_EQ(lowbit::active_isa(), lowbit::isa::scalar);
  EXPECT_EQ(lowbit::active_isa_name(), "scalar");

  forget_active_isa();
  ::setenv("LOWBIT_ISA", "not-a-path", 1);
  try {
    (void)lowbit::active_isa();
    FAIL() << "an unknown LOWBIT_ISA must be an error";
  } catch (const lowbit::error& e) {
    EXPECT_NE(std::string(e.what()).find("not-a-path"), std::string::npos) << e.what();
  }

  for (lowbit::isa p : lowbit::all_isas) {
    if (lowbit::isa_supported(p)) continue;
    forget_active_isa();
    ::setenv("LOWBIT_ISA", lowbit::isa_name(p), 1);
    EXPECT_THROW((void)lowbit::active_isa(), lowbit::error) << lowbit::isa_name(p);
    EXPECT_THROW(lowbit::set_isa(p), lowbit::error);
  }

  forget_active_isa();
  ::unsetenv("LOWBIT_ISA");
  EXPECT_EQ(lowbit::active_isa(), lowbit::best_isa());
}

TEST(isa, scoped_override_restores) {
  const lowbit::isa before = lowbit::active_isa();
  {
    lowbit::scoped_isa guard(lowbit::isa::scalar);
    EXPECT_EQ(lowbit::active_isa(), lowbit::isa::scalar);
  }
  EXPECT_EQ(lowbit::active_isa(), before);
}

}  // namespace
