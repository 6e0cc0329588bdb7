// lowbit/kernels/histogram_scalar.hpp: histogram binning, the reference (torch.histc's arithmetic).
//
// bin(x) = (index)((x - lo) * bins / (hi - lo)) in float32, the last bin closed on the right;
// values outside [lo, hi] (and NaN) are not counted. Every path counts exactly the same bins.
#pragma once

#include <cstdint>

#include "lowbit/config.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace kernels {
namespace scalar {

inline void histc(const float* x, index_t n, float lo, float hi, index_t bins,
                  std::uint32_t* counts) noexcept {
  const auto nb = static_cast<float>(bins);
  const float width = hi - lo;
  for (index_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (!(v >= lo && v <= hi)) continue;
    auto pos = static_cast<index_t>((v - lo) * nb / width);
    pos = pos >= bins ? bins - 1 : pos;
    ++counts[pos];
  }
}

}  // namespace scalar
}  // namespace kernels
LOWBIT_NAMESPACE_END
