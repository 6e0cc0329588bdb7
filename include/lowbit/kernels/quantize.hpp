// lowbit/kernels/quantize.hpp: run-time dispatch of the elementwise kernels (quantize, dequantize, min/max).
//
// Each function takes the path explicitly; the layers above pass active_isa(). A path without its
// own elementwise kernel uses the one below it (avx512_vnni -> avx512, neon_dot -> simd).
#pragma once

#include <cstdint>
#include <string>

#include "lowbit/config.hpp"
#include "lowbit/kernels/isa.hpp"
#include "lowbit/kernels/quantize_avx2.hpp"
#include "lowbit/kernels/quantize_avx512.hpp"
#include "lowbit/kernels/quantize_scalar.hpp"
#include "lowbit/kernels/quantize_simd.hpp"

LOWBIT_NAMESPACE_BEGIN

/// Human-readable name of a path, with the instruction set behind `simd`: "simd(sse2)".
inline std::string isa_description(isa p) {
  if (p == isa::simd) return std::string("simd(") + kernels::simd::arch_name() + ")";
  return isa_name(p);
}

/// The name of the path lowbit's operations use now, e.g. "avx512vnni" or "simd(arm64+neon)".
inline std::string active_isa_name() { return isa_description(active_isa()); }

namespace kernels {

#if LOWBIT_HAVE_X86_PATHS
#define LOWBIT_DISPATCH_X86(...)                                                                   \
  case isa::avx512:                                                                                \
  case isa::avx512_vnni: return avx512::__VA_ARGS__;                                               \
  case isa::avx2: return avx2::__VA_ARGS__;
#else
#define LOWBIT_DISPATCH_X86(...)
#endif

// `path` picks the namespace the call (the variadic part, which may hold template commas) goes to.
#define LOWBIT_DISPATCH_ELEMENTWISE(path, ...)                                                     \
  switch (path) {                                                                                  \
    LOWBIT_DISPATCH_X86(__VA_ARGS__)                                                               \
    case isa::simd:                                                                                \
    case isa::neon_dot: return simd::__VA_ARGS__;                                                  \
    default: return scalar::__VA_ARGS__;                                                           \
  }

template <class F, class Rounding>
bool quantize(isa path, const float* x, index_t n, float factor, std::int32_t zp, inf_policy inf,
              std::uint8_t* out) noexcept {
  LOWBIT_DISPATCH_ELEMENTWISE(path, quantize<F, Rounding>(x, n, factor, zp, inf, out))
}

template <class F, class Rounding>
bool quantize_vec(isa path, const float* x, index_t n, const float* factors,
                  const std::int32_t* zps, inf_policy inf, std::uint8_t* out) noexcept {
  LOWBIT_DISPATCH_ELEMENTWISE(path,
                              quantize_vec<F, Rounding>(x, n, factors, zps, inf, out))
}

template <class F>
void dequantize(isa path, const std::uint8_t* in, index_t n, float scale, std::int32_t zp,
                float* out) noexcept {
  LOWBIT_DISPATCH_ELEMENTWISE(path, dequantize<F>(in, n, scale, zp, out))
}

template <class F>
void dequantize_vec(isa path, const std::uint8_t* in, index_t n, const float* scales,
                    const std::int32_t* zps, float* out) noexcept {
  LOWBIT_DISPATCH_ELEMENTWISE(path, dequantize_vec<F>(in, n, scales, zps, out))
}

inline bool minmax(isa path, const float* x, index_t n, float& mn, float& mx) noexcept {
  LOWBIT_DISPATCH_ELEMENTWISE(path, minmax(x, n, mn, mx))
}

inline bool minmax_vec(isa path, const float* x, index_t n, float* mins, float* maxs) noexcept {
  LOWBIT_DISPATCH_ELEMENTWISE(path, minmax_vec(x, n, mins, maxs))
}

#undef LOWBIT_DISPATCH_ELEMENTWISE
#undef LOWBIT_DISPATCH_X86

}  // namespace kernels
LOWBIT_NAMESPACE_END
