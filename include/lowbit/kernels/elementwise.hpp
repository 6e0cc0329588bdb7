// lowbit/kernels/elementwise.hpp: the elementwise kernels (quantize, dequantize, min/max) behind the one dispatch table.
//
// Each path's kernels live in kernels/elementwise_<path>.hpp, in namespace kernels::<path>. Here
// they are overloaded on the path tags (runtime/path.hpp), so a path without its own kernel uses
// its nearest ancestor's (avx512vnni -> avx512, avxvnni -> avx2, neondot -> simd), and the
// functions taking a kernel_path run them through lowbit::dispatch.
#pragma once

#include <cstdint>
#include <string>

#include "lowbit/config.hpp"
#include "lowbit/kernels/elementwise_avx2.hpp"
#include "lowbit/kernels/elementwise_avx512.hpp"
#include "lowbit/kernels/elementwise_scalar.hpp"
#include "lowbit/kernels/elementwise_simd.hpp"
#include "lowbit/runtime/path.hpp"

LOWBIT_NAMESPACE_BEGIN

/// Human-readable name of a path, with the instruction set behind `simd`: "simd(sse2)".
inline std::string path_description(kernel_path p) {
  if (p == kernel_path::simd) return std::string("simd(") + kernels::simd::arch_name() + ")";
  return path_name(p);
}

/// The name of the path lowbit's operations use by default, e.g. "avx512vnni" or "simd(arm64+neon)".
inline std::string active_path_name() { return path_description(active_path()); }

namespace kernels {

// Overloads on the path tags, forwarding to the path's namespace.
#define LOWBIT_ELEMENTWISE_OVERLOADS(ns)                                                           \
  template <class F, class Rounding>                                                               \
  bool quantize(paths::ns, const float* x, index_t n, float factor, std::int32_t zp, inf_policy inf, \
                std::uint8_t* out) noexcept {                                                      \
    return ns::quantize<F, Rounding>(x, n, factor, zp, inf, out);                                  \
  }                                                                                                \
  template <class F, class Rounding>                                                               \
  bool quantize_vec(paths::ns, const float* x, index_t n, const float* factors,                   \
                    const std::int32_t* zps, inf_policy inf, std::uint8_t* out) noexcept {         \
    return ns::quantize_vec<F, Rounding>(x, n, factors, zps, inf, out);                            \
  }                                                                                                \
  template <class F>                                                                               \
  void dequantize(paths::ns, const std::uint8_t* in, index_t n, float scale, std::int32_t zp,     \
                  float* out) noexcept {                                                           \
    ns::dequantize<F>(in, n, scale, zp, out);                                                      \
  }                                                                                                \
  template <class F>                                                                               \
  void dequantize_vec(paths::ns, const std::uint8_t* in, index_t n, const float* scales,          \
                      const std::int32_t* zps, float* out) noexcept {                              \
    ns::dequantize_vec<F>(in, n, scales, zps, out);                                                \
  }                                                                                                \
  inline bool minmax(paths::ns, const float* x, index_t n, float& mn, float& mx) noexcept {        \
    return ns::minmax(x, n, mn, mx);                                                               \
  }                                                                                                \
  inline bool minmax_vec(paths::ns, const float* x, index_t n, float* mins, float* maxs) noexcept { \
    return ns::minmax_vec(x, n, mins, maxs);                                                       \
  }

LOWBIT_ELEMENTWISE_OVERLOADS(scalar)
LOWBIT_ELEMENTWISE_OVERLOADS(simd)
#if LOWBIT_HAVE_X86_PATHS
LOWBIT_ELEMENTWISE_OVERLOADS(avx2)
LOWBIT_ELEMENTWISE_OVERLOADS(avx512)
#endif
#undef LOWBIT_ELEMENTWISE_OVERLOADS

/// quantize: codes of x[0, n) with one (factor, zero point); false if x held a value the inf
/// policy rejects (kernels/elementwise_scalar.hpp states the contract every path follows).
template <class F, class Rounding>
bool quantize(kernel_path p, const float* x, index_t n, float factor, std::int32_t zp, inf_policy inf,
              std::uint8_t* out) noexcept {
  return dispatch(p, [&](auto tag) { return quantize<F, Rounding>(tag, x, n, factor, zp, inf, out); });
}

/// quantize_vec: element i with its own (factors[i], zps[i]).
template <class F, class Rounding>
bool quantize_vec(kernel_path p, const float* x, index_t n, const float* factors, const std::int32_t* zps,
                  inf_policy inf, std::uint8_t* out) noexcept {
  return dispatch(p, [&](auto tag) { return quantize_vec<F, Rounding>(tag, x, n, factors, zps, inf, out); });
}

template <class F>
void dequantize(kernel_path p, const std::uint8_t* in, index_t n, float scale, std::int32_t zp,
                float* out) noexcept {
  dispatch(p, [&](auto tag) { dequantize<F>(tag, in, n, scale, zp, out); });
}

template <class F>
void dequantize_vec(kernel_path p, const std::uint8_t* in, index_t n, const float* scales,
                    const std::int32_t* zps, float* out) noexcept {
  dispatch(p, [&](auto tag) { dequantize_vec<F>(tag, in, n, scales, zps, out); });
}

inline bool minmax(kernel_path p, const float* x, index_t n, float& mn, float& mx) noexcept {
  return dispatch(p, [&](auto tag) { return minmax(tag, x, n, mn, mx); });
}

inline bool minmax_vec(kernel_path p, const float* x, index_t n, float* mins, float* maxs) noexcept {
  return dispatch(p, [&](auto tag) { return minmax_vec(tag, x, n, mins, maxs); });
}

}  // namespace kernels
LOWBIT_NAMESPACE_END
