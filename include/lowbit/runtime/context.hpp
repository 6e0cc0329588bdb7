// lowbit/runtime/context.hpp: how an operation runs: its threads and its kernel path, in one object (as ruy's Context).
//
// Every operation that computes takes a `const context&`, defaulting to context{}: lowbit's pool
// with max_threads() threads and the active kernel path.
//
//   lowbit::context ctx;                        // all hardware threads, the best path
//   ctx.threads = 1;                            // run on the calling thread only
//   ctx.path = lowbit::kernel_path::avx2;       // force a path (must be supported here)
//   ctx.parallel_for = [&](lowbit::index_t n, const lowbit::task_fn& task) {
//     my_pool.parallel_for(0, n, task);         // plug in any thread pool (TBB, OpenMP, your own)
//   };
//   auto t = q.quantize(x, ctx);
//
// A parallel_for must call task(i) exactly once for every i in [0, n), possibly concurrently, and
// return when all calls have returned. lowbit hands it at most `threads` workers at a time, so a
// user pool with more threads still runs only that many of lowbit's tasks at once. Tasks that
// throw are caught; the first exception is rethrown on the calling thread.
//
// A context is a small value: copy it freely. One context may be used by several threads at once
// (it is only read).
#pragma once

#include <algorithm>
#include <atomic>
#include <exception>
#include <functional>
#include <mutex>

#include "lowbit/config.hpp"
#include "lowbit/runtime/path.hpp"
#include "lowbit/runtime/thread_pool.hpp"

LOWBIT_NAMESPACE_BEGIN

struct context {
  int threads = max_threads();         ///< at most this many of lowbit's tasks run at once; 1 = inline
  parallel_for_fn parallel_for;        ///< empty: lowbit's default_pool()
  kernel_path path = active_path();    ///< kernels to run (checked by each operation)

  /// A copy with another thread count / path.
  context with_threads(int n) const {
    context c = *this;
    c.threads = n;
    return c;
  }
  context with_path(kernel_path p) const {
    context c = *this;
    c.path = p;
    return c;
  }

  /// Runs task(i), i in [0, n): inline when threads <= 1 or n <= 1, else through the hook. If
  /// tasks throw, the remaining ones are skipped and the first exception is rethrown here, on the
  /// calling thread (a worker thread never lets an exception escape).
  void run(index_t n, const task_fn& task) const {
    if (threads <= 1 || n <= 1) {
      for (index_t i = 0; i < n; ++i) task(i);
      return;
    }
    std::mutex mutex;
    std::exception_ptr first;
    std::atomic<bool> failed{false};
    std::atomic<index_t> next{0};
    const index_t workers = std::min<index_t>(n, threads);
    const task_fn worker = [&](index_t) {
      for (index_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) {
        if (failed.load(std::memory_order_relaxed)) return;
        try {
          task(i);
        } catch (...) {
          std::lock_guard<std::mutex> lock(mutex);
          if (!first) first = std::current_exception();
          failed.store(true);
        }
      }
    };
    if (parallel_for) {
      parallel_for(workers, worker);
    } else {
      default_pool().parallel_for(workers, worker);
    }
    if (first) std::rethrow_exception(first);
  }
};

LOWBIT_NAMESPACE_END
