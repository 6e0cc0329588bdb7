// runtime/context.hpp: a context limits concurrency, runs inline when asked, plugs in any pool, carries the path.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "lowbit/runtime/context.hpp"

namespace {

using lowbit::index_t;

TEST(context, limits_concurrency_even_on_a_bigger_pool) {
  std::atomic<int> running{0}, most{0};
  lowbit::context ctx;
  ctx.threads = 2;
  ctx.parallel_for = [](index_t n, const lowbit::task_fn& task) {  // one OS thread per worker
    std::vector<std::thread> ts;
    for (index_t i = 0; i < n; ++i) ts.emplace_back([&task, i] { task(i); });
    for (auto& t : ts) t.join();
  };
  std::atomic<int> done{0};
  ctx.run(16, [&](index_t) {
    const int now = ++running;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    --running;
    ++done;
  });
  EXPECT_LE(most.load(), 2);
  EXPECT_EQ(done.load(), 16);
}

TEST(context, one_thread_runs_inline_in_order) {
  const auto ctx = lowbit::context{}.with_threads(1);
  const auto caller = std::this_thread::get_id();
  std::vector<index_t> order;
  ctx.run(5, [&](index_t i) {
    EXPECT_EQ(std::this_thread::get_id(), caller);
    order.push_back(i);
  });
  EXPECT_EQ(order, (std::vector<index_t>{0, 1, 2, 3, 4}));
}

TEST(context, first_exception_reaches_the_caller_and_stops_the_rest) {
  lowbit::context ctx;
  ctx.threads = 2;
  std::atomic<int> ran{0};
  EXPECT_THROW(ctx.run(1000,
                       [&](index_t i) {
                         ++ran;
                         if (i == 3) throw std::runtime_error("task 3");
                         std::this_thread::sleep_for(std::chrono::microseconds(100));
                       }),
               std::runtime_error);
  EXPECT_LT(ran.load(), 1000);  // the remaining tasks were skipped
}

TEST(context, carries_the_active_path_by_default) {
  EXPECT_EQ(lowbit::context{}.path, lowbit::active_path());
  EXPECT_EQ(lowbit::context{}.with_path(lowbit::kernel_path::scalar).path, lowbit::kernel_path::scalar);
}

}  // namespace
