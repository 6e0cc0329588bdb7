// The int8 GEMM on every path against the reference: int32 exactly over the shapes that catch
// tiling bugs, zero points, extreme operands, every output stage, threads. Also compiled as
// lowbit_emulated_x86_tests (AVX2 / AVX-512 / VNNI on SIMDe) and for AArch64 (neondot under qemu).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "lowbit/lowbit.hpp"
#include "support/paths.hpp"
#include "support/random.hpp"

namespace {

using lowbit::index_t;
using lowbit::isa;

struct problem {
  index_t m, n, k;
  std::vector<std::uint8_t> a;   // codes, row-major with ld = lda
  index_t lda;
  bool a_signed;
  std::int32_t za;
  std::vector<std::int8_t> w;    // [n, k] row-major
  std::vector<float> w_scales, bias;
  lowbit::packed_weights packed;
};

problem make_problem(lowbit_test::rng& g, index_t m, index_t n, index_t k, bool a_signed,
                     index_t pad = 0, bool with_bias = false) {
  problem p{m, n, k, {}, k + pad, a_signed, 0, {}, {}, {}, {}};
  p.a.resize(static_cast<std::size_t>(std::max<index_t>(1, m * p.lda)));
  for (auto& v : p.a) v = static_cast<std::uint8_t>(g.integer(0, 255));
  p.za = a_signed ? g.integer(-128, 127) : g.integer(0, 255);
  p.w.resize(static_cast<std::size_t>(std::max<index_t>(1, n * k)));
  for (auto& v : p.w) v = static_cast<std::int8_t>(g.integer(-128, 127));
  for (index_t j = 0; j < n; ++j) p.w_scales.push_back(g.uniform(0.001f, 0.05f));
  if (with_bias)
    for (index_t j = 0; j < n; ++j) p.bias.push_back(g.uniform(-2.f, 2.f));
  p.packed = lowbit::packed_weights::pack(p.w.data(), n, k, k, p.w_scales, p.bias);
  return p;
}

lowbit::quantized_activations view(const problem& p) {
  lowbit::quantized_activations a(p.a.data(), p.m, p.k, p.lda, p.za, 0.02f);
  a.is_signed = p.a_signed;
  return a;
}

void expect_int32_equal(const problem& p, isa path, const lowbit::execution& ex = lowbit::execution{}) {
  const lowbit::quantized_activations a = view(p);
  std::vector<std::int32_t> want(static_cast<std::size_t>(p.m * p.n) + 1, -7), got(want);
  lowbit::reference_gemm(a, p.w.data(), p.n, p.k, p.w_scales.data(), nullptr, lowbit::output_int32{},
                         want.data(), p.n);
  lowbit::gemm(a, p.packed, lowbit::output_int32{}, got.data(), p.n, ex, path);
  ASSERT_EQ(want, got) << "M " << p.m << " N " << p.n << " K " << p.k << " signed " << p.a_signed
                       << " za " << p.za << " path " << lowbit::isa_name(path);
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
  const index_t edges[] = {15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 255, 256, 257};
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
  const isa path = GetParam();
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
      const index_t m = k == lowbit::gemm_max_k ? 2 : 7, n = k == lowbit::gemm_max_k ? 17 : 33;
      problem p{m, n, k, std::vector<std::uint8_t>(static_cast<std::size_t>(m * k), e.a_code), k,
                e.a_signed, e.za, std::vector<std::int8_t>(static_cast<std::size_t>(n * k), e.w_code),
                std::vector<float>(static_cast<std::size_t>(n), 0.01f), {}, {}};
      p.packed = lowbit::packed_weights::pack(p.w.data(), n, k, k, p.w_scales);
      expect_int32_equal(p, path);
      // The true value is known: K * (a - za) * w.
      std::vector<std::int32_t> got(static_cast<std::size_t>(m * n));
      lowbit::gemm(view(p), p.packed, lowbit::output_int32{}, got.data(), n, {}, path);
      const std::int32_t a_value = e.a_signed ? static_cast<std::int8_t>(e.a_code) : e.a_code;
      EXPECT_EQ(got[0], static_cast<std::int64_t>(k) * (a_value - e.za) * e.w_code);
    }
  }
}

TEST_P(gemm, per_row_zero_points_and_scales) {
  lowbit_test::rng g(44);
  problem p = make_problem(g, 11, 40, 70, false, 0, true);
  std::vector<std::int32_t> zps(11);
  std::vector<float> scales(11);
  for (int i = 0; i < 11; ++i) {
    zps[i] = g.integer(0, 255);
    scales[i] = g.uniform(0.01f, 0.1f);
  }
  lowbit::quantized_activations a = view(p);
  a.row_zero_points = zps.data();
  a.row_scales = scales.data();
  std::vector<float> want(11 * 40), got(11 * 40);
  lowbit::reference_gemm(a, p.w.data(), p.n, p.k, p.w_scales.data(), p.bias.data(), lowbit::output_float{},
                         want.data(), 40);
  lowbit::gemm(a, p.packed, lowbit::output_float{}, got.data(), 40, {}, GetParam());
  ASSERT_EQ(want, got);
}

