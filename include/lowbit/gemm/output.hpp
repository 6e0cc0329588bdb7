// lowbit/gemm/output.hpp: the output stages (core/output_stages.hpp), their checks, and the reference arithmetic.
//
// The stage types are defined in core/output_stages.hpp, their arithmetic in
// kernels/gemm_scalar.hpp; this header gives the GEMM's users both, and the checks a stage passes
// before a GEMM runs it.
#pragma once

#include <cmath>
#include <cstdint>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/core/output_stages.hpp"
#include "lowbit/core/qparams.hpp"
#include "lowbit/kernels/gemm_scalar.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace detail {

inline void check_output(const output_int32&) {}
inline void check_output(const output_float& o) {
  if (std::isnan(o.lo) || std::isnan(o.hi) || o.lo > o.hi)
    fail("output clamp [", o.lo, ", ", o.hi, "] is empty or NaN");
}
template <class F>
void check_output(const output_requantized<F>& o) {
  check_output(o.pre);
  check_scale(o.scale, "requantize (output)");
  if (o.zero_point < F::qmin || o.zero_point > F::qmax)
    fail("requantize: output zero point ", o.zero_point, " is outside [", F::qmin, ", ", F::qmax, "]");
}

using kernels::scalar::store_output;

}  // namespace detail
LOWBIT_NAMESPACE_END
