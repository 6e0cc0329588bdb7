// tests/support/paths.hpp: run a parameterized test once per kernel path this CPU (or emulation) has.
//
//   class my_test : public lowbit_test::path_test {};
//   TEST_P(my_test, agrees) { lowbit::isa p = GetParam(); ... }
//   LOWBIT_INSTANTIATE_FOR_PATHS(my_test);
//
// Each instance is named after its path (e.g. paths/my_test.agrees/avx2), and paths missing here
// are listed once so a reader sees what was not exercised.
#pragma once

#include <gtest/gtest.h>

#include <iostream>
#include <string>
#include <vector>

#include "lowbit/kernels/isa.hpp"

namespace lowbit_test {

inline std::vector<lowbit::isa> tested_paths() {
  static const std::vector<lowbit::isa> paths = [] {
    std::vector<lowbit::isa> out = lowbit::supported_isas();
    std::string missing;
    for (lowbit::isa p : lowbit::all_isas)
      if (!lowbit::isa_supported(p)) missing += std::string(" ") + lowbit::isa_name(p);
    if (!missing.empty())
      std::cout << "[ lowbit  ] paths not available on this machine, not tested here:" << missing << "\n";
    return out;
  }();
  return paths;
}

class path_test : public ::testing::TestWithParam<lowbit::isa> {};

inline std::string path_param_name(const ::testing::TestParamInfo<lowbit::isa>& info) {
  return lowbit::isa_name(info.param);
}

}  // namespace lowbit_test

#define LOWBIT_INSTANTIATE_FOR_PATHS(suite)                                                        \
  INSTANTIATE_TEST_SUITE_P(paths, suite, ::testing::ValuesIn(::lowbit_test::tested_paths()),     \
                           ::lowbit_test::path_param_name)
