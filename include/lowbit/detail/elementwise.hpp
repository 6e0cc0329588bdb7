// lowbit/detail/elementwise.hpp: whole-tensor quantize, dequantize and min/max built from the run kernels.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/core/granularity.hpp"
#include "lowbit/core/qparams.hpp"
#include "lowbit/core/scheme.hpp"
#include "lowbit/detail/runs.hpp"
#include "lowbit/kernels/quantize.hpp"
#include "lowbit/parallel/thread_pool.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace detail {

/// "[i, j, k]" multi-index of a flat C-order position.
inline std::string multi_index(const std::vector<index_t>& shape, index_t flat) {
  std::vector<index_t> idx(shape.size());
  for (std::size_t d = shape.size(); d-- > 0;) {
    const index_t extent = shape[d] > 0 ? shape[d] : 1;
    idx[d] = flat % extent;
    flat /= extent;
  }
  return shape_string(idx);
}

/// The view of a contiguous C-order tensor of `shape` around `axis` (data pointer left null).
inline view3 c_view(const std::vector<index_t>& shape, int axis) {
  index_t outer = 1, inner = 1;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    if (static_cast<int>(d) < axis) outer *= shape[d];
    if (static_cast<int>(d) > axis) inner *= shape[d];
  }
  const index_t channels = shape.empty() ? 1 : shape[static_cast<std::size_t>(axis)];
  return view3{nullptr, outer, channels, inner, channels * inner, inner, 1};
}

/// Reads a run into a contiguous buffer if it is strided; returns where its values are.
inline const float* run_source(const view3& v, const run& r, std::vector<float>& buffer) {
  const float* src = v.data + r.in_offset;
  if (r.in_stride == 1) return src;
  buffer.resize(static_cast<std::size_t>(r.n));
  for (index_t k = 0; k < r.n; ++k) buffer[static_cast<std::size_t>(k)] = src[k * r.in_stride];
  return buffer.data();
}

[[noreturn]] inline void fail_nonfinite(const float_input& in, const run& r, const float* src,
                                        float limit, const char* what) {
  for (index_t k = 0; k < r.n; ++k) {
    if (!(std::fabs(src[k]) <= limit)) {
      fail(what, ": element ", r.out_offset + k, " (index ", multi_index(in.shape, r.out_offset + k),
           " of a tensor of shape ", shape_string(in.shape), ") is ", src[k],
           std::isnan(src[k]) ? "; NaN cannot be quantized"
                              : "; +-Inf cannot be quantized (inf_policy::saturate maps it to "
                                "qmin / qmax)");
    }
  }
  fail(what, ": a kernel reported a non-finite value that a rescan did not find");
}

/// What a min/max pass does with +-Inf (NaN is always an error).
enum class nonfinite_mode { error, skip_inf };

/// Folds one run into mins / maxs (at the run's first slot). Returns false if the run holds a
/// value the mode rejects; the slots it touched are then unspecified.
inline bool minmax_run(const view3& v, const run& r, isa path, nonfinite_mode mode, float* mins,
                       float* maxs, index_t& infs, std::vector<float>& buffer,
                       std::vector<float>& saved_min, std::vector<float>& saved_max) {
  const float* src = run_source(v, r, buffer);
  const index_t touched = r.slot_varies ? r.n : 1;
  if (mode == nonfinite_mode::skip_inf) {
    saved_min.assign(mins, mins + touched);
    saved_max.assign(maxs, maxs + touched);
  }
  const bool ok = r.slot_varies ? kernels::minmax_vec(path, src, r.n, mins, maxs)
                                : kernels::minmax(path, src, r.n, *mins, *maxs);
  if (ok) return true;
  if (mode == nonfinite_mode::error) return false;
  // Redo the run in scalar code, leaving out infinities.
  std::copy(saved_min.begin(), saved_min.end(), mins);
  std::copy(saved_max.begin(), saved_max.end(), maxs);
  index_t found = 0;
  for (index_t k = 0; k < r.n; ++k) {
    const float x = src[k];
    if (std::isnan(x)) return false;
    if (std::isinf(x)) {
      ++found;
      continue;
    }
    const index_t s = r.slot_varies ? k : 0;
    mins[s] = x < mins[s] ? x : mins[s];
    maxs[s] = x > maxs[s] ? x : maxs[s];
  }
  infs += found;
  return true;
}

/// -0 and +0 compare equal but min_ps / vminq and the scalar reference keep different ones: make
/// every path and thread count return +0.
inline void normalize_zeros(range& r) noexcept {
  for (float& v : r.min) v += 0.0f;
  for (float& v : r.max) v += 0.0f;
}

