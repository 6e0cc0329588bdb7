// lowbit/kernels/gemm.hpp: every path's GEMM micro-kernel, found through the one dispatch table.
//
//   dispatch(path, [&](auto tag) { using K = decltype(kernels::gemm_kernel(tag)); ... });
//
// gemm_kernel is overloaded on the path tags (each kernels/gemm_<path>.hpp adds its own), so a path
// without a GEMM kernel of its own uses its nearest ancestor's: simd uses scalar's.
#pragma once

#include "lowbit/config.hpp"
#include "lowbit/kernels/gemm_avx2.hpp"
#include "lowbit/kernels/gemm_avx512.hpp"
#include "lowbit/kernels/gemm_avx512vnni.hpp"
#include "lowbit/kernels/gemm_contract.hpp"
#include "lowbit/kernels/gemm_neondot.hpp"
#include "lowbit/kernels/gemm_scalar.hpp"
#include "lowbit/runtime/path.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace kernels {

/// The weight layout the GEMM kernel of path p reads.
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
