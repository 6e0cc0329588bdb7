// gemm/gemm.hpp, gemm/packed_weights.hpp, gemm/activations.hpp, gemm/output.hpp: the int8 GEMM on
// every path against the reference, int32 exactly, over the shapes that catch tiling bugs, zero
// points, extreme operands, every output stage, threads. Also compiled as
// lowbit_kernels_emulated_tests (the x86 paths on SIMDe) and for AArch64 (neondot under qemu).
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <thread>
#include <vector>

#include "lowbit/lowbit.hpp"
#include "support/errors.hpp"
#include "support/paths.hpp"
#include "support/random.hpp"

namespace {

using lowbit::index_t;
using lowbit::kernel_path;

lowbit::context on(kernel_path p) { return lowbit::context{}.with_path(p); }

/// A GEMM problem: activation codes (as bytes, read as int8 or uint8), weights [N, K].
struct problem {
  index_t m = 0, n = 0, k = 0;
  std::vector<std::uint8_t> a;  // codes, row-major with ld = lda
  index_t lda = 0;
  bool a_signed = false;
  std::int32_t za = 0;
  std::vector<std::int8_t> w;  // [n, k] row-major
  std::vector<float> w_scales, bias;

  lowbit::packed_weights packed(kernel_path p) const {
    return lowbit::packed_weights::pack(w.data(), n, k, k, w_scales, bias, on(p));
  }
};

problem make_problem(lowbit_test::rng& g, index_t m, index_t n, index_t k, bool a_signed, index_t pad = 0,
                     bool with_bias = false) {
  problem p;
  p.m = m;
  p.n = n;
  p.k = k;
  p.lda = k + pad;
  p.a_signed = a_signed;
  p.a.resize(static_cast<std::size_t>(std::max<index_t>(1, m * p.lda)));
  for (auto& v : p.a) v = static_cast<std::uint8_t>(g.integer(0, 255));
  p.za = a_signed ? g.integer(-128, 127) : g.integer(0, 255);
  p.w.resize(static_cast<std::size_t>(std::max<index_t>(1, n * k)));
  for (auto& v : p.w) v = static_cast<std::int8_t>(g.integer(-128, 127));
  for (index_t j = 0; j < n; ++j) p.w_scales.push_back(g.uniform(0.001f, 0.05f));
  if (with_bias)
    for (index_t j = 0; j < n; ++j) p.bias.push_back(g.uniform(-2.f, 2.f));
  return p;
}

/// Calls fn(activations<F>) with the problem's codes typed by their format.
template <class Fn>
void with_activations(const problem& p, const lowbit::qparams& q, Fn&& fn) {
  if (p.a_signed) {
    fn(lowbit::activations<lowbit::int8>(reinterpret_cast<const std::int8_t*>(p.a.data()), p.m, p.k, p.lda, q));
  } else {
    fn(lowbit::activations<lowbit::uint8>(p.a.data(), p.m, p.k, p.lda, q));
  }
}
template <class Fn>
void with_activations(const problem& p, Fn&& fn) {
  with_activations(p, lowbit::qparams(0.02f, p.za), fn);
}

void expect_int32_equal(const problem& p, kernel_path path, lowbit::context ctx = lowbit::context{}) {
  ctx.path = path;
  const lowbit::packed_weights packed = p.packed(path);
  with_activations(p, [&](const auto& a) {
    std::vector<std::int32_t> want(static_cast<std::size_t>(p.m * p.n) + 1, -7), got(want);
    lowbit::reference_gemm(a, p.w.data(), p.n, p.k, p.w_scales.data(), nullptr, lowbit::output_int32{}, want.data(), p.n);
    lowbit::gemm(a, packed, lowbit::output_int32{}, got.data(), p.n, ctx);
    ASSERT_EQ(want, got) << "M " << p.m << " N " << p.n << " K " << p.k << " signed " << p.a_signed << " za " << p.za
                         << " path " << lowbit::path_name(path);
  });
}

class gemm : public lowbit_test::path_test {};

TEST_P(gemm, small_shapes_exact) {
  lowbit_test::rng g(41);
  const index_t ms[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 17};
  const index_t ns[] = {1, 2, 7, 15, 16, 17, 33};
  const index_t ks[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17};
  for (index_t m : ms)
    for (index_t n : ns)
      for (index_t k : ks) expect_int32_equal(make_problem(g, m, n, k, (m + n + k) % 2 == 0), GetParam());
}

TEST_P(gemm, tiling_edges_exact) {
  lowbit_test::rng g(42);
  const index_t edges[] = {15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 127, 128, 129, 255, 256, 257};
  for (index_t d : edges) {
    for (index_t other : {3, 17}) {
      expect_int32_equal(make_problem(g, d, other, other + 2, true), GetParam());
      expect_int32_equal(make_problem(g, other, d, other + 1, false), GetParam());
      expect_int32_equal(make_problem(g, other, other + 5, d, d % 2 == 0), GetParam());
    }
  }
  expect_int32_equal(make_problem(g, 1, 1, 1000, true), GetParam());  // M = 1, N = 1
  expect_int32_equal(make_problem(g, 1, 300, 513, false), GetParam());
  expect_int32_equal(make_problem(g, 50, 70, 90, true), GetParam());
  expect_int32_equal(make_problem(g, 13, 200, 1500, false), GetParam());  // K beyond one depth block
}

TEST_P(gemm, strided_activations_exact) {
  lowbit_test::rng g(43);
  for (index_t pad : {1, 3, 64}) {
    expect_int32_equal(make_problem(g, 9, 20, 37, true, pad), GetParam());
    expect_int32_equal(make_problem(g, 13, 17, 64, false, pad), GetParam());
  }
}

// Operands at the ends of their ranges: every product at its largest magnitude, including the
// 255 x 127 pairs that would saturate vpmaddubsw, and K at the accumulator bound.
TEST_P(gemm, extreme_operands_exact) {
  const kernel_path path = GetParam();
  struct extreme {
    bool a_signed;
    std::uint8_t a_code;
    std::int32_t za;
    std::int8_t w_code;
  };
  const extreme cases[] = {
      {false, 255, 0, 127},   {false, 255, 0, -128}, {false, 0, 255, -128}, {true, 0x80, 127, -128},
      {true, 0x7F, -128, 127}, {true, 0x80, 0, -128}, {false, 255, 128, 127},
  };
  for (const extreme& e : cases) {
    for (index_t k : {index_t{1}, index_t{3}, index_t{1024}, lowbit::gemm_max_k}) {
      problem p;
      p.m = k == lowbit::gemm_max_k ? 2 : 7;
      p.n = k == lowbit::gemm_max_k ? 17 : 33;
      p.k = p.lda = k;
      p.a_signed = e.a_signed;
      p.za = e.za;
      p.a.assign(static_cast<std::size_t>(p.m * k), e.a_code);
      p.w.assign(static_cast<std::size_t>(p.n * k), e.w_code);
      p.w_scales.assign(static_cast<std::size_t>(p.n), 0.01f);
      expect_int32_equal(p, path);
      // The true value is known: K * (a - za) * w.
      std::vector<std::int32_t> got(static_cast<std::size_t>(p.m * p.n));
      with_activations(p, [&](const auto& a) {
        lowbit::gemm(a, p.packed(path), lowbit::output_int32{}, got.data(), p.n, on(path));
      });
      const std::int32_t a_value = e.a_signed ? static_cast<std::int8_t>(e.a_code) : e.a_code;
      EXPECT_EQ(got[0], static_cast<std::int64_t>(k) * (a_value - e.za) * e.w_code);
    }
  }
}

TEST_P(gemm, per_row_zero_points_and_scales) {
  lowbit_test::rng g(44);
  const problem p = make_problem(g, 11, 40, 70, false, 0, true);
  lowbit::qparams rows;
  for (int i = 0; i < 11; ++i) {
    rows.zero_point.push_back(g.integer(0, 255));
    rows.scale.push_back(g.uniform(0.01f, 0.1f));
  }
  with_activations(p, rows, [&](const auto& a) {
    EXPECT_TRUE(a.per_row());
    std::vector<float> want(11 * 40), got(11 * 40);
    lowbit::reference_gemm(a, p.w.data(), p.n, p.k, p.w_scales.data(), p.bias.data(), lowbit::output_float{},
                           want.data(), 40);
    lowbit::gemm(a, p.packed(GetParam()), lowbit::output_float{}, got.data(), 40, on(GetParam()));
    ASSERT_EQ(want, got);
  });
}

TEST_P(gemm, every_output_stage_matches_reference) {
  lowbit_test::rng g(45);
  const kernel_path path = GetParam();
  for (bool a_signed : {false, true}) {
    const problem p = make_problem(g, 19, 37, 53, a_signed, 2, true);
    const lowbit::packed_weights packed = p.packed(path);
    with_activations(p, [&](const auto& a) {
      const auto check = [&](const auto& stage) {
        using T = typename std::decay_t<decltype(stage)>::value_type;
        std::vector<T> want(static_cast<std::size_t>(p.m * p.n)), got(want.size());
        lowbit::reference_gemm(a, p.w.data(), p.n, p.k, p.w_scales.data(), p.bias.data(), stage, want.data(), p.n);
        lowbit::gemm(a, packed, stage, got.data(), p.n, on(path));
        ASSERT_EQ(want, got);
      };
      check(lowbit::output_int32{});
      check(lowbit::output_float{});
      check(lowbit::output_float{}.without_bias());
      check(lowbit::output_float{}.relu());
      check(lowbit::output_float{}.clamp(-0.5f, 0.25f));
      check(lowbit::output_float{}.requantize<lowbit::uint8>(0.05f, 100));
      check(lowbit::output_float{}.relu().requantize<lowbit::uint8>(0.02f, 0));
      check(lowbit::output_float{}.requantize<lowbit::int8>(0.03f, -3));
    });
  }
}

TEST_P(gemm, threads_and_custom_parallel_for_give_the_same_result) {
  lowbit_test::rng g(46);
  const problem p = make_problem(g, 67, 150, 200, true);
  expect_int32_equal(p, GetParam(), lowbit::context{}.with_threads(2));
  std::atomic<int> calls{0};
  lowbit::context custom;
  custom.threads = 3;
  custom.parallel_for = [&](index_t n, const lowbit::task_fn& task) {
    ++calls;
    for (index_t i = n; i-- > 0;) task(i);  // any order must do
  };
  expect_int32_equal(p, GetParam(), custom);
  EXPECT_GT(calls.load(), 0);
}

// A packed_weights knows the layout it holds: a GEMM on a path whose kernel reads another layout
// fails with a clear error, and repack() gives weights it can read.
TEST_P(gemm, weights_packed_for_another_layout_are_refused_or_repacked) {
  lowbit_test::rng g(49);
  const kernel_path path = GetParam();
  const problem p = make_problem(g, 5, 40, 24, false);
  for (kernel_path other : lowbit::supported_paths()) {
    const lowbit::packed_weights packed = p.packed(other);
    EXPECT_EQ(packed.packed_for(), other);
    const bool readable = packed.layout() == lowbit::kernels::gemm_layout(path);
    with_activations(p, [&](const auto& a) {
      std::vector<std::int32_t> want(static_cast<std::size_t>(p.m * p.n)), got(want.size());
      lowbit::reference_gemm(a, p.w.data(), p.n, p.k, p.w_scales.data(), nullptr, lowbit::output_int32{}, want.data(), p.n);
      if (readable) {
        lowbit::gemm(a, packed, lowbit::output_int32{}, got.data(), p.n, on(path));
        EXPECT_EQ(want, got) << lowbit::path_name(other) << " -> " << lowbit::path_name(path);
      } else {
        const std::string e = lowbit_test::error_of(
            [&] { lowbit::gemm(a, packed, lowbit::output_int32{}, got.data(), p.n, on(path)); });
        EXPECT_TRUE(lowbit_test::contains(e, "repack")) << e;
      }
      const lowbit::packed_weights again = packed.repack(path);
      lowbit::gemm(a, again, lowbit::output_int32{}, got.data(), p.n, on(path));
      EXPECT_EQ(want, got);
    });
  }
}

// Depths beyond one depth block carry the int32 sums between blocks; every stage, per-row zero
// points and a bias, M around the strip sizes.
TEST_P(gemm, depth_blocks_carry_the_sums) {
  lowbit_test::rng g(51);
  const kernel_path path = GetParam();
  for (index_t m : {1, 5, 7, 13, 25}) {
    for (bool a_signed : {false, true}) {
      problem p = make_problem(g, m, 70, 6007, a_signed, 0, true);
      lowbit::qparams rows;
      for (index_t i = 0; i < m; ++i) {
        rows.zero_point.push_back(a_signed ? g.integer(-128, 127) : g.integer(0, 255));
        rows.scale.push_back(g.uniform(0.001f, 0.01f));
      }
      const lowbit::packed_weights packed = p.packed(path);
      with_activations(p, rows, [&](const auto& a) {
        const auto check = [&](const auto& stage) {
          using T = typename std::decay_t<decltype(stage)>::value_type;
          std::vector<T> want(static_cast<std::size_t>(p.m * p.n)), got(want.size());
          lowbit::reference_gemm(a, p.w.data(), p.n, p.k, p.w_scales.data(), p.bias.data(), stage, want.data(), p.n);
          lowbit::gemm(a, packed, stage, got.data(), p.n, on(path));
          ASSERT_EQ(want, got) << "M " << m << " signed " << a_signed;
        };
        check(lowbit::output_int32{});
        check(lowbit::output_float{}.relu());
        check(lowbit::output_float{}.requantize<lowbit::int8>(0.5f, 3));
      });
    }
  }
}

// uint7 activations (codes 0..127): on avx2 the 7-bit vpmaddubsw kernel, exact there because no
// pair of products can saturate; on every path the same sums as the reference, including the
// extreme pairs 127 x -128 and 127 x 127.
TEST_P(gemm, seven_bit_activations_are_exact) {
  lowbit_test::rng g(52);
  const kernel_path path = GetParam();
  const auto run = [&](index_t m, index_t n, index_t k, std::uint8_t fill, std::int8_t wfill, std::int32_t za) {
    problem p = make_problem(g, m, n, k, false);
    if (fill != 0) std::fill(p.a.begin(), p.a.end(), fill);
    if (wfill != 0) std::fill(p.w.begin(), p.w.end(), wfill);
    for (auto& v : p.a) v = static_cast<std::uint8_t>(v & 0x7F);
    const lowbit::activations<lowbit::uint7> a(p.a.data(), p.m, p.k, p.lda, {0.01f, za});
    const lowbit::packed_weights packed = p.packed(path);
    std::vector<std::int32_t> want(static_cast<std::size_t>(m * n)), got(want.size());
    lowbit::reference_gemm(a, p.w.data(), p.n, p.k, p.w_scales.data(), nullptr, lowbit::output_int32{}, want.data(), p.n);
    lowbit::gemm(a, packed, lowbit::output_int32{}, got.data(), p.n, on(path));
    ASSERT_EQ(want, got) << "M " << m << " N " << n << " K " << k;
  };
  for (index_t m : {1, 2, 3, 6, 7, 13}) run(m, 33, 70, 0, 0, 64);
  run(9, 17, 1024, 127, -128, 0);
  run(9, 17, 1024, 127, 127, 127);
  run(4, 40, 6007, 0, 0, 5);
  // Codes outside uint7's range are refused, not silently saturated.
  const std::uint8_t bad[4] = {1, 2, 200, 3};
  EXPECT_THROW((lowbit::activations<lowbit::uint7>(bad, 1, 4, 4, {0.1f, 0})), lowbit::error);
}

// Thread safety (README): packed weights and activations are only read by a GEMM, so several
// threads may run GEMMs on the same operands at once.
TEST_P(gemm, concurrent_products_share_their_operands) {
  lowbit_test::rng g(53);
  const problem p = make_problem(g, 21, 150, 300, false);
  const lowbit::packed_weights packed = p.packed(GetParam());
  with_activations(p, [&](const auto& a) {
    std::vector<std::int32_t> want(static_cast<std::size_t>(p.m * p.n));
    lowbit::reference_gemm(a, p.w.data(), p.n, p.k, p.w_scales.data(), nullptr, lowbit::output_int32{}, want.data(), p.n);
    std::vector<std::vector<std::int32_t>> got(3, std::vector<std::int32_t>(want.size()));
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t)
      threads.emplace_back([&, t] {
        lowbit::gemm(a, packed, lowbit::output_int32{}, got[static_cast<std::size_t>(t)].data(), p.n,
                     on(GetParam()).with_threads(2));
      });
    for (auto& t : threads) t.join();
    for (const auto& r : got) EXPECT_EQ(r, want);
  });
}

