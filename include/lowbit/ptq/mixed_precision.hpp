// lowbit/ptq/mixed_precision.hpp: choose each layer's weight format and group size to meet a size budget, by measured sensitivity.
//
// Layers differ in how much quantization hurts them. For every layer and every candidate format
// (default: int8 per channel; int4 and int2 with groups of 32 or 128, or per channel) the planner
// quantizes the weights (round to nearest), and measures the layer's output error on its
// calibration inputs from their Hessian (ptq/hessian_observer.hpp):
//
//   noise  e = output_error(h, W, Q(W))        mean squared output error per input row
//   signal s = output_error(h, W, 0)           mean squared output
//   output SQNR = 10 log10(s / e) dB;  the layer's cost is its noise-to-signal ratio e / s
//
// It then minimizes the sum of the layers' noise-to-signal ratios subject to the budget (average
// bits per weight over all layers, scales and zero points counted as packed_lowbit_weights stores
// them: an fp16 scale per group, plus a byte zero point for affine groups), exactly up to the
// budget's discretization: a multiple-choice knapsack solved by dynamic programming over the budget
// in max(2000, 100 x layers) units, each option's size rounded up to whole units (the plan never
// exceeds the budget; under 1 % of it can go unused to the rounding).
//
//   std::vector<lowbit::planned_layer> layers = {{"fc1", W1, h1}, {"fc2", W2, h2}};
//   lowbit::precision_plan plan = lowbit::plan_precision(layers, 3.0);   // 3 bits per weight
//   std::cout << plan.table();                       // per layer: choice, bits, SQNR of each option
//   plan.layers[0].choice();                         // e.g. {"int4 g32", 4, 32, affine}
//   row_matrix q = lowbit::quantize_with(plan.layers[0].choice(), W1);   // quantized, dequantized
//
// The predicted effect is each layer's output SQNR; the effect on a model's accuracy has to be
// measured on the model (the demo does, examples/fashion_mnist.cpp).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/core/granularity.hpp"
#include "lowbit/core/scheme.hpp"
#include "lowbit/ptq/hessian_observer.hpp"
#include "lowbit/tensor/quantizer.hpp"

LOWBIT_NAMESPACE_BEGIN

/// One candidate weight format: bits (8, 4 or 2), group size along the inputs (0: per output
/// channel), symmetric or affine.
struct weight_choice {
  std::string name;
  int bits = 8;
  index_t group = 0;
  bool affine = false;

  /// Bits per weight for `in_features` inputs: codes, an fp16 scale per group and a byte zero
  /// point per affine group, with ceil(in / group) groups per row (a short last group when the
  /// group does not divide the inputs), as packed_lowbit_weights stores them.
  double bits_per_weight(index_t in_features) const {
    const index_t g = group > 0 ? std::min(group, in_features) : in_features;
    const auto groups = static_cast<double>((in_features + g - 1) / g);
    return bits + groups * (16.0 + (affine ? 8.0 : 0.0)) / static_cast<double>(in_features);
  }
};

/// int8 per channel; int4 g32, g128, per channel; int2 g32, g128, per channel.
inline std::vector<weight_choice> default_weight_choices() {
  return {{"int8 per-channel", 8, 0, false}, {"int4 g32", 4, 32, true},   {"int4 g128", 4, 128, true},
          {"int4 per-channel", 4, 0, false}, {"int2 g32", 2, 32, true},   {"int2 g128", 2, 128, true},
          {"int2 per-channel", 2, 0, true}};
}

/// W [out, in] quantized and dequantized with choice c (round to nearest, min/max ranges).
template <class Derived>
row_matrix quantize_with(const weight_choice& c, const Eigen::DenseBase<Derived>& w) {
  const row_matrix m = w.template cast<float>();
  const auto run = [&](auto format, auto scheme) -> row_matrix {
    using F = decltype(format);
    using S = decltype(scheme);
    if (c.group > 0) return quantizer<F, S, per_group>(per_group(1, c.group)).quantize(m).dequantize();
    return quantizer<F, S, per_channel>(per_channel(0)).quantize(m).dequantize();
  };
  if (c.bits != 8 && c.bits != 4 && c.bits != 2)
    detail::fail("quantize_with: weight_choice \"", c.name, "\" has ", c.bits, " bits; 8, 4 or 2 are supported");
  return with_weight_format<8, 4, 2>(c.bits, c.affine, run, "quantize_with");
}

