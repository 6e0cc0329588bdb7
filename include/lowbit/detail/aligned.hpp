// lowbit/detail/aligned.hpp: an allocator for vectors whose data starts on a cache-line boundary.
#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <vector>

#include "lowbit/config.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace detail {

template <class T, std::size_t Alignment = 64>
struct aligned_allocator {
  using value_type = T;
  template <class U>
  struct rebind {
    using other = aligned_allocator<U, Alignment>;
  };
  aligned_allocator() noexcept = default;
  template <class U>
  aligned_allocator(const aligned_allocator<U, Alignment>&) noexcept {}  // NOLINT

  T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(Alignment)));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t(Alignment)); }

  template <class U>
  bool operator==(const aligned_allocator<U, Alignment>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const aligned_allocator<U, Alignment>&) const noexcept { return false; }
};

template <class T>
using aligned_vector = std::vector<T, aligned_allocator<T>>;

/// n elements of a trivial type on a cache-line boundary, left uninitialized (a scratch buffer
/// that is written before it is read: aligned_vector would zero it first).
template <class T>
class aligned_buffer {
  static_assert(std::is_trivial_v<T>, "aligned_buffer holds trivial types");

 public:
  explicit aligned_buffer(std::size_t n)
      : p_(static_cast<T*>(::operator new(n * sizeof(T) + (n == 0), std::align_val_t(64)))) {}
  ~aligned_buffer() { ::operator delete(p_, std::align_val_t(64)); }
  aligned_buffer(const aligned_buffer&) = delete;
  aligned_buffer& operator=(const aligned_buffer&) = delete;
  T* data() noexcept { return p_; }
  const T* data() const noexcept { return p_; }

 private:
  T* p_;
};

}  // namespace detail
LOWBIT_NAMESPACE_END