LOWBIT_INSTANTIATE_FOR_PATHS(gemm);

// ---------------------------------------------------------------------------------------------
// Path-independent behaviour.

TEST(gemm_output, stages_follow_their_formulas) {
  // One output element, checked against the formulas of gemm/output.hpp written out here.
  const std::int8_t w[4] = {3, -5, 7, 1};
  const std::uint8_t a[4] = {10, 200, 0, 255};
  const std::int32_t za = 100;
  const std::int32_t acc = (10 - 100) * 3 + (200 - 100) * -5 + (0 - 100) * 7 + (255 - 100) * 1;
  const float sa = 0.03f, sw = 0.011f, bias = 0.7f;
  const lowbit::packed_weights pw = lowbit::packed_weights::pack(w, 1, 4, 4, {sw}, std::vector<float>{bias});
  const lowbit::activations<lowbit::uint8> act(a, 1, 4, 4, {sa, za});
  std::int32_t r32 = 0;
  lowbit::gemm(act, pw, lowbit::output_int32{}, &r32, 1);
  EXPECT_EQ(r32, acc);
  float y = 0;
  lowbit::gemm(act, pw, lowbit::output_float{}, &y, 1);
  EXPECT_EQ(y, std::fma(static_cast<float>(acc), sa * sw, bias));
  lowbit::gemm(act, pw, lowbit::output_float{}.without_bias(), &y, 1);
  EXPECT_EQ(y, static_cast<float>(acc) * (sa * sw));
  lowbit::gemm(act, pw, lowbit::output_float{}.relu(), &y, 1);
  EXPECT_EQ(y, std::max(0.f, std::fma(static_cast<float>(acc), sa * sw, bias)));
  std::uint8_t q = 0;
  lowbit::gemm(act, pw, lowbit::output_float{}.requantize<lowbit::uint8>(0.01f, 50), &q, 1);
  const float yf = std::fma(static_cast<float>(acc), sa * sw, bias);
  EXPECT_EQ(q, std::clamp(static_cast<int>(std::nearbyint(yf * (1.0f / 0.01f))) + 50, 0, 255));
  lowbit::gemm(act, pw, lowbit::output_float{}.requantize<lowbit::uint8>(1e-4f, 3), &q, 1);
  EXPECT_EQ(q, yf < 0 ? 0 : 255);  // saturates
}

