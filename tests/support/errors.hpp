// tests/support/errors.hpp: the message of the exception a call throws, for tests that check it.
#pragma once

#include <exception>
#include <functional>
#include <string>

namespace lowbit_test {

/// The what() of the std::exception f throws, or "(no error)".
inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace lowbit_test
