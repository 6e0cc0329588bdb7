// lowbit/kernels/gemm.hpp: every path's GEMM micro-kernel, found through the one dispatch table.
//
//   dispatch(path, [&](auto tag) { using K = kernels::gemm_kernel_for<F>(tag) ... });
//
// gemm_kernel is overloaded on the path tags (each kernels/gemm_<path>.hpp adds its own), so a path
// without a GEMM kernel of its own uses its nearest ancestor's: simd uses scalar's. The activation
// format can pick a kernel too, as a value range: codes known to lie in [0, 127] (the uint7
// format) let the avx2 path use the 7-bit vpmaddubsw kernel (gemm_kernel_7bit).
#pragma once

#include "lowbit/config.hpp"
#include "lowbit/kernels/gemm_avx2.hpp"
#include "lowbit/kernels/gemm_avx512.hpp"
#include "lowbit/kernels/gemm_avx512vnni.hpp"
#include "lowbit/kernels/gemm_avxvnni.hpp"
#include "lowbit/kernels/gemm_contract.hpp"
#include "lowbit/kernels/gemm_neondot.hpp"
#include "lowbit/kernels/gemm_scalar.hpp"
#include "lowbit/runtime/path.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace kernels {

/// The kernel for 7-bit activations on a path: its own where it has one (avx2), else the path's
/// general kernel (which is exact for them too).
template <class Tag>
auto gemm_kernel_7bit(Tag tag) -> decltype(gemm_kernel(tag));

/// True for activation formats whose codes lie in [0, 127].
template <class F>
inline constexpr bool is_7bit_v = F::qmin >= 0 && F::qmax <= 127;

/// The micro-kernel type for activations of format F on the path of `tag`.
template <class F, class Tag>
auto gemm_kernel_for(Tag tag) {
  if constexpr (is_7bit_v<F>) {
    return decltype(gemm_kernel_7bit(tag)){};
  } else {
    return decltype(gemm_kernel(tag)){};
  }
}

/// The weight layout the GEMM kernel of path p reads (for activations of any format: the 7-bit
/// kernels read their path's layout).
inline weight_layout gemm_layout(kernel_path p) {
  return dispatch(p, [](auto tag) {
    using K = decltype(gemm_kernel(tag));
    return weight_layout{K::nr, K::kr};
  });
}

/// The path whose GEMM kernel runs for path p (p itself, or the ancestor whose kernel it uses).
inline kernel_path gemm_kernel_path(kernel_path p) {
  return dispatch(p, [](auto tag) { return decltype(gemm_kernel(tag))::path; });
}

}  // namespace kernels
LOWBIT_NAMESPACE_END
