// lowbit/kernels/elementwise_simd.hpp: the elementwise kernels in xsimd, at the compile-time instruction set.
//
// This is the `simd` path: SSE2 (or whatever -m flags the translation unit has) on x86-64 and NEON
// on AArch64. It follows the conventions of kernels/elementwise_scalar.hpp bit for bit: the float
// work is vectorized, the narrowing to codes and the bit packing reuse the scalar helpers.
#pragma once

#include <cstdint>
#include <limits>

#include "lowbit/config.hpp"
#include "lowbit/kernels/elementwise_scalar.hpp"

#if LOWBIT_ARCH_X86_64 || LOWBIT_ARCH_AARCH64
#define LOWBIT_HAVE_XSIMD_PATH 1
#include <xsimd/xsimd.hpp>
#else
#define LOWBIT_HAVE_XSIMD_PATH 0
#endif

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace simd {

#if LOWBIT_HAVE_XSIMD_PATH

using fbatch = xsimd::batch<float>;
using ibatch = xsimd::batch<std::int32_t>;
inline constexpr index_t lanes = static_cast<index_t>(fbatch::size);

/// The xsimd architecture this path was compiled for ("sse2", "avx2", "arm64+neon", ...).
inline const char* arch_name() noexcept { return xsimd::default_arch::name(); }

/// IEEE float division. xsimd 8.1's operator/ for float on AArch64 is a reciprocal estimate
/// refined by two Newton steps, which is not correctly rounded and would break true_divide's
/// bit-exactness; vdivq_f32 is.
inline fbatch exact_div(const fbatch& a, const fbatch& b) noexcept {
#if LOWBIT_ARCH_AARCH64
  return fbatch(vdivq_f32(a, b));
#else
  return a / b;
#endif
}

template <class F, class Rounding>
bool quantize(const float* LOWBIT_RESTRICT x, index_t n, float factor, std::int32_t zp,
              inf_policy inf, std::uint8_t* LOWBIT_RESTRICT out) noexcept {
  const fbatch vf(factor), lo(static_cast<float>(F::qmin - zp)), hi(static_cast<float>(F::qmax - zp));
  const fbatch limit(finite_limit(inf));
  const ibatch vzp(zp);
  auto bad = fbatch(0.0f) != fbatch(0.0f);
  alignas(64) std::int32_t codes[lanes];
  index_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const fbatch v = fbatch::load_unaligned(x + i);
    bad = bad | !(xsimd::abs(v) <= limit);
    fbatch r = Rounding::divides ? exact_div(v, vf) : v * vf;
    r = xsimd::min(xsimd::max(r, lo), hi);
    (xsimd::nearbyint_as_int(r) + vzp).store_aligned(codes);
    for (index_t j = 0; j < lanes; ++j) scalar::store_code<F>(out, i + j, codes[j]);
  }
  bool ok = !xsimd::any(bad);
  for (; i < n; ++i) {
    ok &= std::fabs(x[i]) <= finite_limit(inf);
    scalar::store_code<F>(out, i, scalar::quantize_value<F, Rounding>(x[i], factor, zp));
  }
  return ok;
}

template <class F, class Rounding>
bool quantize_vec(const float* LOWBIT_RESTRICT x, index_t n, const float* factors,
                  const std::int32_t* zps, inf_policy inf,
                  std::uint8_t* LOWBIT_RESTRICT out) noexcept {
  const fbatch limit(finite_limit(inf));
  const ibatch vqmin(F::qmin), vqmax(F::qmax);
  auto bad = fbatch(0.0f) != fbatch(0.0f);
  alignas(64) std::int32_t codes[lanes];
  index_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const fbatch v = fbatch::load_unaligned(x + i);
    const fbatch vf = fbatch::load_unaligned(factors + i);
    const ibatch vzp = ibatch::load_unaligned(zps + i);
    bad = bad | !(xsimd::abs(v) <= limit);
    fbatch r = Rounding::divides ? exact_div(v, vf) : v * vf;
    r = xsimd::min(xsimd::max(r, xsimd::to_float(vqmin - vzp)), xsimd::to_float(vqmax - vzp));
    (xsimd::nearbyint_as_int(r) + vzp).store_aligned(codes);
    for (index_t j = 0; j < lanes; ++j) scalar::store_code<F>(out, i + j, codes[j]);
  }
  bool ok = !xsimd::any(bad);
  for (; i < n; ++i) {
    ok &= std::fabs(x[i]) <= finite_limit(inf);
    scalar::store_code<F>(out, i, scalar::quantize_value<F, Rounding>(x[i], factors[i], zps[i]));
  }
  return ok;
}

