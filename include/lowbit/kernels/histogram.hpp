// lowbit/kernels/histogram.hpp: histogram binning behind the one dispatch table (scalar reference, AVX2).
#pragma once

#include <cstdint>

#include "lowbit/config.hpp"
#include "lowbit/kernels/histogram_avx2.hpp"
#include "lowbit/kernels/histogram_scalar.hpp"
#include "lowbit/runtime/path.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace kernels {

inline void histc(paths::scalar, const float* x, index_t n, float lo, float hi, index_t bins,
                  std::uint32_t* counts) {
  scalar::histc(x, n, lo, hi, bins, counts);
}
#if LOWBIT_HAVE_X86_PATHS
inline void histc(paths::avx2, const float* x, index_t n, float lo, float hi, index_t bins,
                  std::uint32_t* counts) {
  // Short runs (per-channel slots of a few values) are not worth the AVX2 set-up.
  if (n >= 256) return avx2::histc(x, n, lo, hi, bins, counts);
  scalar::histc(x, n, lo, hi, bins, counts);
}
#endif

/// Adds the torch.histc counts of x[0, n) over [lo, hi] (lo < hi) to counts[0, bins).
inline void histc(kernel_path p, const float* x, index_t n, float lo, float hi, index_t bins,
                  std::uint32_t* counts) {
  dispatch(p, [&](auto tag) { histc(tag, x, n, lo, hi, bins, counts); });
}

}  // namespace kernels
LOWBIT_NAMESPACE_END
