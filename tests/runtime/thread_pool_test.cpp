// runtime/thread_pool.hpp: the default pool runs nested loops inline and delivers exceptions.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "lowbit/runtime/thread_pool.hpp"

namespace {

using lowbit::index_t;

TEST(thread_pool, runs_every_index_once) {
  lowbit::thread_pool pool(3);
  EXPECT_EQ(pool.size(), 3);
  std::vector<std::atomic<int>> hits(1000);
  pool.parallel_for(1000, [&](index_t i) { ++hits[static_cast<std::size_t>(i)]; });
  for (const auto& h : hits) ASSERT_EQ(h.load(), 1);
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
  // The pool is usable again after an exception.
  std::atomic<int> after{0};
  pool.parallel_for(10, [&](index_t) { ++after; });
  EXPECT_EQ(after.load(), 10);
}

TEST(thread_pool, loops_from_several_threads_queue_and_all_finish) {
  lowbit::thread_pool pool(2);
  std::atomic<int> total{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 4; ++c)
    callers.emplace_back([&] { pool.parallel_for(50, [&](index_t) { ++total; }); });
  for (auto& t : callers) t.join();
  EXPECT_EQ(total.load(), 200);
}

TEST(thread_pool, max_threads_setting) {
  const int before = lowbit::max_threads();
  lowbit::set_max_threads(0);  // clamped to 1
  EXPECT_EQ(lowbit::max_threads(), 1);
  lowbit::set_max_threads(before);
  EXPECT_EQ(lowbit::max_threads(), before);
}

}  // namespace
