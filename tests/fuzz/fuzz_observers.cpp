// Fuzz target: every observer on an arbitrary sequence of batches (shapes, NaN, Inf, extremes,
// growing and shrinking ranges, changing channel counts), merges, then every calibrator with
// several quantizers.
//
// Properties checked: bad batches raise lowbit::error and leave the observer as it was (its
// range does not change); a calibrator's range is empty (nothing seen) or min <= max and finite;
// the quantizer turns every such range into qparams without error; the observed range never
// holds an infinity or NaN.
#include <cmath>
#include <cstdint>
#include <vector>

#include "fuzz_input.hpp"
#include "lowbit/lowbit.hpp"

namespace {

using lowbit::index_t;
using lowbit_fuzz::require;

void check_range(const lowbit::range& r) {
  for (index_t s = 0; s < r.size(); ++s) {
    const float lo = r.min[static_cast<std::size_t>(s)], hi = r.max[static_cast<std::size_t>(s)];
    const bool empty = lo == std::numeric_limits<float>::infinity() && hi == -std::numeric_limits<float>::infinity();
    require(empty || (std::isfinite(lo) && std::isfinite(hi) && lo <= hi), "a range is neither empty nor finite and ordered");
  }
}

template <class Q, class O, class C>
void calibrate_with(const Q& q, const O& o, const C& c) {
  const lowbit::range r = c.choose(q, o);
  check_range(r);
  (void)q.qparams_for(r);  // must not throw for a valid range
}

template <class G, class O>
void calibrators(const O& o, const G& g) {
  calibrate_with(lowbit::quantizer<lowbit::uint8, lowbit::affine, G>(g), o, lowbit::minmax_calibrator{});
  calibrate_with(lowbit::quantizer<lowbit::int8, lowbit::symmetric, G>(g), o, lowbit::minmax_calibrator{});
  if constexpr (std::is_same_v<O, lowbit::histogram_observer<G>>) {
    const lowbit::quantizer<lowbit::uint8, lowbit::affine, G> qa(g);
    const lowbit::quantizer<lowbit::int4, lowbit::symmetric, G> qs(g);
    const lowbit::quantizer<lowbit::uint2, lowbit::affine, G> q2(g);
    calibrate_with(qa, o, lowbit::percentile_calibrator{});
    calibrate_with(qs, o, lowbit::percentile_calibrator(99.0));
    calibrate_with(qa, o, lowbit::entropy_calibrator{});
    calibrate_with(qs, o, lowbit::entropy_calibrator{});
    calibrate_with(qa, o, lowbit::mse_calibrator{});
    calibrate_with(q2, o, lowbit::mse_calibrator{});
    calibrate_with(qs, o, lowbit::mse_calibrator{});
    calibrate_with(qa, o, lowbit::l2_search_calibrator{});
  }
  if constexpr (std::is_same_v<O, lowbit::tensor_observer<G>>) {
    lowbit::weight_search search;
    search.grid = 20;
    calibrate_with(lowbit::quantizer<lowbit::int4, lowbit::symmetric, G>(g), o, search);
    calibrate_with(lowbit::quantizer<lowbit::uint4, lowbit::affine, G>(g), o, search);
  }
}

template <class O, class G>
void feed(lowbit_fuzz::input& in, O& a, O& b, const G& g) {
  const int batches = in.range(1, 5);
  for (int i = 0; i < batches; ++i) {
    const index_t rows = in.range(0, 6), cols = in.range(0, 6) + (in.flag() ? 64 : 0);
    std::vector<float> x(static_cast<std::size_t>(rows * cols));
    const float scale = in.flag() ? 1.f : std::ldexp(1.f, in.range(-130, 127));
    for (float& v : x) v = in.flag() ? in.value() : in.finite_value() * scale;
    O& target = in.flag() ? a : b;
    const lowbit::range before = target.observed_range();
    try {
      target.observe(x.data(), {rows, cols});
    } catch (const lowbit::error&) {
      require(target.observed_range() == before, "a rejected batch changed the observer");
    }
    check_range(target.observed_range());
  }
  try {
    a.merge(b);
  } catch (const lowbit::error&) {  // observers of different channel counts
  }
  check_range(a.observed_range());
  calibrators(a, g);
}

template <class G>
void observers(lowbit_fuzz::input& in, const G& g) {
  const lowbit::context one = lowbit::context{}.with_threads(1);
  switch (in.range(0, 3)) {
    case 0: {
      lowbit::minmax_observer<G> a(g), b(g);
      a.set_context(one);
      feed(in, a, b, g);
      break;
    }
    case 1: {
      lowbit::moving_average_minmax_observer<G> a(g, 0.25f), b(g, 0.25f);
      feed(in, a, b, g);
      break;
    }
    case 2: {
      const index_t bins = in.range(1, 300);
      lowbit::histogram_observer<G> a(g, bins, in.range(1, 200)), b(g, bins, 128);
      feed(in, a, b, g);
      break;
    }
    default: {
      lowbit::tensor_observer<G> a(g), b(g);
      feed(in, a, b, g);
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  lowbit_fuzz::input in(data, size);
  if (in.flag()) {
    observers(in, lowbit::per_tensor{});
  } else {
    observers(in, lowbit::per_channel(in.range(0, 1)));
  }
  return 0;
}
