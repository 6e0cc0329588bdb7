// lowbit/kernels/lowbit_gemm.hpp: every path's sub-byte weight micro-kernel, found through the one dispatch table.
//
//   dispatch(path, [&](auto tag) { using K = decltype(kernels::lowbit_kernel(tag)); ... });
//
// lowbit_kernel is overloaded on the path tags, so a path without a kernel of its own uses its
// nearest ancestor's (simd uses scalar's). kernels/lowbit_gemm_contract.hpp states the contract.
#pragma once

#include "lowbit/config.hpp"
#include "lowbit/kernels/lowbit_gemm_avx2.hpp"
#include "lowbit/kernels/lowbit_gemm_avx512.hpp"
#include "lowbit/kernels/lowbit_gemm_contract.hpp"
#include "lowbit/kernels/lowbit_gemm_neondot.hpp"
#include "lowbit/kernels/lowbit_gemm_scalar.hpp"
#include "lowbit/runtime/path.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace kernels {

/// The path whose sub-byte kernel runs for path p.
inline kernel_path lowbit_kernel_path(kernel_path p) {
  return dispatch(p, [](auto tag) { return decltype(lowbit_kernel(tag))::path; });
}

}  // namespace kernels
LOWBIT_NAMESPACE_END
