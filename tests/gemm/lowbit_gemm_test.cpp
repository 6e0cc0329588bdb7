// gemm/lowbit_gemm.hpp, gemm/packed_lowbit_weights.hpp: the sub-byte weight GEMM on every path against an
// independent reference written from the contract's arithmetic (kernels/lowbit_gemm_contract.hpp),
// bit for bit, for every format, offset kind and group size, over shapes that catch tiling and
// padding bugs; extreme operands at the exactness bound; threads; bad input. Also compiled as
// lowbit_kernels_emulated_tests (the x86 paths on SIMDe) and for AArch64 (neondot under qemu).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "lowbit/lowbit.hpp"
#include "support/errors.hpp"
#include "support/paths.hpp"
#include "support/random.hpp"

namespace {

using lowbit::half_bits;
using lowbit::index_t;
using lowbit::kernel_path;
using lowbit::offset_kind;

lowbit::context on(kernel_path p, int threads = 1) { return lowbit::context{}.with_path(p).with_threads(threads); }

/// A sub-byte GEMM problem given by its logical values: codes, fp16 scales and offsets per (row,
/// group), int8 activations with per-row scales.
template <class F>
struct problem {
  index_t m = 0, n = 0, k = 0, group = 0;  // group 0: one group of K
  offset_kind kind = offset_kind::symmetric;
  std::vector<typename F::code_type> w;    // [n, k]
  std::vector<half_bits> d, mn;            // [n, groups]
  std::vector<std::int32_t> zp;            // [n, groups], in F
  std::vector<std::int8_t> a;              // [m, k]
  std::vector<float> sa, bias;

  index_t group_span() const { return group == 0 ? std::max<index_t>(k, 1) : group; }
  index_t groups() const { return group == 0 ? 1 : (k + group - 1) / group; }

  lowbit::packed_lowbit_weights<F> packed(const lowbit::context& ctx = {}) const {
    return lowbit::packed_lowbit_weights<F>::assemble(n, k, group, kind, w.data(), k, d, zp, mn, bias, ctx);
  }
  lowbit::activations<lowbit::int8> acts() const {
    return lowbit::activations<lowbit::int8>(a.data(), m, k, k, lowbit::qparams(sa, std::vector<std::int32_t>(sa.size(), 0)));
  }