// Issue 13, finding 9: clamp(NaN, 1) silently dropped the bound. A NaN bound is now kept and the
// GEMM rejects the stage.
TEST(gemm_output, nan_clamp_bounds_are_rejected) {
  const auto stage = lowbit::output_float{}.clamp(std::numeric_limits<float>::quiet_NaN(), 1.f);
  EXPECT_TRUE(std::isnan(stage.lo));
  EXPECT_THROW(lowbit::detail::check_output(stage), lowbit::error);
  EXPECT_THROW(lowbit::detail::check_output(lowbit::output_float{}.relu().clamp(0.f, std::nanf(""))), lowbit::error);
  EXPECT_THROW(lowbit::detail::check_output(lowbit::output_float{}.clamp(2.f, 1.f)), lowbit::error);
  EXPECT_NO_THROW(lowbit::detail::check_output(lowbit::output_float{}.clamp(-1.f, 1.f).relu()));
}

TEST(gemm_errors, bad_arguments) {
  const std::int8_t w[8] = {};
  const std::uint8_t a[8] = {};
  using act = lowbit::activations<lowbit::uint8>;
  const auto pw = lowbit::packed_weights::pack(w, 2, 4, 4, {1.f, 1.f});
  std::int32_t c[4];
  EXPECT_THROW(lowbit::gemm(act(a, 2, 3, 3, {1.f, 0}), pw, lowbit::output_int32{}, c, 2), lowbit::error);  // K mismatch
  EXPECT_THROW(act(a, 2, 4, 4, {1.f, 256}), lowbit::error);  // zero point outside uint8
  EXPECT_THROW(act(a, 2, 4, 2, {1.f, 0}), lowbit::error);    // leading dimension < K
  EXPECT_THROW(act(a, 2, 4, 4, lowbit::qparams({1.f, 1.f, 1.f}, {0, 0, 0})), lowbit::error);  // neither 1 nor M slots
  EXPECT_THROW(lowbit::activations<lowbit::int8>(nullptr, 2, 4, 4, {1.f, 0}), lowbit::error);
  EXPECT_THROW(lowbit::gemm(act(a, 2, 4, 4, {1.f, 0}), pw, lowbit::output_int32{}, c, 1), lowbit::error);  // ldc < N
  EXPECT_THROW(act(a, 2, 4, 4, {0.f, 0}), lowbit::error);  // zero activation scale
  std::uint8_t q[4];
  EXPECT_THROW(lowbit::gemm(act(a, 2, 4, 4, {1.f, 0}), pw, lowbit::output_float{}.requantize<lowbit::uint8>(1.f, 300), q, 2),
               lowbit::error);
  std::vector<std::int8_t> big(static_cast<std::size_t>(lowbit::gemm_max_k + 1));
  EXPECT_THROW(lowbit::packed_weights::pack(big.data(), 1, lowbit::gemm_max_k + 1, lowbit::gemm_max_k + 1, {1.f}),
               lowbit::error);
  EXPECT_THROW(lowbit::packed_weights::pack(w, 2, 4, 4, {1.f, 0.f}), lowbit::error);
  EXPECT_THROW(lowbit::packed_weights::pack(w, 2, 4, 4, {1.f, 1.f, 1.f}), lowbit::error);
  for (kernel_path p : lowbit::all_paths) {  // a path the CPU lacks is an error, not SIGILL
    if (!lowbit::path_supported(p)) {
      EXPECT_THROW(lowbit::gemm(act(a, 2, 4, 4, {1.f, 0}), pw, lowbit::output_int32{}, c, 2, on(p)), lowbit::error);
      EXPECT_THROW(lowbit::packed_weights::pack(w, 2, 4, 4, {1.f}, {}, on(p)), lowbit::error);
    }
  }
  float f[4];
  const auto huge = lowbit::packed_weights::pack(w, 2, 4, 4, {3e38f, 1.f});
  EXPECT_THROW(lowbit::gemm(act(a, 2, 4, 4, {10.f, 0}), huge, lowbit::output_float{}, f, 2), lowbit::error);  // scale product overflows
  // Empty products are fine and write nothing.
  EXPECT_NO_THROW(lowbit::gemm(act(a, 0, 4, 4, {1.f, 0}), pw, lowbit::output_int32{}, c, 2));
}