/// A layer to plan: its name, weights [out, in] and an observer of its calibration inputs.
struct planned_layer {
  std::string name;
  row_matrix weight;
  const hessian_observer* inputs = nullptr;
  planned_layer(std::string n, row_matrix w, const hessian_observer& h) : name(std::move(n)), weight(std::move(w)), inputs(&h) {}
};

struct layer_precision {
  std::string name;
  index_t weights = 0;              ///< out x in
  std::vector<weight_choice> options;
  std::vector<double> bits;         ///< bits per weight of each option
  std::vector<double> sqnr_db;      ///< predicted output SQNR of each option
  std::size_t chosen = 0;
  const weight_choice& choice() const { return options[chosen]; }
};

struct precision_plan {
  std::vector<layer_precision> layers;
  double budget = 0;  ///< bits per weight asked for
  /// Average bits per weight of the plan.
  double bits_per_weight() const {
    double bits = 0, n = 0;
    for (const auto& l : layers) {
      bits += l.bits[l.chosen] * static_cast<double>(l.weights);
      n += static_cast<double>(l.weights);
    }
    return n > 0 ? bits / n : 0.0;
  }
  /// Bytes of all layers' weights as planned.
  double bytes() const {
    double b = 0;
    for (const auto& l : layers) b += l.bits[l.chosen] * static_cast<double>(l.weights) / 8.0;
    return b;
  }
  /// A Markdown table: per layer the choice, its bits and predicted SQNR, and every option's SQNR.
  std::string table() const {
    std::string out = "| layer | weights | choice | bits/weight | output SQNR (dB) |";
    if (!layers.empty())
      for (const auto& o : layers[0].options) out += " " + o.name + " |";
    out += "\n|---|---:|---|---:|---:|";
    if (!layers.empty())
      for (std::size_t i = 0; i < layers[0].options.size(); ++i) out += "---:|";
    out += "\n";
    char buf[128];
    for (const auto& l : layers) {
      std::snprintf(buf, sizeof buf, " | %lld | ", static_cast<long long>(l.weights));
      out += "| " + l.name + buf + l.choice().name;
      std::snprintf(buf, sizeof buf, " | %.3f | %.1f |", l.bits[l.chosen], l.sqnr_db[l.chosen]);
      out += buf;
      for (double s : l.sqnr_db) {
        std::snprintf(buf, sizeof buf, " %.1f |", s);
        out += buf;
      }
      out += "\n";
    }
    std::snprintf(buf, sizeof buf, "\nbudget %.3f bits/weight; plan %.3f bits/weight, %.0f bytes\n", budget, bits_per_weight(), bytes());
    out += buf;
    return out;
  }
};

