// lowbit/runtime/thread_pool.hpp: lowbit's default thread pool, and the thread count it starts with.
//
// Operations reach threads through their context (runtime/context.hpp), which uses this pool
// unless a user plugs in their own parallel-for.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "lowbit/config.hpp"

LOWBIT_NAMESPACE_BEGIN

using task_fn = std::function<void(index_t)>;
using parallel_for_fn = std::function<void(index_t, const task_fn&)>;

namespace detail {
/// A short pause for a spinning thread (x86 pause, AArch64 yield).
inline void cpu_relax() noexcept {
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
  __builtin_ia32_pause();
#elif (defined(__GNUC__) || defined(__clang__)) && defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}
}  // namespace detail

/// A fixed set of worker threads that run parallel_for loops; the calling thread takes part.
/// Loops are served one at a time (calls from several threads queue on a mutex). Idle workers
/// spin for about spin_iterations pauses (tens of microseconds) before they sleep, so that loops
/// issued back to back (the layers of a model, a GEMM's passes) do not each pay an OS wake-up.
class thread_pool {
 public:
  explicit thread_pool(int threads) {
    const int workers = std::max(0, threads - 1);
    for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { work(); });
  }
  ~thread_pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  int size() const noexcept { return static_cast<int>(workers_.size()) + 1; }

  /// Runs task(i) for i in [0, n) on the pool and the calling thread, and returns when every
  /// call has returned. A parallel_for issued from inside a task (of any pool) runs inline on
  /// that thread. If tasks throw, the remaining indices are skipped and the first exception is
  /// rethrown here once no task is running any more.
  void parallel_for(index_t n, const task_fn& task) {
    if (n <= 0) return;
    if (n == 1 || workers_.empty() || inside_task()) {
      for (index_t i = 0; i < n; ++i) task(i);
      return;
    }
    std::lock_guard<std::mutex> serial(loop_mutex_);
    auto current = std::make_shared<loop>(&task, n);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      loop_ = current;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_.notify_all();
    run(*current);
    for (int s = 0; s < spin_iterations && current->pending.load(std::memory_order_acquire) != 0; ++s) detail::cpu_relax();
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return current->pending.load() == 0; });
    loop_.reset();
    if (current->error) std::rethrow_exception(current->error);
  }

 private:
  // One parallel_for call. Workers hold it by shared_ptr, so one that wakes late finds its own
  // loop exhausted instead of taking indices of the next call.
  struct loop {
    loop(const task_fn* t, index_t n) : task(t), count(n), pending(n) {}
    const task_fn* task;
    index_t count;
    std::atomic<index_t> next{0};
    std::atomic<index_t> pending;
    std::atomic<bool> failed{false};
    std::exception_ptr error;  // the first exception, written under mutex_
  };

  static bool& inside_task() noexcept {
    static thread_local bool inside = false;
    return inside;
  }

  void run(loop& l) {
    index_t finished = 0;
    bool& inside = inside_task();
    const bool was_inside = inside;
    inside = true;
    for (index_t i = l.next.fetch_add(1); i < l.count; i = l.next.fetch_add(1)) {
      if (!l.failed.load(std::memory_order_relaxed)) {
        try {
          (*l.task)(i);
        } catch (...) {
          std::lock_guard<std::mutex> lock(mutex_);
          if (!l.error) l.error = std::current_exception();
          l.failed.store(true);
        }
      }
      ++finished;
    }
    inside = was_inside;
    if (finished > 0 && l.pending.fetch_sub(finished) == finished) {
      std::lock_guard<std::mutex> lock(mutex_);
      done_.notify_all();
    }
  }

  void work() {
    unsigned long long seen = 0;
    for (;;) {
      for (int s = 0; s < spin_iterations && generation_.load(std::memory_order_acquire) == seen; ++s) detail::cpu_relax();
      std::shared_ptr<loop> l;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_.load(std::memory_order_relaxed) != seen; });
        if (stop_) return;
        seen = generation_.load(std::memory_order_relaxed);
        l = loop_;
      }
      if (l) run(*l);
    }
  }

  std::vector<std::thread> workers_;
  std::mutex loop_mutex_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  std::shared_ptr<loop> loop_;
  std::atomic<unsigned long long> generation_{0};  // written under mutex_, read by spinning workers
  bool stop_ = false;
  static constexpr int spin_iterations = 4000;
};

namespace detail {
inline int hardware_threads() noexcept {
  const char* env = std::getenv("LOWBIT_NUM_THREADS");
  if (env != nullptr) {
    const int n = std::atoi(env);
    if (n > 0) return n;
  }
  const unsigned hc = std::thread::hardware_concurrency();
  return hc == 0 ? 1 : static_cast<int>(hc);
}

inline std::atomic<int>& max_threads_setting() noexcept {
  static std::atomic<int> value{hardware_threads()};
  return value;
}
}  // namespace detail

/// Threads lowbit uses by default: LOWBIT_NUM_THREADS, else the hardware's count.
inline int max_threads() noexcept { return detail::max_threads_setting().load(); }
inline void set_max_threads(int n) noexcept { detail::max_threads_setting().store(std::max(1, n)); }

/// lowbit's own pool, created on first use with max_threads() threads at that moment.
inline thread_pool& default_pool() {
  static thread_pool pool(max_threads());
  return pool;
}

LOWBIT_NAMESPACE_END
