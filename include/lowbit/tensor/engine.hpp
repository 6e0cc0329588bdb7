// lowbit/tensor/engine.hpp: whole-tensor quantize, dequantize and min/max, built from the run kernels and split among threads.
//
// The quantizer (tensor/quantizer.hpp) and quantized_tensor call these; observers call
// observe_ranges. Work is cut into pieces of at most 64 Ki elements along the runs of
// tensor/runs.hpp; inputs of 256 Ki elements or more are spread over the context's threads, with
// results identical to one thread (min/max is order-independent; quantize writes disjoint bytes).
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
#include "lowbit/core/shape.hpp"
#include "lowbit/kernels/elementwise.hpp"
#include "lowbit/runtime/context.hpp"
#include "lowbit/tensor/runs.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace detail {

/// Elements per piece of work, and the input size from which work is spread over threads.
inline constexpr index_t engine_piece = index_t{1} << 16;
inline constexpr index_t engine_parallel_from = index_t{1} << 18;

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

[[noreturn]] inline void fail_nonfinite(const float_input& in, const run& r, const float* src, float limit,
                                        const char* what) {
  for (index_t k = 0; k < r.n; ++k) {
    if (!(std::fabs(src[k]) <= limit)) {
      fail(what, ": element ", r.out_offset + k, " (index ", multi_index(in.shape, r.out_offset + k),
           " of a tensor of shape ", shape_string(in.shape), ") is ", src[k],
           std::isnan(src[k]) ? "; NaN cannot be quantized"
                              : "; +-Inf cannot be quantized (a quantizer with inf_policy::saturate maps it to qmin / qmax)");
    }
  }
  fail(what, ": a kernel reported a non-finite value that a rescan did not find");
}

/// What a min/max pass does with +-Inf (NaN is always an error).
enum class nonfinite_mode { error, skip_inf };