/// Min/max per qparam slot; with skip_inf, infinities are left out and counted in *inf_count.
/// Large inputs are split among the threads of `ex`; a rejected value is reported by a sequential
/// rescan so the message names the first one.
inline range observe_ranges(const float_input& in, const granularity_desc& g, isa path,
                            nonfinite_mode mode = nonfinite_mode::error,
                            index_t* inf_count = nullptr, const char* what = "observe",
                            const execution& ex = execution{1, {}}) {
  const index_t slots = slot_count(in.view, g);
  const float limit = mode == nonfinite_mode::error ? std::numeric_limits<float>::max()
                                                    : std::numeric_limits<float>::infinity();
  const index_t total = in.view.size();
  if (ex.threads > 1 && total >= (index_t{1} << 18)) {
    const std::vector<run> pieces = run_pieces(in.view, g, index_t{1} << 16);
    const auto tasks = static_cast<index_t>(std::min<std::size_t>(static_cast<std::size_t>(ex.threads), pieces.size()));
    std::vector<range> partial(static_cast<std::size_t>(tasks), range(slots));
    std::vector<index_t> infs(static_cast<std::size_t>(tasks), 0);
    std::atomic<bool> rejected{false};
    ex.run(tasks, [&](index_t t) {
      std::vector<float> buffer, saved_min, saved_max;
      range& r = partial[static_cast<std::size_t>(t)];
      const auto begin = pieces.size() * static_cast<std::size_t>(t) / static_cast<std::size_t>(tasks);
      const auto end = pieces.size() * static_cast<std::size_t>(t + 1) / static_cast<std::size_t>(tasks);
      for (std::size_t i = begin; i < end && !rejected.load(std::memory_order_relaxed); ++i) {
        const run& p = pieces[i];
        if (!minmax_run(in.view, p, path, mode, r.min.data() + p.slot, r.max.data() + p.slot,
                        infs[static_cast<std::size_t>(t)], buffer, saved_min, saved_max))
          rejected.store(true);
      }
    });
    if (!rejected.load()) {
      range out = std::move(partial[0]);
      for (index_t t = 1; t < tasks; ++t) {
        const range& r = partial[static_cast<std::size_t>(t)];
        for (index_t s = 0; s < slots; ++s) {
          out.min[s] = std::min(out.min[s], r.min[s]);
          out.max[s] = std::max(out.max[s], r.max[s]);
        }
      }
      if (inf_count)
        for (index_t n : infs) *inf_count += n;
      normalize_zeros(out);
      return out;
    }
  }
  range r(slots);
  std::vector<float> buffer, saved_min, saved_max;
  index_t infs = 0;
  for_each_run(in.view, g, [&](const run& run_) {
    if (!minmax_run(in.view, run_, path, mode, r.min.data() + run_.slot, r.max.data() + run_.slot,
                    infs, buffer, saved_min, saved_max)) {
      fail_nonfinite(in, run_, run_source(in.view, run_, buffer), limit, what);
    }
  });
  if (inf_count) *inf_count += infs;
  normalize_zeros(r);
  return r;
}

/// Quantizes `in` with validated qparams into packed storage of packed_bytes<F>(in.size()) bytes.
template <class F, class Rounding>
std::vector<std::uint8_t> quantize_tensor(const float_input& in, const granularity_desc& g,
                                          const qparams& p, inf_policy inf, isa path) {
  const index_t total = in.view.size();
  std::vector<std::uint8_t> out(static_cast<std::size_t>(packed_bytes<F>(total)), 0);
  std::vector<float> factors(p.scale.size());
  for (std::size_t i = 0; i < factors.size(); ++i) factors[i] = Rounding::factor(p.scale[i]);
  const float limit = kernels::finite_limit(inf);
  std::vector<float> buffer;
  for_each_run(in.view, g, [&](const run& r) {
    const float* src = run_source(in.view, r, buffer);
    // Elements before the first byte boundary (sub-byte formats only) go through scalar code,
    // OR-ing into the byte the previous run started.
    const index_t misalign = r.out_offset % F::per_byte;
    const index_t head = misalign == 0 ? 0 : std::min(r.n, F::per_byte - misalign);
    bool ok = true;
    for (index_t k = 0; k < head; ++k) {
      const index_t slot = r.slot + (r.slot_varies ? k : 0);
      ok &= std::fabs(src[k]) <= limit;
      kernels::scalar::store_code<F>(
          out.data(), r.out_offset + k,
          kernels::scalar::quantize_value<F, Rounding>(src[k], factors[static_cast<std::size_t>(slot)],
                                                       p.zero_point[static_cast<std::size_t>(slot)]));
    }
    std::uint8_t* dst = out.data() + (r.out_offset + head) / F::per_byte;
    if (r.slot_varies) {
      ok &= kernels::quantize_vec<F, Rounding>(path, src + head, r.n - head,
                                               factors.data() + r.slot + head,
                                               p.zero_point.data() + r.slot + head, inf, dst);
    } else {
      ok &= kernels::quantize<F, Rounding>(path, src + head, r.n - head,
                                           factors[static_cast<std::size_t>(r.slot)],
                                           p.zero_point[static_cast<std::size_t>(r.slot)], inf, dst);
    }
    if (!ok) fail_nonfinite(in, r, src, limit, "quantize");
  });
  return out;
}

/// Dequantizes packed codes of a C-order tensor into `out` (C order, shape.size() floats).
template <class F>
void dequantize_tensor(const std::uint8_t* codes, const std::vector<index_t>& shape,
                       const granularity_desc& g, const qparams& p, isa path, float* out) {
  if (shape.empty()) return;
  const view3 v = c_view(shape, g.kind == granularity_kind::tensor ? 0 : g.axis);
  for_each_run(v, g, [&](const run& r) {
    const index_t misalign = r.out_offset % F::per_byte;
    const index_t head = misalign == 0 ? 0 : std::min(r.n, F::per_byte - misalign);
    float* dst = out + r.out_offset;
    for (index_t k = 0; k < head; ++k) {
      const auto slot = static_cast<std::size_t>(r.slot + (r.slot_varies ? k : 0));
      dst[k] = static_cast<float>(kernels::scalar::load_code<F>(codes, r.out_offset + k) -
                                  p.zero_point[slot]) * p.scale[slot];
    }
    const std::uint8_t* src = codes + (r.out_offset + head) / F::per_byte;
    if (r.slot_varies) {
      kernels::dequantize_vec<F>(path, src, r.n - head, p.scale.data() + r.slot + head,
                                 p.zero_point.data() + r.slot + head, dst + head);
    } else {
      kernels::dequantize<F>(path, src, r.n - head, p.scale[static_cast<std::size_t>(r.slot)],
                             p.zero_point[static_cast<std::size_t>(r.slot)], dst + head);
    }
  });
}

}  // namespace detail
LOWBIT_NAMESPACE_END