// Issue 13, finding 6: K = 0 with N > 1 added an offset to a null pointer. Every output is the
// empty sum (0, or the bias).
TEST(gemm_errors, empty_depth_gives_zeros_or_the_bias) {
  for (index_t n : {1, 2, 17}) {
    std::vector<float> bias(static_cast<std::size_t>(n), 0.5f);
    const auto pw = lowbit::packed_weights::pack(nullptr, n, 0, 0, {1.f}, bias);
    EXPECT_EQ(pw.k(), 0);
    const std::uint8_t* none = nullptr;
    std::vector<float> y(static_cast<std::size_t>(3 * n), -1.f);
    lowbit::gemm(lowbit::activations<lowbit::uint8>(none, 3, 0, 0, {0.1f, 7}), pw, lowbit::output_float{}, y.data(), n);
    for (float v : y) EXPECT_EQ(v, 0.5f);
    std::vector<std::int32_t> c(static_cast<std::size_t>(3 * n), -1);
    lowbit::gemm(lowbit::activations<lowbit::uint8>(none, 3, 0, 0, {0.1f, 7}), pw, lowbit::output_int32{}, c.data(), n);
    for (auto v : c) EXPECT_EQ(v, 0);
  }
}

TEST(activations, from_a_quantized_tensor) {
  lowbit_test::rng g(50);
  const auto x = g.normal_matrix(6, 10);
  const auto rows = lowbit::quantizer<lowbit::uint8, lowbit::affine, lowbit::per_channel>(lowbit::per_channel(0)).quantize(x);
  const lowbit::activations<lowbit::uint8> a(rows);
  EXPECT_TRUE(a.per_row());
  EXPECT_EQ(a.rows(), 6);
  EXPECT_EQ(a.cols(), 10);
  for (index_t m = 0; m < 6; ++m) {
    EXPECT_EQ(a.scale(m), rows.params().scale[static_cast<std::size_t>(m)]);
    for (index_t k = 0; k < 10; ++k) EXPECT_EQ(a.code(m, k), rows.code(m * 10 + k));
  }
  const auto tensor = lowbit::quantizer<lowbit::int8, lowbit::symmetric>().quantize(x);
  EXPECT_FALSE(lowbit::activations<lowbit::int8>(tensor).per_row());
  // Per column or per group is not a GEMM operand.
  const auto cols = lowbit::quantizer<lowbit::uint8, lowbit::affine, lowbit::per_channel>(lowbit::per_channel(1)).quantize(x);
  EXPECT_THROW((lowbit::activations<lowbit::uint8>(cols)), lowbit::error);
}

