// Fuzz target: the int8 GEMM and both int8 Linear layers on arbitrary shapes, codes, zero points,
// scales, biases and output stages, every path against the reference (integers and the float
// stages bit for bit), and the layers' bad-input handling; the sub-byte GEMM (packed 2/4/8-bit
// weights with any fp16 scales, offsets and group sizes) and lowbit_linear, every path against
// the scalar path.
//
// Properties checked: every kernel path gives exactly the reference's results (reference_gemm
// reads the unpacked weights, so packing is checked too); a layer's forward is the same on every
// path, or the same lowbit::error on every path; the sub-byte GEMM gives the scalar kernel's bits
// (the scalar kernel is the contract's specification, checked against an independent reference
// in tests/gemm/lowbit_gemm_test.cpp) or the same error on every path.
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

/// Packed sub-byte weights of format F from fuzz bytes, a GEMM on every path, compared bit for bit.
template <class F>
void lowbit_case(lowbit_fuzz::input& in) {
  using lowbit::offset_kind;
  const index_t m = in.range(0, 9), n = in.range(1, 70), group = 4 * in.range(0, 12);  // group 0: per channel
  const index_t k = in.range(0, 40) + (in.flag() ? in.range(0, 200) : 0);
  const offset_kind kind = F::is_signed ? (in.flag() ? offset_kind::symmetric : offset_kind::zero_point)
                                        : static_cast<offset_kind>(in.range(0, 2));
  const index_t groups = group == 0 ? 1 : (k + group - 1) / group;
  std::vector<typename F::code_type> codes(static_cast<std::size_t>(std::max<index_t>(1, n * k)));
  for (auto& c : codes) c = static_cast<typename F::code_type>(in.range(F::qmin, F::qmax));
  const auto half = [&] {  // any finite fp16, either sign, subnormals and zero included
    return static_cast<lowbit::half_bits>((in.flag() ? 0x8000 : 0) | in.range(0, 0x7BFF));
  };
  std::vector<lowbit::half_bits> d, mn;
  std::vector<std::int32_t> zp;
  for (index_t i = 0; i < n * groups; ++i) {
    d.push_back(half());
    if (kind == offset_kind::zero_point) zp.push_back(in.range(F::qmin, F::qmax));
    if (kind == offset_kind::min) mn.push_back(half());
  }
  std::vector<float> bias;
  if (in.flag())
    for (index_t j = 0; j < n; ++j) bias.push_back(in.finite_value());
  std::vector<std::int8_t> a(static_cast<std::size_t>(std::max<index_t>(1, m * k)));
  for (auto& v : a) v = static_cast<std::int8_t>(in.range(-128, 127));
  std::vector<float> sa;
  for (index_t r = 0; r < std::max<index_t>(m, 1); ++r) sa.push_back(std::fabs(in.finite_value()) * 0.01f + 1e-4f);
  const lowbit::activations<lowbit::int8> act(a.data(), m, k, k, lowbit::qparams(sa, std::vector<std::int32_t>(sa.size(), 0)));
  const lowbit::output_float stage = in.flag() ? lowbit::output_float{} : lowbit::output_float{}.clamp(in.value(), in.value());
  std::vector<float> ref(static_cast<std::size_t>(m * n) + 1), got(ref.size());
  std::string ref_error;
  bool first = true;
  for (lowbit::kernel_path p : lowbit::supported_paths()) {
    const lowbit::context ctx = lowbit::context{}.with_path(p).with_threads(1);
    std::string error;
    try {
      const auto w = lowbit::packed_lowbit_weights<F>::assemble(n, k, group, kind, codes.data(), k, d, zp, mn, bias, ctx);
      lowbit::lowbit_gemm(act, w, stage, got.data(), n, ctx);
    } catch (const lowbit::error& e) {
      error = e.what();
    }
    if (first) {
      ref_error = error;
      ref = got;
      first = false;
      continue;
    }
    require(error == ref_error, "paths disagree on a sub-byte GEMM's error");
    if (error.empty())
      require(std::memcmp(ref.data(), got.data(), sizeof(float) * static_cast<std::size_t>(m * n)) == 0,
              "a path differs from the scalar sub-byte GEMM");
  }
}

/// lowbit_linear from arbitrary float weights: the same output or the same error on every path.
void lowbit_layer_case(lowbit_fuzz::input& in) {
  const index_t out = in.range(1, 70), k = 4 * in.range(1, 30), rows = in.range(0, 6), group = 4 * in.range(1, 16);
  lowbit::row_matrix w(out, k), x(rows, k);
  for (index_t i = 0; i < w.size(); ++i) w.data()[i] = in.flag() ? in.finite_value() : in.value();
  for (index_t i = 0; i < x.size(); ++i) x.data()[i] = in.flag() ? in.finite_value() : in.value();
  try {
    struct same_layer {
      lowbit::lowbit_linear<lowbit::int4> layer;
      const lowbit::lowbit_linear<lowbit::int4>& repacked(lowbit::kernel_path) const { return layer; }  // one layout for all paths
    };
    same_layer l{lowbit::lowbit_linear<lowbit::int4>(
        w, lowbit::quantizer<lowbit::int4, lowbit::symmetric, lowbit::per_group>(lowbit::per_group(1, group)))};
    same_on_every_path(l, x);
  } catch (const lowbit::error&) {  // weights with NaN / Inf or scales beyond fp16: refused at construction
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  lowbit_fuzz::input in(data, size);
  try {
    switch (in.range(0, 8)) {
      case 0: gemm_case<lowbit::uint8>(in); break;
      case 1: gemm_case<lowbit::int8>(in); break;
      case 2: gemm_case<lowbit::uint7>(in); break;
      case 3: layer_case(in); break;
      case 4: lowbit_case<lowbit::int4>(in); break;
      case 5: lowbit_case<lowbit::uint4>(in); break;
      case 6: lowbit_case<lowbit::uint2>(in); break;
      case 7: lowbit_case<lowbit::int8>(in); break;
      default: lowbit_layer_case(in); break;
    }
  } catch (const lowbit::error&) {  // activations with bad qparams: refused when built
  }
  return 0;
}
