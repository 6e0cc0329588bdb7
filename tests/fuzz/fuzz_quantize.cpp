// Fuzz target: quantize / dequantize with arbitrary shapes, axes, group sizes, formats, schemes,
// inf policies, values (NaN, Inf, subnormals, near FLT_MAX) and given or computed qparams.
//
// Properties checked: a bad input raises lowbit::error and nothing else; every kernel path agrees
// with the scalar reference bit for bit, on codes, qparams, dequantized values and on whether it
// throws; dequantized values are finite; with qparams from the data, finite inputs come back
// within half a step (plus the saturation at the ends the scale cap allows).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_input.hpp"
#include "lowbit/lowbit.hpp"

namespace {

using lowbit::index_t;
using lowbit_fuzz::require;

struct outcome {
  bool threw = false;
  std::string message;
  std::vector<std::uint8_t> codes;
  lowbit::qparams params;
  std::vector<float> back;
};

template <class Q>
outcome run_on(const Q& q, const std::vector<float>& x, const std::vector<index_t>& shape, const lowbit::qparams* given,
               lowbit::kernel_path path) {
  outcome o;
  const lowbit::context ctx = lowbit::context{}.with_path(path).with_threads(1);
  try {
    const auto t = given ? q.quantize(x.data(), shape, *given, ctx) : q.quantize(x.data(), shape, ctx);
    o.codes = t.data();
    o.params = t.params();
    o.back.resize(static_cast<std::size_t>(t.size()));
    t.dequantize_to(o.back.data(), ctx);
  } catch (const lowbit::error& e) {
    o.threw = true;
    o.message = e.what();
  }
  return o;
}

template <class F, class S, class G>
void run(lowbit_fuzz::input& in, const G& g) {
  const int rank = in.range(1, 3);
  std::vector<index_t> shape;
  index_t n = 1;
  for (int d = 0; d < rank; ++d) {
    shape.push_back(in.range(0, 9) + (in.flag() ? in.range(0, 40) : 0));
    n *= shape.back();
  }
  std::vector<float> x(static_cast<std::size_t>(n));
  const bool plain = in.flag();  // half the cases: finite values only, so that quantization happens
  for (float& v : x) v = plain ? in.finite_value() : in.value();
  const auto inf = in.flag() ? lowbit::inf_policy::saturate : lowbit::inf_policy::error;
  const lowbit::quantizer<F, S, G> q(g, inf);
  lowbit::qparams given;
  const bool use_given = in.flag();
  if (use_given) {
    const int slots = in.range(0, 12);
    for (int s = 0; s < slots; ++s) {
      given.scale.push_back(in.flag() ? std::fabs(in.finite_value()) + 1e-3f : in.value());
      given.zero_point.push_back(in.flag() ? lowbit::symmetric_zero_point<F>() : in.range(F::qmin - 2, F::qmax + 2));
    }
  }
  const outcome ref = run_on(q, x, shape, use_given ? &given : nullptr, lowbit::kernel_path::scalar);
  for (lowbit::kernel_path p : lowbit::supported_paths()) {
    const outcome o = run_on(q, x, shape, use_given ? &given : nullptr, p);
    require(o.threw == ref.threw, "paths disagree on whether the input is an error");
    if (o.threw) {
      require(o.message == ref.message, "paths report different errors");
      continue;
    }
    require(o.codes == ref.codes, "codes differ from the scalar path");
    require(o.params == ref.params, "qparams differ from the scalar path");
    require(o.back.empty() || std::memcmp(o.back.data(), ref.back.data(), sizeof(float) * o.back.size()) == 0,
            "dequantized values differ from the scalar path");
  }
  if (ref.threw) return;
  for (float v : ref.back) require(std::isfinite(v), "a dequantized value is not finite");
  if (!use_given && lowbit::granularity_desc(g).kind == lowbit::granularity_kind::tensor && !x.empty()) {
    const float s = ref.params.scale[0];
    const auto z = static_cast<float>(ref.params.zero_point[0]);
    const float lo = (static_cast<float>(F::qmin) - z) * s, hi = (static_cast<float>(F::qmax) - z) * s;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!std::isfinite(x[i])) continue;
      const float clamped = std::fmin(std::fmax(x[i], lo), hi);
      require(std::fabs(static_cast<double>(ref.back[i]) - clamped) <= 0.5 * s * 1.0001 + 1e-30,
              "a value inside the range came back more than half a step away");
    }
  }
}

template <class F, class S>
void granularities(lowbit_fuzz::input& in) {
  switch (in.range(0, 2)) {
    case 0: return run<F, S>(in, lowbit::per_tensor{});
    case 1: return run<F, S>(in, lowbit::per_channel(in.range(-4, 3)));
    default: {
      const int axis = in.range(-4, 3);
      return run<F, S>(in, lowbit::per_group(axis, in.range(-1, 9)));
    }
  }
}

template <class F>
void schemes(lowbit_fuzz::input& in) {
  if constexpr (std::is_same_v<F, lowbit::int8_narrow>) {
    granularities<F, lowbit::symmetric>(in);
  } else if (in.flag()) {
    granularities<F, lowbit::affine>(in);
  } else {
    granularities<F, lowbit::symmetric>(in);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  lowbit_fuzz::input in(data, size);
  switch (in.range(0, 7)) {
    case 0: schemes<lowbit::int8>(in); break;
    case 1: schemes<lowbit::uint8>(in); break;
    case 2: schemes<lowbit::int8_narrow>(in); break;
    case 3: schemes<lowbit::int4>(in); break;
    case 4: schemes<lowbit::uint4>(in); break;
    case 5: schemes<lowbit::int2>(in); break;
    case 6: schemes<lowbit::uint2>(in); break;
    default: schemes<lowbit::uint7>(in); break;
  }
  return 0;
}