TEST_P(gemm, every_output_stage_matches_reference) {
  lowbit_test::rng g(45);
  const isa path = GetParam();
  for (bool a_signed : {false, true}) {
    problem p = make_problem(g, 19, 37, 53, a_signed, 2, true);
    const lowbit::quantized_activations a = view(p);
    const auto check = [&](const auto& stage, auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      std::vector<T> want(static_cast<std::size_t>(p.m * p.n)), got(want.size());
      lowbit::reference_gemm(a, p.w.data(), p.n, p.k, p.w_scales.data(), p.bias.data(), stage, want.data(), p.n);
      lowbit::gemm(a, p.packed, stage, got.data(), p.n, {}, path);
      ASSERT_EQ(want, got);
    };
    check(lowbit::output_float{}, static_cast<float*>(nullptr));
    check(lowbit::output_float{}.without_bias(), static_cast<float*>(nullptr));
    check(lowbit::output_float{}.relu(), static_cast<float*>(nullptr));
    check(lowbit::output_float{}.clamp(-0.5f, 0.25f), static_cast<float*>(nullptr));
    check(lowbit::output_float{}.requantize<lowbit::uint8>(0.05f, 100), static_cast<std::uint8_t*>(nullptr));
    check(lowbit::output_float{}.relu().requantize<lowbit::uint8>(0.02f, 0), static_cast<std::uint8_t*>(nullptr));
    check(lowbit::output_float{}.requantize<lowbit::int8>(0.03f, -3), static_cast<std::int8_t*>(nullptr));
  }
}

