// Fuzz target: the int8 GEMM and both Linear layers on arbitrary shapes, codes, zero points,
// scales, biases and output stages, every path against the reference (integers and the float
// stages bit for bit), and the layers' bad-input handling.
//
// Properties checked: every kernel path gives exactly the reference's results (reference_gemm
// reads the unpacked weights, so packing is checked too); a layer's forward is the same on every
// path, or the same lowbit::error on every path.
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

template <class F, class Stage>
void check_gemm(const lowbit::activations<F>& a, const std::vector<std::int8_t>& w, index_t n, const std::vector<float>& ws,
                const std::vector<float>& bias, const Stage& stage) {
  using T = typename Stage::value_type;
  const index_t m = a.rows(), k = a.cols();
  std::vector<T> want(static_cast<std::size_t>(m * n) + 1), got(want.size());
  bool ref_threw = false;
  try {
    // The GEMM's own argument checks first (stage, scale products): the reference assumes them.
    const auto packed = lowbit::packed_weights::pack(w.data(), n, k, k, ws, bias);
    lowbit::detail::check_gemm_arguments(a, packed, stage, want.data(), n);
    lowbit::reference_gemm(a, w.data(), n, k, ws.data(), bias.empty() ? nullptr : bias.data(), stage, want.data(), n);
  } catch (const lowbit::error&) {
    ref_threw = true;
  }
  for (lowbit::kernel_path p : lowbit::supported_paths()) {
    const lowbit::context ctx = lowbit::context{}.with_path(p).with_threads(1);
    const auto packed = lowbit::packed_weights::pack(w.data(), n, k, k, ws, bias, ctx);
    bool threw = false;
    try {
      lowbit::gemm(a, packed, stage, got.data(), n, ctx);
    } catch (const lowbit::error&) {
      threw = true;
    }
    require(threw == ref_threw, "the GEMM and the reference disagree on whether the arguments are an error");
    if (!threw) require(std::memcmp(want.data(), got.data(), sizeof(T) * static_cast<std::size_t>(m * n)) == 0, "a path differs from the reference");
  }
}

template <class F>
void gemm_case(lowbit_fuzz::input& in) {
  const index_t m = in.range(0, 14), n = in.range(1, 70), k = in.range(0, 40) + (in.flag() ? in.range(0, 300) : 0);
  std::vector<typename F::code_type> codes(static_cast<std::size_t>(std::max<index_t>(1, m * k)));
  for (auto& c : codes) c = static_cast<typename F::code_type>(in.range(F::qmin, F::qmax));
  lowbit::qparams p;
  const bool per_row = in.flag() && m > 1;
  for (index_t r = 0; r < (per_row ? m : 1); ++r) {
    p.scale.push_back(std::fabs(in.finite_value()) * 0.01f + 1e-4f);
    p.zero_point.push_back(in.range(F::qmin, F::qmax));
  }
  const lowbit::activations<F> a(codes.data(), m, k, k, p);
  std::vector<std::int8_t> w(static_cast<std::size_t>(std::max<index_t>(1, n * k)));
  for (auto& v : w) v = static_cast<std::int8_t>(in.range(-128, 127));
  std::vector<float> ws, bias;
  for (index_t j = 0; j < n; ++j) ws.push_back(std::fabs(in.finite_value()) * 0.01f + 1e-4f);
  if (in.flag())
    for (index_t j = 0; j < n; ++j) bias.push_back(in.finite_value());
  switch (in.range(0, 4)) {
    case 0: return check_gemm(a, w, n, ws, bias, lowbit::output_int32{});
    case 1: return check_gemm(a, w, n, ws, bias, lowbit::output_float{});
    case 2: return check_gemm(a, w, n, ws, bias, lowbit::output_float{}.clamp(in.value(), in.value()));
    case 3: return check_gemm(a, w, n, ws, bias, lowbit::output_float{}.relu().requantize<lowbit::uint8>(in.value(), in.range(-5, 260)));
    default: return check_gemm(a, w, n, ws, bias, lowbit::output_float{}.requantize<lowbit::int8>(std::fabs(in.finite_value()) + 1e-3f, in.range(-128, 127)));
  }
}

/// The same forward on every path: equal results, or the same error.
template <class Layer, class Input>
void same_on_every_path(const Layer& layer, const Input& x) {
  std::string ref_error;
  lowbit::row_matrix ref;
  bool first = true;
  for (lowbit::kernel_path p : lowbit::supported_paths()) {
    std::string error;
    lowbit::row_matrix y;
    const lowbit::context ctx = lowbit::context{}.with_path(p).with_threads(1);
    try {
      y = layer.repacked(p).forward(x, {}, ctx);
    } catch (const lowbit::error& e) {
      error = e.what();
    }
    if (first) {
      ref_error = error;
      ref = y;
      first = false;
      continue;
    }
    require(error == ref_error, "paths disagree on a layer's error");
    require(y.rows() == ref.rows() && y.cols() == ref.cols(), "paths disagree on a layer's output shape");
    require(y.size() == 0 || std::memcmp(y.data(), ref.data(), sizeof(float) * static_cast<std::size_t>(y.size())) == 0,
            "paths disagree on a layer's output");
  }
}

/// A layer whose weights can be repacked for a path (what a user forcing a path does).
template <class Layer>
struct repackable {
  Layer layer;
  Layer repacked(lowbit::kernel_path p) const {
    if constexpr (std::is_same_v<Layer, lowbit::dynamic_linear<>>) {
      return Layer(layer.weights().repack(p));
    } else {
      return Layer(layer.weights().repack(p), layer.input_qparams());
    }
  }
};

void layer_case(lowbit_fuzz::input& in) {
  const index_t out = in.range(0, 20), k = in.range(0, 40), rows = in.range(0, 6);
  lowbit::row_matrix w(out, k), x(rows, k);
  for (index_t i = 0; i < w.size(); ++i) w.data()[i] = in.flag() ? in.finite_value() : in.value();
  for (index_t i = 0; i < x.size(); ++i) x.data()[i] = in.flag() ? in.finite_value() : in.value();
  try {
    if (in.flag()) {
      repackable<lowbit::dynamic_linear<>> l{lowbit::dynamic_linear<>(w)};
      same_on_every_path(l, x);
    } else {
      const float s = in.value();
      repackable<lowbit::static_linear<>> l{lowbit::static_linear<>(w, {}, lowbit::qparams(s, in.range(-3, 258)))};
      same_on_every_path(l, x);
    }
  } catch (const lowbit::error&) {  // weights with NaN / Inf, bad input qparams: refused at construction
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  lowbit_fuzz::input in(data, size);
  try {
    switch (in.range(0, 3)) {
      case 0: gemm_case<lowbit::uint8>(in); break;
      case 1: gemm_case<lowbit::int8>(in); break;
      case 2: gemm_case<lowbit::uint7>(in); break;
      default: layer_case(in); break;
    }
  } catch (const lowbit::error&) {  // activations with bad qparams: refused when built
  }
  return 0;
}
