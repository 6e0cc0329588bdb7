// lowbit/core/error.hpp: the one exception type lowbit throws for bad input at its API boundary.
#pragma once

#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>

#include "lowbit/config.hpp"

namespace lowbit {

/// Thrown (through LOWBIT_THROW) when input data or arguments cannot be processed: non-finite
/// values, wrong axis, qparams of the wrong length, sizes that do not divide, K beyond the
/// accumulator bound. The message names the tensor, axis, index or value at fault. An operation
/// that throws leaves its inputs and any output object it was given unchanged.
///
/// The class has no code that depends on the instruction set, so it lives outside the ABI
/// namespace: an uncaught one reads "lowbit::error" in std::terminate's message.
class error : public std::runtime_error {
 public:
  explicit error(const std::string& what) : std::runtime_error(what) {}
};

}  // namespace lowbit

LOWBIT_NAMESPACE_BEGIN
namespace detail {

/// Builds an error message from streamable parts: concat("axis ", 3, " out of range").
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  out.precision(9);
  (out << ... << parts);
  return out.str();
}

template <class... Parts>
[[noreturn]] void fail(const Parts&... parts) {
  LOWBIT_THROW(concat("lowbit: ", parts...));
  std::abort();  // only reached if a user-defined LOWBIT_THROW returns
}

}  // namespace detail
LOWBIT_NAMESPACE_END
