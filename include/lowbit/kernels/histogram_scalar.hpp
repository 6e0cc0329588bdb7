// lowbit/kernels/histogram_scalar.hpp: histogram binning, the reference (torch.histc's arithmetic).
//
// bin(x) = (index)((x - lo) * bins / (hi - lo)) in float32, the last bin closed on the right;
// values outside [lo, hi] (and NaN) are not counted. Every path counts exactly the same bins.
// Ranges too wide for that float arithmetic are binned in double (see histc_float_safe).
#pragma once

#include <cstdint>
#include <limits>

#include "lowbit/config.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace scalar {

/// True when (x - lo) * bins stays finite in float32 for every x in [lo, hi] (the product is
/// monotonic in x, so checking the widest one is enough); beyond that (ranges wider than about
/// FLT_MAX / bins, 1.7e35 for 2048 bins) the bins are computed in double. The product itself is
/// tested: FLT_MAX / bins rounds, and a width just below it can still overflow when multiplied back.
inline bool histc_float_safe(float lo, float hi, index_t bins) noexcept {
  const float width = hi - lo;
  return width <= std::numeric_limits<float>::max() && width * static_cast<float>(bins) <= std::numeric_limits<float>::max();
}

inline void histc(const float* x, index_t n, float lo, float hi, index_t bins,
                  std::uint32_t* counts) noexcept {
  if (!histc_float_safe(lo, hi, bins)) {
    const double dlo = lo, dwidth = static_cast<double>(hi) - dlo, dbins = static_cast<double>(bins);
    for (index_t i = 0; i < n; ++i) {
      const float v = x[i];
      if (!(v >= lo && v <= hi)) continue;
      const double f = (v - dlo) * dbins / dwidth;
      ++counts[f < dbins ? static_cast<index_t>(f) : bins - 1];
    }
    return;
  }
  const auto nb = static_cast<float>(bins);
  const float width = hi - lo;
  for (index_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (!(v >= lo && v <= hi)) continue;
    const float f = (v - lo) * nb / width;  // in [0, bins]: the range check above keeps it finite
    ++counts[f < nb ? static_cast<index_t>(f) : bins - 1];
  }
}

}  // namespace scalar
}  // namespace kernels
LOWBIT_NAMESPACE_END
