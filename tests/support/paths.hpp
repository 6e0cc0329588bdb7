// tests/support/paths.hpp: run a parameterized test once per kernel path this CPU (or emulation) has.
//
//   class my_test : public lowbit_test::path_test {};
//   TEST_P(my_test, agrees) { lowbit::kernel_path p = GetParam(); ... }
//   LOWBIT_INSTANTIATE_FOR_PATHS(my_test);
//
// Each instance is named after its path (e.g. paths/my_test.agrees/avx2), and paths missing here
// are listed once so a reader sees what was not exercised.
#pragma once

#include <gtest/gtest.h>

#include <iostream>
#include <string>
#include <vector>

#include "lowbit/runtime/path.hpp"

namespace lowbit_test {

inline std::vector<lowbit::kernel_path> tested_paths() {
  static const std::vector<lowbit::kernel_path> paths = [] {
    std::vector<lowbit::kernel_path> out = lowbit::supported_paths();
    std::string missing;
    for (lowbit::kernel_path p : lowbit::all_paths)
      if (!lowbit::path_supported(p)) missing += std::string(" ") + lowbit::path_name(p);
    if (!missing.empty())
      std::cout << "[ lowbit  ] paths not available on this machine, not tested here:" << missing << "\n";
    return out;
  }();
  return paths;
}

class path_test : public ::testing::TestWithParam<lowbit::kernel_path> {};

inline std::string path_param_name(const ::testing::TestParamInfo<lowbit::kernel_path>& info) {
  return lowbit::path_name(info.param);
}

}  // namespace lowbit_test

#define LOWBIT_INSTANTIATE_FOR_PATHS(suite)                                                        \
  INSTANTIATE_TEST_SUITE_P(paths, suite, ::testing::ValuesIn(::lowbit_test::tested_paths()),     \
                           ::lowbit_test::path_param_name)
