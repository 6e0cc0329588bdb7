// tensor/engine.hpp: whole-tensor work split among threads gives what one thread gives, for every
// format, granularity and layout (sub-byte tasks must start on byte boundaries).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "lowbit/lowbit.hpp"
#include "support/random.hpp"

namespace {

using lowbit::index_t;

/// A context whose pool runs tasks in reverse order on the calling thread: a task boundary that
/// shares a byte with its neighbour shows up as a difference.
lowbit::context reversed(int threads) {
  lowbit::context ctx;
  ctx.threads = threads;
  ctx.parallel_for = [](index_t n, const lowbit::task_fn& task) {
    for (index_t i = n; i-- > 0;) task(i);
  };
  return ctx;
}

template <class F, class S, class G>
void check_threads_agree(const G& granularity, index_t rows, index_t cols, lowbit_test::rng& g) {
  SCOPED_TRACE(std::string(F::name) + " " + std::to_string(rows) + "x" + std::to_string(cols));
  const auto x = g.normal_matrix(rows, cols);
  const lowbit::quantizer<F, S, G> q(granularity);
  const lowbit::context one = lowbit::context{}.with_threads(1);
  const auto ref = q.quantize(x, one);
  for (const lowbit::context& ctx : {lowbit::context{}.with_threads(2), reversed(3), reversed(7)}) {
    EXPECT_EQ(q.observe(x, ctx), q.observe(x, one));
    const auto got = q.quantize(x, ctx);
    ASSERT_EQ(got.data(), ref.data());
    ASSERT_EQ(got.params(), ref.params());
    const lowbit::row_matrix a = ref.dequantize(one), b = got.dequantize(ctx);
    ASSERT_EQ(0, std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<std::size_t>(a.size())));
  }
}

TEST(engine, threads_give_the_single_thread_result) {
  lowbit_test::rng g(90);
  // 257 x 1031 = 264,967 elements: above the parallel threshold, odd sizes so that rows, channels
  // and groups start inside bytes of the packed sub-byte codes.
  check_threads_agree<lowbit::int8, lowbit::symmetric>(lowbit::per_tensor{}, 257, 1031, g);
  check_threads_agree<lowbit::int4, lowbit::affine>(lowbit::per_tensor{}, 257, 1031, g);
  check_threads_agree<lowbit::int4, lowbit::symmetric>(lowbit::per_channel(0), 257, 1031, g);
  check_threads_agree<lowbit::uint4, lowbit::affine>(lowbit::per_channel(1), 257, 1031, g);
  check_threads_agree<lowbit::int2, lowbit::affine>(lowbit::per_group(1, 33), 257, 1031, g);
  check_threads_agree<lowbit::uint2, lowbit::affine>(lowbit::per_group(0, 5), 257, 1031, g);
  check_threads_agree<lowbit::uint8, lowbit::affine>(lowbit::per_group(1, 64), 300, 1000, g);
}

TEST(engine, a_bad_value_found_by_a_worker_is_reported_by_position) {
  lowbit_test::rng g(91);
  auto x = g.normal_matrix(600, 600);
  x(599, 598) = std::numeric_limits<float>::quiet_NaN();
  x(300, 1) = std::numeric_limits<float>::quiet_NaN();
  const lowbit::quantizer<lowbit::int4, lowbit::symmetric> q;
  try {
    (void)q.quantize(x, reversed(4));
    FAIL() << "NaN must be an error";
  } catch (const lowbit::error& e) {
    EXPECT_NE(std::string(e.what()).find("index [300, 1]"), std::string::npos) << e.what();  // the first one
  }
}

}  // namespace
