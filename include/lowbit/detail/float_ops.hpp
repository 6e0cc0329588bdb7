// lowbit/detail/float_ops.hpp: float arithmetic that rounds where PyTorch's tensor arithmetic rounds.
//
// Compilers may fuse a multiply and a following add into one FMA (GCC does by default when FMA is
// available, e.g. with -march=native), which rounds once instead of twice. PyTorch evaluates such
// expressions as separate tensor operations, each rounded to float32. Code that must reproduce
// PyTorch bit for bit passes products through no_fuse(), which makes the product a value the
// compiler cannot see through, so it is rounded before it is used.
#pragma once

#include "lowbit/config.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace detail {

inline float no_fuse(float x) noexcept {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__SSE__))
  __asm__("" : "+x"(x));
  return x;
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)
  __asm__("" : "+w"(x));
  return x;
#else
  volatile float v = x;
  return v;
#endif
}

/// a * b, rounded to float before any later use.
inline float mul(float a, float b) noexcept { return no_fuse(a * b); }

}  // namespace detail
LOWBIT_NAMESPACE_END