TEST(packed_weights, layout_reads_back_and_sums) {
  lowbit_test::rng g(47);
  for (kernel_path path : lowbit::supported_paths()) {
    const index_t nr = lowbit::kernels::gemm_layout(path).nr;
    for (index_t n : {1, 15, 16, 17, 40, 65}) {
      for (index_t k : {1, 3, 4, 5, 67}) {
        std::vector<std::int8_t> w(static_cast<std::size_t>(n * k));
        for (auto& v : w) v = static_cast<std::int8_t>(g.integer(-128, 127));
        const auto p = lowbit::packed_weights::pack(w.data(), n, k, k, {0.5f}, {}, on(path));
        EXPECT_EQ(p.panels(), (n + nr - 1) / nr);
        EXPECT_EQ(p.k_padded() % 4, 0);
        EXPECT_EQ(p.per_tensor_scale(), n > 1);  // one channel: per tensor and per channel alike
        for (index_t r = 0; r < n; ++r) {
          std::int32_t sum = 0;
          for (index_t kk = 0; kk < k; ++kk) {
            ASSERT_EQ(p.code(r, kk), w[static_cast<std::size_t>(r * k + kk)]);
            sum += w[static_cast<std::size_t>(r * k + kk)];
          }
          EXPECT_EQ(p.column_sums()[r], sum);
          EXPECT_EQ(p.scales()[r], 0.5f);
        }
        // Byte layout: panel p, quad q, column j, depth t at p * NR * kp + (q * NR + j) * 4 + t.
        if (n > 1 && k > 4) {
          EXPECT_EQ(p.panel(0)[nr * 4 + 1 * 4 + 0], w[static_cast<std::size_t>(1 * k + 4)]);
        }
        if (n > nr && k > 1) {
          EXPECT_EQ(p.panel(1)[1], w[static_cast<std::size_t>(nr * k + 1)]);
        }
      }
    }
  }
}