template <class F>
void dequantize(const std::uint8_t* LOWBIT_RESTRICT in, index_t n, float scale, std::int32_t zp,
                float* LOWBIT_RESTRICT out) noexcept {
  const fbatch vs(scale);
  const ibatch vzp(zp);
  alignas(64) std::int32_t codes[lanes];
  index_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    for (index_t j = 0; j < lanes; ++j) codes[j] = scalar::load_code<F>(in, i + j);
    (xsimd::to_float(ibatch::load_aligned(codes) - vzp) * vs).store_unaligned(out + i);
  }
  for (; i < n; ++i) out[i] = static_cast<float>(scalar::load_code<F>(in, i) - zp) * scale;
}

template <class F>
void dequantize_vec(const std::uint8_t* LOWBIT_RESTRICT in, index_t n, const float* scales,
                    const std::int32_t* zps, float* LOWBIT_RESTRICT out) noexcept {
  alignas(64) std::int32_t codes[lanes];
  index_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    for (index_t j = 0; j < lanes; ++j) codes[j] = scalar::load_code<F>(in, i + j);
    const ibatch q = ibatch::load_aligned(codes) - ibatch::load_unaligned(zps + i);
    (xsimd::to_float(q) * fbatch::load_unaligned(scales + i)).store_unaligned(out + i);
  }
  for (; i < n; ++i) out[i] = static_cast<float>(scalar::load_code<F>(in, i) - zps[i]) * scales[i];
}

inline bool minmax(const float* x, index_t n, float& mn, float& mx) noexcept {
  const fbatch limit(std::numeric_limits<float>::max());
  fbatch lo(mn), hi(mx);
  auto bad = fbatch(0.0f) != fbatch(0.0f);
  index_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const fbatch v = fbatch::load_unaligned(x + i);
    bad = bad | !(xsimd::abs(v) <= limit);
    lo = xsimd::min(lo, v);
    hi = xsimd::max(hi, v);
  }
  alignas(64) float l[lanes], h[lanes];
  lo.store_aligned(l);
  hi.store_aligned(h);
  float a = mn, b = mx;
  for (index_t j = 0; j < lanes; ++j) {
    a = l[j] < a ? l[j] : a;
    b = h[j] > b ? h[j] : b;
  }
  mn = a;
  mx = b;
  const bool ok = scalar::minmax(x + i, n - i, mn, mx);
  return ok && !xsimd::any(bad);
}

inline bool minmax_vec(const float* LOWBIT_RESTRICT x, index_t n, float* LOWBIT_RESTRICT mins,
                       float* LOWBIT_RESTRICT maxs) noexcept {
  const fbatch limit(std::numeric_limits<float>::max());
  auto bad = fbatch(0.0f) != fbatch(0.0f);
  index_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const fbatch v = fbatch::load_unaligned(x + i);
    bad = bad | !(xsimd::abs(v) <= limit);
    xsimd::min(fbatch::load_unaligned(mins + i), v).store_unaligned(mins + i);
    xsimd::max(fbatch::load_unaligned(maxs + i), v).store_unaligned(maxs + i);
  }
  const bool ok = scalar::minmax_vec(x + i, n - i, mins + i, maxs + i);
  return ok && !xsimd::any(bad);
}

#else  // no xsimd architecture: the simd path is the scalar one

inline const char* arch_name() noexcept { return "none"; }
using scalar::dequantize;
using scalar::dequantize_vec;
using scalar::minmax;
using scalar::minmax_vec;
using scalar::quantize;
using scalar::quantize_vec;

#endif

}  // namespace simd
}  // namespace kernels
LOWBIT_NAMESPACE_END