TEST_P(gemm, threads_and_custom_parallel_for_give_the_same_result) {
  lowbit_test::rng g(46);
  problem p = make_problem(g, 67, 150, 200, true);
  lowbit::execution two;
  two.threads = 2;
  expect_int32_equal(p, GetParam(), two);
  std::atomic<int> calls{0};
  lowbit::execution custom;
  custom.threads = 3;
  custom.parallel_for = [&](index_t n, const lowbit::task_fn& task) {
    ++calls;
    for (index_t i = n; i-- > 0;) task(i);  // any order must do
  };
  expect_int32_equal(p, GetParam(), custom);
  EXPECT_GT(calls.load(), 0);
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
  const lowbit::packed_weights pw = lowbit::packed_weights::pack(w, 1, 4, 4, {sw}, {bias});
  const lowbit::quantized_activations act(a, 1, 4, 4, za, sa);
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

TEST(gemm_errors, bad_arguments) {
  const std::int8_t w[8] = {};
  const std::uint8_t a[8] = {};
  const auto pw = lowbit::packed_weights::pack(w, 2, 4, 4, {1.f, 1.f});
  std::int32_t c[4];
  EXPECT_THROW(lowbit::gemm(lowbit::quantized_activations(a, 2, 3, 3), pw, lowbit::output_int32{}, c, 2),
               lowbit::error);  // K mismatch
  EXPECT_THROW(lowbit::gemm(lowbit::quantized_activations(a, 2, 4, 4, 256), pw, lowbit::output_int32{}, c, 2),
               lowbit::error);  // zero point outside uint8
  EXPECT_THROW(lowbit::gemm(lowbit::quantized_activations(a, 2, 4, 2), pw, lowbit::output_int32{}, c, 2),
               lowbit::error);  // leading dimension < K
  EXPECT_THROW(lowbit::gemm(lowbit::quantized_activations(a, 2, 4, 4), pw, lowbit::output_int32{}, c, 1),
               lowbit::error);  // ldc < N
  float f[4];
  EXPECT_THROW(lowbit::gemm(lowbit::quantized_activations(a, 2, 4, 4, 0, 0.f), pw, lowbit::output_float{}, f, 2),
               lowbit::error);  // zero activation scale
  std::uint8_t q[4];
  EXPECT_THROW(lowbit::gemm(lowbit::quantized_activations(a, 2, 4, 4), pw,
                            lowbit::output_float{}.requantize<lowbit::uint8>(1.f, 300), q, 2),
               lowbit::error);
  std::vector<std::int8_t> big(static_cast<std::size_t>(lowbit::gemm_max_k + 1));
  EXPECT_THROW(lowbit::packed_weights::pack(big.data(), 1, lowbit::gemm_max_k + 1, lowbit::gemm_max_k + 1, {1.f}),
               lowbit::error);
  EXPECT_THROW(lowbit::packed_weights::pack(w, 2, 4, 4, {1.f, 0.f}), lowbit::error);
  EXPECT_THROW(lowbit::packed_weights::pack(w, 2, 4, 4, {1.f, 1.f, 1.f}), lowbit::error);
  for (lowbit::isa p : lowbit::all_isas) {  // a path the CPU lacks is an error, not SIGILL
    if (!lowbit::isa_supported(p)) {
      EXPECT_THROW(lowbit::gemm(lowbit::quantized_activations(a, 2, 4, 4), pw, lowbit::output_int32{}, c, 2, {}, p),
                   lowbit::error);
    }
  }
  const auto huge = lowbit::packed_weights::pack(w, 2, 4, 4, {3e38f, 1.f});
  EXPECT_THROW(lowbit::gemm(lowbit::quantized_activations(a, 2, 4, 4, 0, 10.f), huge, lowbit::output_float{}, f, 2),
               lowbit::error);  // scale product overflows
  EXPECT_THROW(lowbit::static_linear<lowbit::uint8>().forward(a, 1, 4, f, 2, lowbit::output_float{}), lowbit::error);
  // Empty products are fine and write nothing.
  EXPECT_NO_THROW(lowbit::gemm(lowbit::quantized_activations(a, 0, 4, 4), pw, lowbit::output_int32{}, c, 2));
}

TEST(thread_pool, nested_calls_run_inline_and_errors_reach_the_caller) {
  lowbit::thread_pool pool(2);
  std::atomic<int> calls{0};
  pool.parallel_for(4, [&](index_t) {
    pool.parallel_for(3, [&](index_t) { ++calls; });  // would deadlock if not run inline
  });
  EXPECT_EQ(calls.load(), 12);
  EXPECT_THROW(pool.parallel_for(8, [](index_t i) {
                 if (i == 5) throw std::runtime_error("task 5");
               }),
               std::runtime_error);
  // execution limits concurrency to `threads` even on a bigger pool.
  std::atomic<int> running{0}, most{0};
  lowbit::execution ex;
  ex.threads = 2;
  ex.parallel_for = [](index_t n, const lowbit::task_fn& task) {
    std::vector<std::thread> ts;
    for (index_t i = 0; i < n; ++i) ts.emplace_back([&task, i] { task(i); });
    for (auto& t : ts) t.join();
  };
  ex.run(16, [&](index_t) {
    const int now = ++running;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    --running;
  });
  EXPECT_LE(most.load(), 2);
}

TEST(packed_weights, layout_reads_back_and_sums) {
  lowbit_test::rng g(47);
  for (index_t n : {1, 15, 16, 17, 40}) {
    for (index_t k : {1, 3, 4, 5, 67}) {
      std::vector<std::int8_t> w(static_cast<std::size_t>(n * k));
      for (auto& v : w) v = static_cast<std::int8_t>(g.integer(-128, 127));
      const auto p = lowbit::packed_weights::pack(w.data(), n, k, k, {0.5f});
      EXPECT_EQ(p.panels(), (n + 15) / 16);
      EXPECT_EQ(p.k_padded() % 4, 0);
      EXPECT_EQ(p.per_tensor_scale(), n > 1);  // one channel: per tensor and per channel alike
      for (index_t r = 0; r < n; ++r) {
        std::int32_t sum = 0;
        for (index_t kk = 0; kk < k; ++kk) {
          ASSERT_EQ(p.code(r, kk), w[r * k + kk]);
          sum += w[r * k + kk];
        }
        EXPECT_EQ(p.column_sums()[r], sum);
        EXPECT_EQ(p.scales()[r], 0.5f);
      }
      // Byte layout: panel p, quad q, column j, depth t at p * 16 * kp + q * 64 + j * 4 + t.
      if (n > 1 && k > 4) {
        EXPECT_EQ(p.panel(0)[64 + 1 * 4 + 0], w[1 * k + 4]);
      }
    }
  }
}

TEST(packed_weights, from_float_matches_the_quantizer) {
  lowbit_test::rng g(48);
  const auto w = g.normal_matrix(20, 30);
  const auto p = lowbit::packed_weights::quantize(w);
  lowbit::quantizer<lowbit::int8, lowbit::symmetric, lowbit::per_channel> q(lowbit::per_channel(0));
  const auto t = q.quantize(w);
  for (index_t r = 0; r < 20; ++r) {
    EXPECT_EQ(p.scales()[r], t.params().scale[static_cast<std::size_t>(r)]);
    for (index_t k = 0; k < 30; ++k) ASSERT_EQ(p.code(r, k), t.code(r * 30 + k));
  }
  const auto pt = lowbit::packed_weights::quantize(w, lowbit::weight_scales::per_tensor);
  EXPECT_TRUE(pt.per_tensor_scale());
  EXPECT_EQ(pt.scales()[0], pt.scales()[19]);
}

}  // namespace