/// Measures every layer under every option and picks one option per layer within the budget
/// (average bits per weight). Raises lowbit::error when even the smallest options exceed it.
inline precision_plan plan_precision(const std::vector<planned_layer>& layers, double budget_bits_per_weight,
                                     const std::vector<weight_choice>& options = default_weight_choices()) {
  if (layers.empty()) detail::fail("plan_precision: no layers");
  if (options.empty()) detail::fail("plan_precision: no weight choices");
  if (options.size() > 256) detail::fail("plan_precision: at most 256 weight choices, got ", options.size());
  if (!(budget_bits_per_weight > 0)) detail::fail("plan_precision: budget ", budget_bits_per_weight, " bits per weight is not positive");
  precision_plan plan;
  plan.budget = budget_bits_per_weight;
  std::vector<std::vector<double>> cost(layers.size());
  double total_weights = 0;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const planned_layer& in = layers[l];
    if (in.inputs == nullptr) detail::fail("plan_precision: layer \"", in.name, "\" has no input observer");
    if (in.weight.cols() != in.inputs->in_features()) {
      detail::fail("plan_precision: layer \"", in.name, "\" has ", in.weight.cols(), " inputs, its observer ",
                   in.inputs->in_features());
    }
    if (in.weight.size() == 0) detail::fail("plan_precision: layer \"", in.name, "\" has no weights");
    layer_precision lp;
    lp.name = in.name;
    lp.weights = in.weight.size();
    lp.options = options;
    const double signal = output_error(*in.inputs, in.weight, row_matrix::Zero(in.weight.rows(), in.weight.cols()));
    for (const weight_choice& o : options) {
      const double noise = output_error(*in.inputs, in.weight, quantize_with(o, in.weight));
      lp.bits.push_back(o.bits_per_weight(in.weight.cols()));
      lp.sqnr_db.push_back(noise > 0 ? 10.0 * std::log10(signal / noise) : std::numeric_limits<double>::infinity());
      cost[l].push_back(signal > 0 ? noise / signal : 0.0);
    }
    lp.chosen = static_cast<std::size_t>(std::min_element(lp.bits.begin(), lp.bits.end()) - lp.bits.begin());
    total_weights += static_cast<double>(lp.weights);
    plan.layers.push_back(std::move(lp));
  }
  const double budget_bits = budget_bits_per_weight * total_weights;
  double least = 0;
  for (const auto& l : plan.layers) least += l.bits[l.chosen] * static_cast<double>(l.weights);
  if (least > budget_bits * (1 + 1e-12)) {
    detail::fail("plan_precision: the smallest options take ", least / total_weights, " bits per weight, above the budget of ",
                 budget_bits_per_weight);
  }
  // Multiple-choice knapsack by dynamic programming over the budget in units (each option's size
  // rounded up to whole units, so the plan never exceeds the budget; at most one unit per layer,
  // under 1 % of the budget, is lost to the rounding).
  const auto L = plan.layers.size();
  const index_t units = std::max<index_t>(2000, 100 * static_cast<index_t>(L));
  const double unit = budget_bits / static_cast<double>(units);
  constexpr double none = std::numeric_limits<double>::infinity();
  std::vector<double> best(static_cast<std::size_t>(units + 1), 0.0), next(best.size());
  std::vector<std::vector<std::uint8_t>> pick(L, std::vector<std::uint8_t>(best.size(), 0));
  for (std::size_t l = 0; l < L; ++l) {
    const layer_precision& lp = plan.layers[l];
    std::fill(next.begin(), next.end(), none);
    for (std::size_t o = 0; o < lp.options.size(); ++o) {
      const auto w = static_cast<index_t>(std::ceil(lp.bits[o] * static_cast<double>(lp.weights) / unit - 1e-9));
      for (index_t u = w; u <= units; ++u) {
        const double c = best[static_cast<std::size_t>(u - w)] + cost[l][o];
        if (c < next[static_cast<std::size_t>(u)]) {
          next[static_cast<std::size_t>(u)] = c;
          pick[l][static_cast<std::size_t>(u)] = static_cast<std::uint8_t>(o);
        }
      }
    }
    best.swap(next);
  }
  auto u = static_cast<index_t>(std::min_element(best.begin(), best.end()) - best.begin());
  if (best[static_cast<std::size_t>(u)] == none) {
    // Only the rounding to units stands in the way: keep the smallest options.
    return plan;
  }
  for (std::size_t l = L; l-- > 0;) {
    layer_precision& lp = plan.layers[l];
    lp.chosen = pick[l][static_cast<std::size_t>(u)];
    u -= static_cast<index_t>(std::ceil(lp.bits[lp.chosen] * static_cast<double>(lp.weights) / unit - 1e-9));
  }
  return plan;
}

LOWBIT_NAMESPACE_END