  /// The contract's arithmetic, from the logical values (int64 sums: any overflow would show).
  float reference(index_t row, index_t col, const lowbit::output_float& o) const {
    float f = 0.0f;
    const index_t span = group_span();
    for (index_t g = 0; g < groups(); ++g) {
      std::int64_t isum = 0, asum = 0;
      const std::size_t slot = static_cast<std::size_t>(col * groups() + g);
      const std::int64_t off = kind == offset_kind::symmetric    ? lowbit::symmetric_zero_point<F>() - F::qmin
                               : kind == offset_kind::zero_point ? zp[slot] - F::qmin
                                                                 : 0;
      for (index_t kk = g * span; kk < std::min(k, (g + 1) * span); ++kk) {
        const std::int64_t u = static_cast<std::int64_t>(w[static_cast<std::size_t>(col * k + kk)]) - F::qmin;
        const std::int64_t x = a[static_cast<std::size_t>(row * k + kk)];
        isum += (u - off) * x;
        asum += x;
      }
      f = std::fma(static_cast<float>(isum), lowbit::half_to_float(d[slot]), f);
      if (kind == offset_kind::min) f = std::fma(static_cast<float>(asum), lowbit::half_to_float(mn[slot]), f);
    }
    const float s = sa[static_cast<std::size_t>(sa.size() == 1 ? 0 : row)];
    const float y = !bias.empty() && o.use_bias ? std::fma(f, s, bias[static_cast<std::size_t>(col)]) : f * s;
    return std::min(std::max(y, o.lo), o.hi);
  }
};

template <class F>
problem<F> make(lowbit_test::rng& g, index_t m, index_t n, index_t k, index_t group, offset_kind kind, bool with_bias) {
  problem<F> p;
  p.m = m, p.n = n, p.k = k, p.group = group, p.kind = kind;
  p.w.resize(static_cast<std::size_t>(n * k));
  for (auto& v : p.w) v = static_cast<typename F::code_type>(g.integer(F::qmin, F::qmax));
  const auto slots = static_cast<std::size_t>(n * p.groups());
  for (std::size_t i = 0; i < slots; ++i) {
    p.d.push_back(lowbit::float_to_half(g.uniform(-0.05f, 0.05f)));
    if (kind == offset_kind::zero_point) p.zp.push_back(g.integer(F::qmin, F::qmax));
    if (kind == offset_kind::min) p.mn.push_back(lowbit::float_to_half(g.uniform(-1.0f, 1.0f)));
  }
  p.a.resize(static_cast<std::size_t>(m * k));
  for (auto& v : p.a) v = static_cast<std::int8_t>(g.integer(-128, 127));
  for (index_t r = 0; r < m; ++r) p.sa.push_back(g.uniform(0.001f, 0.02f));
  if (with_bias)
    for (index_t j = 0; j < n; ++j) p.bias.push_back(g.uniform(-2.0f, 2.0f));
  return p;
}

std::uint32_t bits_of(float x) {
  std::uint32_t b;
  std::memcpy(&b, &x, 4);
  return b;
}

template <class F>
void expect_matches(const problem<F>& p, kernel_path path, const lowbit::output_float& stage, int threads = 1) {
  const auto w = p.packed();
  std::vector<float> y(static_cast<std::size_t>(p.m * p.n), std::numeric_limits<float>::quiet_NaN());
  lowbit::lowbit_gemm(p.acts(), w, stage, y.data(), p.n, on(path, threads));
  int shown = 0;
  for (index_t r = 0; r < p.m; ++r)
    for (index_t c = 0; c < p.n; ++c) {
      const float want = p.reference(r, c, stage), got = y[static_cast<std::size_t>(r * p.n + c)];
      if (bits_of(want) != bits_of(got) && shown++ < 5)
        ADD_FAILURE() << F::name << " kind " << static_cast<int>(p.kind) << " [" << p.m << " x " << p.n << " x " << p.k
                      << ", group " << p.group << "] at (" << r << ", " << c << "): got " << got << ", want " << want;
    }
}

class lowbit_gemm_paths : public lowbit_test::path_test {};

struct shape {
  index_t m, n, k, group;
};
const std::vector<shape> shapes = {{1, 64, 32, 32},   {1, 100, 128, 32}, {3, 130, 256, 64},  {7, 64, 64, 4},
                                   {13, 200, 384, 128}, {6, 64, 96, 0},  {5, 70, 30, 0},     {1, 1, 4, 4},
                                   {2, 129, 1024, 32}, {12, 65, 512, 0}, {9, 64, 36, 12},   {4, 3, 8, 0},
                                   {3, 70, 784, 32},   {5, 64, 100, 64}};  // a short last group: 784 = 24 x 32 + 16
// Tasks of 12 rows or more expand the codes on paths that can: 6-row tiles and their remainders
// of every height (17 = 6 + 6 + 5, 24 = 4 x 6, 14 = 6 + 6 + 2, 19 = 3 x 6 + 1, 15 = 6 + 6 + 3,
// 16 = 6 + 6 + 4), several depth blocks (24 KiB of expanded codes: 12 groups of 32, 96 of 4), a
// short last group (400 = 12 x 32 + 16), one group per depth block (per channel).
const std::vector<shape> expanding_shapes = {{17, 70, 448, 32}, {24, 70, 400, 32}, {14, 64, 512, 4}, {19, 65, 1024, 0},
                                             {15, 64, 256, 32}, {16, 66, 320, 64}};
// int3 / uint3 share int4's storage and kernels: a few shapes of each kind of tile.
const std::vector<shape> some_shapes = {{3, 130, 256, 64}, {7, 64, 64, 4}, {6, 64, 96, 0}, {3, 70, 784, 32}, {17, 70, 448, 32}};

template <class F>
void check_format(kernel_path path, lowbit_test::rng& g, const std::vector<shape>& list = shapes) {
  std::vector<offset_kind> kinds = {offset_kind::symmetric, offset_kind::zero_point};
  if (!F::is_signed) kinds.push_back(offset_kind::min);
  int i = 0;
  for (const shape& s : list)
    for (offset_kind kind : kinds) {
      const auto p = make<F>(g, s.m, s.n, s.k, s.group, kind, ++i % 2 == 0);
      expect_matches(p, path, lowbit::output_float{});
      if (i % 3 == 0) expect_matches(p, path, lowbit::output_float{}.relu());
      if (i % 5 == 0) expect_matches(p, path, lowbit::output_float{}.without_bias().clamp(-0.5f, 0.25f));
    }
}

TEST_P(lowbit_gemm_paths, every_format_kind_and_group_matches_the_reference_bit_for_bit) {
  lowbit_test::rng g(61);
  check_format<lowbit::int4>(GetParam(), g);
  check_format<lowbit::uint4>(GetParam(), g);
  check_format<lowbit::int2>(GetParam(), g);
  check_format<lowbit::uint2>(GetParam(), g);
  check_format<lowbit::int8>(GetParam(), g);
  check_format<lowbit::uint8>(GetParam(), g);
  check_format<lowbit::int8_narrow>(GetParam(), g);
  check_format<lowbit::int3>(GetParam(), g, some_shapes);  // 4-bit containers, 3-bit ranges
  check_format<lowbit::uint3>(GetParam(), g, some_shapes);
}

TEST_P(lowbit_gemm_paths, expanded_codes_match_the_reference_for_2_4_and_8_bits) {
  lowbit_test::rng g(64);
  check_format<lowbit::int4>(GetParam(), g, expanding_shapes);
  check_format<lowbit::uint2>(GetParam(), g, expanding_shapes);  // with the min kind
  check_format<lowbit::int8>(GetParam(), g, expanding_shapes);
}

TEST_P(lowbit_gemm_paths, many_rows_and_depth_blocks) {
  // Enough rows for several strips and row blocks, enough groups for several depth blocks.
  lowbit_test::rng g(62);
  const auto p = make<lowbit::int4>(g, 37, 192, 4096, 32, offset_kind::symmetric, true);
  expect_matches(p, GetParam(), lowbit::output_float{});
  expect_matches(p, GetParam(), lowbit::output_float{}, 2);
  const auto q = make<lowbit::uint4>(g, 20, 130, 2048, 128, offset_kind::min, false);
  expect_matches(q, GetParam(), lowbit::output_float{}, 2);
}

TEST_P(lowbit_gemm_paths, requantized_outputs_match) {
  lowbit_test::rng g(63);
  const auto p = make<lowbit::int4>(g, 9, 100, 256, 64, offset_kind::zero_point, true);
  const auto w = p.packed();
  const auto stage = lowbit::output_float{}.relu().requantize<lowbit::uint8>(0.05f, 3);
  std::vector<std::uint8_t> y(static_cast<std::size_t>(p.m * p.n));
  lowbit::lowbit_gemm(p.acts(), w, stage, y.data(), p.n, on(GetParam()));
  for (index_t r = 0; r < p.m; ++r)
    for (index_t c = 0; c < p.n; ++c) {
      float v = p.reference(r, c, stage.pre) * (1.0f / 0.05f);
      v = std::min(std::max(v, static_cast<float>(0 - 3)), static_cast<float>(255 - 3));
      const int want = static_cast<int>(std::nearbyint(v)) + 3;
      ASSERT_EQ(y[static_cast<std::size_t>(r * p.n + c)], want) << r << ", " << c;
    }
  const auto stage8 = lowbit::output_float{}.requantize<lowbit::int8>(0.02f, -5);
  std::vector<std::int8_t> z(static_cast<std::size_t>(p.m * p.n));
  lowbit::lowbit_gemm(p.acts(), w, stage8, z.data(), p.n, on(GetParam()));
  for (index_t r = 0; r < p.m; ++r)
    for (index_t c = 0; c < p.n; ++c) {
      float v = p.reference(r, c, stage8.pre) * (1.0f / 0.02f);
      v = std::min(std::max(v, static_cast<float>(-128 + 5)), static_cast<float>(127 + 5));
      ASSERT_EQ(z[static_cast<std::size_t>(r * p.n + c)], static_cast<int>(std::nearbyint(v)) - 5) << r << ", " << c;
    }
}

TEST_P(lowbit_gemm_paths, extreme_operands_at_the_exactness_bound) {
  // One group of 65536 (the largest), every product at its largest magnitude: the int32 sums reach
  // -128 * 255 * 65536 = -2,139,095,040 and must stay exact on every path.
  lowbit_test::rng g(64);
  for (int sign : {1, -1}) {
    problem<lowbit::uint8> p = make<lowbit::uint8>(g, 2, 64, lowbit::lowbit_max_group, 0, offset_kind::zero_point, false);
    std::fill(p.w.begin(), p.w.end(), std::uint8_t{255});
    std::fill(p.zp.begin(), p.zp.end(), 0);
    std::fill(p.a.begin(), p.a.end(), static_cast<std::int8_t>(sign > 0 ? 127 : -128));
    std::fill(p.d.begin(), p.d.end(), lowbit::float_to_half(1.0f));
    expect_matches(p, GetParam(), lowbit::output_float{});
    problem<lowbit::int4> q = make<lowbit::int4>(g, 1, 64, 8192, 0, offset_kind::symmetric, false);
    std::fill(q.w.begin(), q.w.end(), std::int8_t{-8});
    std::fill(q.a.begin(), q.a.end(), static_cast<std::int8_t>(sign > 0 ? 127 : -128));
    expect_matches(q, GetParam(), lowbit::output_float{});
  }
}

LOWBIT_INSTANTIATE_FOR_PATHS(lowbit_gemm_paths);

TEST(packed_lowbit_weights, reads_back_what_it_was_given) {
  lowbit_test::rng g(65);
  const auto p = make<lowbit::uint4>(g, 1, 130, 96, 32, offset_kind::zero_point, false);
  const auto w = p.packed();
  EXPECT_EQ(w.groups(), 3);
  EXPECT_EQ(w.panels(), 3);
  for (index_t r = 0; r < p.n; ++r)
    for (index_t kk = 0; kk < p.k; ++kk) ASSERT_EQ(w.code(r, kk), p.w[static_cast<std::size_t>(r * p.k + kk)]);
  for (index_t r = 0; r < p.n; ++r)
    for (index_t gg = 0; gg < 3; ++gg) {
      EXPECT_EQ(w.scale_bits(r, gg), p.d[static_cast<std::size_t>(r * 3 + gg)]);
      EXPECT_EQ(w.zero_point(r, gg), p.zp[static_cast<std::size_t>(r * 3 + gg)]);
    }
  // 4-bit codes + an fp16 scale and a byte zero point per 32 weights: 4 + 24 / 32 bits.
  EXPECT_DOUBLE_EQ(w.bits_per_weight(), 4.75);
}

TEST(packed_lowbit_weights, from_a_quantized_tensor_dequantizes_with_fp16_scales) {
  lowbit_test::rng g(66);
  const auto W = g.normal_matrix(70, 128, 0.1f);
  lowbit::quantizer<lowbit::int4, lowbit::symmetric, lowbit::per_group> q(lowbit::per_group(1, 32));
  const auto t = q.quantize(W);
  const lowbit::packed_lowbit_weights<lowbit::int4> w(t);
  const auto codes = t.int_repr();
  for (index_t r = 0; r < 70; ++r)
    for (index_t kk = 0; kk < 128; ++kk) {
      ASSERT_EQ(w.code(r, kk), codes(r, kk));
      const float d = lowbit::half_to_float(lowbit::float_to_half(t.params().scale[static_cast<std::size_t>(r * 4 + kk / 32)]));
      ASSERT_EQ(w.dequantize()(r, kk), d * static_cast<float>(codes(r, kk)));
    }
  // pack_lowbit quantizes with the fp16 scales it stores: its codes are the nearest for them.
  const auto pw = lowbit::pack_lowbit(W, q);
  for (index_t r = 0; r < 70; ++r)
    for (index_t kk = 0; kk < 128; ++kk) {
      const float d = pw.scale(r, kk / 32);
      const int c = std::clamp(static_cast<int>(std::nearbyint(W(r, kk) * (1.0f / d))), -8, 7);
      ASSERT_EQ(pw.code(r, kk), c);
    }
}

TEST(packed_lowbit_weights, per_channel_and_per_tensor_are_one_group) {
  lowbit_test::rng g(67);
  const auto W = g.normal_matrix(5, 30, 0.1f);
  lowbit::quantizer<lowbit::uint4, lowbit::affine, lowbit::per_channel> q(lowbit::per_channel(0));
  const lowbit::packed_lowbit_weights<lowbit::uint4> w(q.quantize(W));
  EXPECT_TRUE(w.per_channel());
  EXPECT_EQ(w.groups(), 1);
  EXPECT_EQ(w.group_size(), 32);
  const lowbit::packed_lowbit_weights<lowbit::int2> t(lowbit::quantizer<lowbit::int2>{}.quantize(W));
  EXPECT_EQ(t.groups(), 1);
  EXPECT_EQ(t.scale(3, 0), t.scale(0, 0));
}

TEST(packed_lowbit_weights, bad_input_is_a_clear_error) {
  using lowbit_test::contains;
  using lowbit_test::error_of;
  lowbit_test::rng g(68);
  const auto W = g.normal_matrix(8, 96, 0.1f);
  // A group size that does not divide K is a short last group, not an error.
  const auto short_last = lowbit::pack_lowbit(W, lowbit::quantizer<lowbit::int4, lowbit::symmetric, lowbit::per_group>(lowbit::per_group(1, 64)));
  EXPECT_EQ(short_last.groups(), 2);
  EXPECT_LE((short_last.dequantize() - W).cwiseAbs().maxCoeff(), W.cwiseAbs().maxCoeff() / 7.5f * 0.51f);
  // Not a multiple of 4.
  EXPECT_TRUE(contains(error_of([&] {
    lowbit::packed_lowbit_weights<lowbit::int4>(lowbit::quantizer<lowbit::int4, lowbit::symmetric, lowbit::per_group>(lowbit::per_group(1, 6)).quantize(W));
  }), "not a positive multiple of 4"));
  // Groups along the wrong axis, scales per input channel.
  EXPECT_TRUE(contains(error_of([&] {
    lowbit::packed_lowbit_weights<lowbit::int4>(lowbit::quantizer<lowbit::int4, lowbit::symmetric, lowbit::per_group>(lowbit::per_group(0, 4)).quantize(W));
  }), "along K"));
  EXPECT_TRUE(contains(error_of([&] {
    lowbit::packed_lowbit_weights<lowbit::int4>(lowbit::quantizer<lowbit::int4, lowbit::symmetric, lowbit::per_channel>(lowbit::per_channel(1)).quantize(W));
  }), "per output channel"));
  // One group deeper than the exact bound.
  std::vector<std::int8_t> codes(static_cast<std::size_t>(lowbit::lowbit_max_group + 4), 0);
  EXPECT_TRUE(contains(error_of([&] {
    lowbit::packed_lowbit_weights<lowbit::int8>::assemble(1, lowbit::lowbit_max_group + 4, 0, offset_kind::symmetric,
                                                          codes.data(), lowbit::lowbit_max_group + 4, {0});
  }), "exceeds 65536"));
  // Mismatched scales, codes outside the format, a non-finite scale, a scale fp16 cannot hold.
  std::vector<std::int8_t> c4(8 * 32, 0);
  EXPECT_TRUE(contains(error_of([&] {
    lowbit::packed_lowbit_weights<lowbit::int4>::assemble(8, 32, 32, offset_kind::symmetric, c4.data(), 32, {0, 0});
  }), "expected 8 scales"));
  c4[5] = 9;
  EXPECT_TRUE(contains(error_of([&] {
    lowbit::packed_lowbit_weights<lowbit::int4>::assemble(8, 32, 32, offset_kind::symmetric, c4.data(), 32,
                                                          std::vector<half_bits>(8, 0x3C00));
  }), "outside int4"));
  c4[5] = 0;
  std::vector<half_bits> inf(8, 0x3C00);
  inf[2] = 0x7C00;
  EXPECT_TRUE(contains(error_of([&] {
    lowbit::packed_lowbit_weights<lowbit::int4>::assemble(8, 32, 32, offset_kind::symmetric, c4.data(), 32, inf);
  }), "not finite"));
  EXPECT_TRUE(contains(error_of([&] { lowbit::half_scales(lowbit::qparams(1e6f, 0)); }), "no fp16 value"));
  EXPECT_TRUE(contains(error_of([&] {
    lowbit::packed_lowbit_weights<lowbit::int4>::assemble(8, 32, 32, offset_kind::min, c4.data(), 32,
                                                          std::vector<half_bits>(8, 0x3C00), {}, std::vector<half_bits>(8, 0));
  }), "unsigned format"));
}

TEST(lowbit_gemm, bad_input_is_a_clear_error) {
  using lowbit_test::contains;
  using lowbit_test::error_of;
  lowbit_test::rng g(69);
  const auto p = make<lowbit::int4>(g, 2, 64, 64, 32, offset_kind::symmetric, false);
  const auto w = p.packed();
  std::vector<float> y(2 * 64);
  std::vector<std::int8_t> a(2 * 32, 0);
  EXPECT_TRUE(contains(error_of([&] {
    lowbit::lowbit_gemm(lowbit::activations<lowbit::int8>(a.data(), 2, 32, 32, {0.1f, 0}), w, lowbit::output_float{}, y.data(), 64);
  }), "K = 32 but the weights K = 64"));
  EXPECT_TRUE(contains(error_of([&] {
    lowbit::lowbit_gemm(lowbit::activations<lowbit::int8>(p.a.data(), 2, 64, 64, {0.1f, 3}), w, lowbit::output_float{}, y.data(), 64);
  }), "zero point 0"));
  EXPECT_TRUE(contains(error_of([&] {
    lowbit::lowbit_gemm(p.acts(), w, lowbit::output_float{}.clamp(1.0f, 0.0f), y.data(), 64);
  }), "empty or NaN"));
}

TEST(lowbit_gemm, empty_shapes_give_bias_or_nothing) {
  // K = 0 (one empty group per channel): the outputs are the bias.
  std::vector<std::int8_t> none;
  const auto w = lowbit::packed_lowbit_weights<lowbit::int4>::assemble(3, 0, 0, offset_kind::symmetric, none.data(), 0,
                                                                       std::vector<half_bits>(3, 0x3C00), {}, {},
                                                                       std::vector<float>{1.f, 2.f, 3.f});
  std::vector<float> y(6, -1.f);
  lowbit::lowbit_gemm(lowbit::activations<lowbit::int8>(none.data(), 2, 0, 0, {0.1f, 0}), w, lowbit::output_float{}, y.data(), 3);
  EXPECT_EQ(y, (std::vector<float>{1.f, 2.f, 3.f, 1.f, 2.f, 3.f}));
  // M = 0: nothing written.
  lowbit::lowbit_gemm(lowbit::activations<lowbit::int8>(none.data(), 0, 0, 0, {0.1f, 0}), w, lowbit::output_float{}, y.data(), 3);
}

}  // namespace