/// Folds one run into mins / maxs (at the run's first slot). Returns false if the run holds a
/// value the mode rejects; the slots it touched are then unspecified.
inline bool minmax_run(const view3& v, const run& r, kernel_path path, nonfinite_mode mode, float* mins,
                       float* maxs, index_t& infs, std::vector<float>& buffer, std::vector<float>& saved_min,
                       std::vector<float>& saved_max) {
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

/// Contiguous groups of pieces, one per task, cut only where `cut_ok(piece)` holds.
template <class CutOk>
std::vector<std::size_t> task_bounds(const std::vector<run>& pieces, index_t tasks, CutOk&& cut_ok) {
  std::vector<std::size_t> bounds{0};
  for (index_t t = 1; t < tasks; ++t) {
    std::size_t b = pieces.size() * static_cast<std::size_t>(t) / static_cast<std::size_t>(tasks);
    while (b < pieces.size() && !cut_ok(pieces[b])) ++b;
    if (b > bounds.back() && b < pieces.size()) bounds.push_back(b);
  }
  bounds.push_back(pieces.size());
  return bounds;
}

/// Min/max per qparam slot; with skip_inf, infinities are left out and counted in *inf_count.
/// Large inputs are split among the context's threads; a rejected value is reported by a
/// sequential rescan so the message names the first one.
inline range observe_ranges(const float_input& in, const granularity_desc& g, const context& ctx,
                            nonfinite_mode mode = nonfinite_mode::error, index_t* inf_count = nullptr,
                            const char* what = "observe") {
  check_path(ctx.path, what);
  const index_t slots = slot_count(in.view, g);
  const float limit = mode == nonfinite_mode::error ? std::numeric_limits<float>::max()
                                                    : std::numeric_limits<float>::infinity();
  if (ctx.threads > 1 && in.view.size() >= engine_parallel_from) {
    const std::vector<run> pieces = run_pieces(in.view, g, engine_piece);
    const std::vector<std::size_t> bounds = task_bounds(pieces, ctx.threads, [](const run&) { return true; });
    const auto tasks = static_cast<index_t>(bounds.size() - 1);
    std::vector<range> partial(static_cast<std::size_t>(tasks), range(slots));
    std::vector<index_t> infs(static_cast<std::size_t>(tasks), 0);
    std::atomic<bool> rejected{false};
    ctx.run(tasks, [&](index_t t) {
      std::vector<float> buffer, saved_min, saved_max;
      range& r = partial[static_cast<std::size_t>(t)];
      for (std::size_t i = bounds[static_cast<std::size_t>(t)];
           i < bounds[static_cast<std::size_t>(t + 1)] && !rejected.load(std::memory_order_relaxed); ++i) {
        const run& p = pieces[i];
        if (!minmax_run(in.view, p, ctx.path, mode, r.min.data() + p.slot, r.max.data() + p.slot,
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
    if (!minmax_run(in.view, run_, ctx.path, mode, r.min.data() + run_.slot, r.max.data() + run_.slot, infs, buffer,
                    saved_min, saved_max)) {
      fail_nonfinite(in, run_, run_source(in.view, run_, buffer), limit, what);
    }
  });
  if (inf_count) *inf_count += infs;
  normalize_zeros(r);
  return r;
}

/// Quantizes one run of `in` into `out` (packed storage of the whole tensor); false if the run held
/// a value the inf policy rejects.
template <class F, class Rounding>
bool quantize_run(const float_input& in, const run& r, const std::vector<float>& factors, const qparams& p,
                  inf_policy inf, kernel_path path, std::uint8_t* out, std::vector<float>& buffer) {
  const float* src = run_source(in.view, r, buffer);
  const float limit = kernels::finite_limit(inf);
  // Elements before the first byte boundary (sub-byte formats only) go through scalar code,
  // OR-ing into the byte the previous run started.
  const index_t misalign = r.out_offset % F::per_byte;
  const index_t head = misalign == 0 ? 0 : std::min(r.n, F::per_byte - misalign);
  bool ok = true;
  for (index_t k = 0; k < head; ++k) {
    const auto slot = static_cast<std::size_t>(r.slot + (r.slot_varies ? k : 0));
    ok &= std::fabs(src[k]) <= limit;
    kernels::scalar::store_code<F>(out, r.out_offset + k,
                                   kernels::scalar::quantize_value<F, Rounding>(src[k], factors[slot], p.zero_point[slot]));
  }
  std::uint8_t* dst = out + (r.out_offset + head) / F::per_byte;
  if (r.slot_varies) {
    ok &= kernels::quantize_vec<F, Rounding>(path, src + head, r.n - head, factors.data() + r.slot + head,
                                             p.zero_point.data() + r.slot + head, inf, dst);
  } else {
    const auto slot = static_cast<std::size_t>(r.slot);
    ok &= kernels::quantize<F, Rounding>(path, src + head, r.n - head, factors[slot], p.zero_point[slot], inf, dst);
  }
  return ok;
}

/// Groups along a contiguous last axis (a weight matrix [N, K] with per_group(1, G)): one kernel
/// call per row with each element's factor and zero point spelled out, instead of one call per
/// group (a call per 32 values made per-group quantization several times slower than per channel).
/// Rows are split among the context's threads; false if a row held a rejected value (the caller
/// then finds it with the per-run path).
template <class F, class Rounding>
bool quantize_group_rows(const float_input& in, const granularity_desc& g, const std::vector<float>& factors,
                         const qparams& p, inf_policy inf, const context& ctx, std::uint8_t* out) {
  const view3& v = in.view;
  const index_t rows = v.n0, n1 = v.n1, group = g.group_size, groups = ceil_div(n1, group);
  const index_t rows_per_task = std::max<index_t>(1, engine_piece / std::max<index_t>(n1, 1));
  const index_t tasks = ctx.threads > 1 && v.size() >= engine_parallel_from ? ceil_div(rows, rows_per_task) : 1;
  std::atomic<bool> rejected{false};
  ctx.run(tasks, [&](index_t t) {
    const index_t r0 = tasks == 1 ? 0 : t * rows_per_task, r1 = tasks == 1 ? rows : std::min(rows, r0 + rows_per_task);
    std::vector<float> f(static_cast<std::size_t>(n1));
    std::vector<std::int32_t> z(static_cast<std::size_t>(n1));
    for (index_t i0 = r0; i0 < r1; ++i0) {
      for (index_t gi = 0; gi < groups; ++gi) {
        const auto slot = static_cast<std::size_t>(i0 * groups + gi);
        const auto b = static_cast<std::size_t>(gi * group), e = static_cast<std::size_t>(std::min(n1, (gi + 1) * group));
        std::fill(f.begin() + static_cast<std::ptrdiff_t>(b), f.begin() + static_cast<std::ptrdiff_t>(e), factors[slot]);
        std::fill(z.begin() + static_cast<std::ptrdiff_t>(b), z.begin() + static_cast<std::ptrdiff_t>(e), p.zero_point[slot]);
      }
      const float* src = v.data + i0 * v.s0;
      if (!kernels::quantize_vec<F, Rounding>(ctx.path, src, n1, f.data(), z.data(), inf, out + i0 * n1 / F::per_byte))
        rejected.store(true);
    }
  });
  return !rejected.load();
}

/// Quantizes `in` with checked qparams into packed storage of packed_bytes<F>(in.size()) bytes.
/// Large inputs are split among the context's threads at byte boundaries.
template <class F, class Rounding>
std::vector<std::uint8_t> quantize_tensor(const float_input& in, const granularity_desc& g, const qparams& p,
                                          inf_policy inf, const context& ctx) {
  check_path(ctx.path, "quantize");
  const index_t total = in.view.size();
  std::vector<std::uint8_t> out(static_cast<std::size_t>(packed_bytes<F>(total)), 0);
  std::vector<float> factors(p.scale.size());
  for (std::size_t i = 0; i < factors.size(); ++i) factors[i] = Rounding::factor(p.scale[i]);
  const float limit = kernels::finite_limit(inf);
  // Short groups along contiguous rows that start on byte boundaries: a kernel call per row.
  const view3& v = in.view;
  if (g.kind == granularity_kind::group && v.n2 == 1 && v.s1 == 1 && g.group_size < 256 && v.n1 % F::per_byte == 0 &&
      quantize_group_rows<F, Rounding>(in, g, factors, p, inf, ctx, out.data()))
    return out;
  if (ctx.threads > 1 && total >= engine_parallel_from) {
    const std::vector<run> pieces = run_pieces(in.view, g, engine_piece);
    // Tasks start on byte boundaries, so no two of them write one byte.
    const std::vector<std::size_t> bounds =
        task_bounds(pieces, ctx.threads, [](const run& r) { return r.out_offset % F::per_byte == 0; });
    std::atomic<bool> rejected{false};
    ctx.run(static_cast<index_t>(bounds.size() - 1), [&](index_t t) {
      std::vector<float> buffer;
      for (std::size_t i = bounds[static_cast<std::size_t>(t)]; i < bounds[static_cast<std::size_t>(t + 1)]; ++i)
        if (!quantize_run<F, Rounding>(in, pieces[i], factors, p, inf, ctx.path, out.data(), buffer)) rejected.store(true);
    });
    if (!rejected.load()) return out;
  }
  std::vector<float> buffer;
  for_each_run(in.view, g, [&](const run& r) {
    if (!quantize_run<F, Rounding>(in, r, factors, p, inf, ctx.path, out.data(), buffer))
      fail_nonfinite(in, r, run_source(in.view, r, buffer), limit, "quantize");
  });
  return out;
}

/// Dequantizes packed codes of a C-order tensor into `out` (C order, shape.size() floats).
template <class F>
void dequantize_tensor(const std::uint8_t* codes, const std::vector<index_t>& shape, const granularity_desc& g,
                       const qparams& p, const context& ctx, float* out) {
  check_path(ctx.path, "dequantize");
  if (shape.empty()) return;
  const view3 v = c_view(shape, g.kind == granularity_kind::tensor ? 0 : g.axis);
  const auto one_run = [&](const run& r) {
    const index_t misalign = r.out_offset % F::per_byte;
    const index_t head = misalign == 0 ? 0 : std::min(r.n, F::per_byte - misalign);
    float* dst = out + r.out_offset;
    for (index_t k = 0; k < head; ++k) {
      const auto slot = static_cast<std::size_t>(r.slot + (r.slot_varies ? k : 0));
      dst[k] = static_cast<float>(kernels::scalar::load_code<F>(codes, r.out_offset + k) - p.zero_point[slot]) *
               p.scale[slot];
    }
    const std::uint8_t* src = codes + (r.out_offset + head) / F::per_byte;
    if (r.slot_varies) {
      kernels::dequantize_vec<F>(ctx.path, src, r.n - head, p.scale.data() + r.slot + head,
                                 p.zero_point.data() + r.slot + head, dst + head);
    } else {
      kernels::dequantize<F>(ctx.path, src, r.n - head, p.scale[static_cast<std::size_t>(r.slot)],
                             p.zero_point[static_cast<std::size_t>(r.slot)], dst + head);
    }
  };
  if (ctx.threads > 1 && v.size() >= engine_parallel_from) {
    const std::vector<run> pieces = run_pieces(v, g, engine_piece);
    const std::vector<std::size_t> bounds = task_bounds(pieces, ctx.threads, [](const run&) { return true; });
    ctx.run(static_cast<index_t>(bounds.size() - 1), [&](index_t t) {
      for (std::size_t i = bounds[static_cast<std::size_t>(t)]; i < bounds[static_cast<std::size_t>(t + 1)]; ++i)
        one_run(pieces[i]);
    });
    return;
  }
  for_each_run(v, g, one_run);
}

}  // namespace detail
LOWBIT_NAMESPACE_END