TEST(packed_weights, from_a_quantized_tensor_and_byte_counts) {
  lowbit_test::rng g(48);
  const auto w = g.normal_matrix(20, 30);
  lowbit::quantizer<lowbit::int8, lowbit::symmetric, lowbit::per_channel> q(lowbit::per_channel(0));
  const auto t = q.quantize(w);
  const lowbit::packed_weights p(t);
  for (index_t r = 0; r < 20; ++r) {
    EXPECT_EQ(p.scales()[r], t.params().scale[static_cast<std::size_t>(r)]);
    for (index_t k = 0; k < 30; ++k) ASSERT_EQ(p.code(r, k), t.code(r * 30 + k));
  }
  EXPECT_EQ(p.payload_bytes(), t.bytes());  // what the demo counts, without quantizing twice
  const auto tt = lowbit::quantizer<lowbit::int8, lowbit::symmetric>().quantize(w);
  const lowbit::packed_weights pt(tt, Eigen::VectorXf::Ones(20));  // an Eigen bias
  EXPECT_TRUE(pt.per_tensor_scale());
  EXPECT_EQ(pt.scales()[0], pt.scales()[19]);
  EXPECT_EQ(pt.bias()[19], 1.f);
  EXPECT_EQ(pt.payload_bytes(), tt.bytes());
  // Weights that are not int8 symmetric per output channel are refused.
  const auto by_col = lowbit::quantizer<lowbit::int8, lowbit::symmetric, lowbit::per_channel>(lowbit::per_channel(1)).quantize(w);
  EXPECT_THROW(lowbit::packed_weights{by_col}, lowbit::error);
  const auto affine = lowbit::quantizer<lowbit::int8, lowbit::affine>().quantize(w);
  EXPECT_THROW(lowbit::packed_weights{affine}, lowbit::error);
}

}  // namespace
