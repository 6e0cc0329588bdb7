// lowbit/kernels/histogram.hpp: run-time dispatch of histogram binning (scalar reference, AVX2).
#pragma once

#include <cstdint>

#include "lowbit/config.hpp"
#include "lowbit/kernels/histogram_avx2.hpp"
#include "lowbit/kernels/histogram_scalar.hpp"
#include "lowbit/kernels/isa.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace kernels {

/// Adds the torch.histc counts of x[0, n) over [lo, hi] (lo < hi) to counts[0, bins).
inline void histc(isa path, const float* x, index_t n, float lo, float hi, index_t bins,
                  std::uint32_t* counts) {
#if LOWBIT_HAVE_X86_PATHS
  // Short runs (per-channel slots of a few values) are not worth the AVX2 set-up.
  if ((path == isa::avx2 || path == isa::avx512 || path == isa::avx512_vnni) && n >= 256)
    return avx2::histc(x, n, lo, hi, bins, counts);
#endif
  (void)path;
  scalar::histc(x, n, lo, hi, bins, counts);
}

}  // namespace kernels
LOWBIT_NAMESPACE_END
