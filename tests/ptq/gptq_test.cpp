// ptq/gptq.hpp: GPTQ against an independent float64 reference (tests/golden/generate_gptq.py,
// unblocked numpy), never worse than round-to-nearest on the calibration data for any format, and
// its observer, options and bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "lowbit/lowbit.hpp"
#include "lowbit/ptq/gptq.hpp"
#include "support/errors.hpp"
#include "support/golden.hpp"
#include "support/random.hpp"

namespace {

using lowbit::index_t;
using lowbit::row_matrix;
using namespace lowbit;

using dmatrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

row_matrix to_matrix(const lowbit_test::golden_record& r) {
  row_matrix m(r.rows(), r.cols());
  for (index_t i = 0; i < m.size(); ++i) m.data()[i] = r.f32[static_cast<std::size_t>(i)];
  return m;
}

// ||X W^T - X Q^T||_F^2 in double, straight from the inputs.
double direct_error(const row_matrix& x, const row_matrix& w, const row_matrix& q) {
  const dmatrix d = x.cast<double>() * (w.cast<double>() - q.cast<double>()).transpose();
  return d.squaredNorm();
}

struct config {
  const char* name;
  bool act_order;
};

template <class Q>
void check_golden(const lowbit_test::golden_file& gf, const config& c, const Q& q) {
  SCOPED_TRACE(c.name);
  const std::string p = std::string(c.name) + ".";
  const row_matrix x = to_matrix(gf["x"]), w = to_matrix(gf["w"]);
  hessian_observer h(x.cols());
  h.observe(x.topRows(40));  // two batches: the observer accumulates
  h.observe(x.bottomRows(x.rows() - 40));
  const auto& codes = gf[p + "codes"].i64;
  const auto& margin = gf[p + "margin"].f32;
  const auto& scale = gf[p + "scale"].f32;
  const auto& zp = gf[p + "zero_point"].i64;
  for (index_t block : {index_t{128}, index_t{16}}) {
    SCOPED_TRACE("block " + std::to_string(block));
    gptq_options o;
    o.act_order = c.act_order;
    o.static_groups = c.act_order;
    o.block_size = block;
    const auto t = gptq(q, w, h, o);
    const auto ir = t.int_repr();
    int near_ties = 0;
    for (index_t i = 0; i < ir.size(); ++i) {
      if (ir.data()[i] == codes[static_cast<std::size_t>(i)]) continue;
      // A different code would only be acceptable at a rounding tie the float order decides; the
      // golden data has none closer than 1e-4 of a step, so every code must match.
      ++near_ties;
      EXPECT_LT(margin[static_cast<std::size_t>(i)], 1e-6f) << "element " << i << ": code " << int(ir.data()[i])
                                                            << ", reference " << codes[static_cast<std::size_t>(i)];
    }
    EXPECT_EQ(near_ties, 0);
    ASSERT_EQ(t.params().scale.size(), scale.size());
    for (std::size_t s = 0; s < scale.size(); ++s) {
      EXPECT_NEAR(t.params().scale[s], scale[s], 1e-6 * scale[s]) << "slot " << s;
      if (t.is_affine()) {
        EXPECT_EQ(t.params().zero_point[s], zp[s]) << "slot " << s;
      }
    }
    // lowbit's output error is no larger than the reference's (stored as float32), and both are
    // well below round-to-nearest's.
    const double mine = direct_error(x, w, t.dequantize());
    EXPECT_LE(mine, gf[p + "err_gptq"].f32[0] * (1 + 1e-5));
    EXPECT_LT(mine, 0.7 * gf[p + "err_rtn"].f32[0]);
    // output_error() is the same quantity per sample, from the Hessian.
    EXPECT_NEAR(output_error(h, w, t.dequantize()), mine / static_cast<double>(x.rows()), 1e-9 * mine);
  }
}

TEST(gptq, matches_the_independent_reference) {
  const lowbit_test::golden_file gf("gptq_golden.txt");
  check_golden(gf, {"c1", false}, quantizer<int4, symmetric, per_channel>(per_channel(0)));
  check_golden(gf, {"c2", false}, quantizer<uint4, affine, per_group>(per_group(1, 16)));
  check_golden(gf, {"c3", true}, quantizer<int4, symmetric, per_group>(per_group(1, 16)));
  check_golden(gf, {"c4", false}, quantizer<uint2, affine, per_group>(per_group(1, 32)));
  check_golden(gf, {"c5", true}, quantizer<int8, symmetric, per_channel>(per_channel(0)));
}

// Inputs with correlated channels and uneven scales, the case GPTQ is for.
row_matrix calibration_inputs(lowbit_test::rng& g, index_t n, index_t k) {
  row_matrix base = g.normal_matrix(n, k / 4);
  row_matrix x(n, k);
  for (index_t j = 0; j < k; ++j) {
    const float gain = 0.2f + static_cast<float>(j % 7);
    for (index_t i = 0; i < n; ++i) x(i, j) = gain * (base(i, j % (k / 4)) + 0.3f * g.normal());
  }
  return x;
}

template <class F, class S, class G>
void never_worse_than_rtn(const row_matrix& x, const row_matrix& w, const hessian_observer& h, G gran,
                          bool act_order = false) {
  SCOPED_TRACE(std::string(F::name) + " " + S::name + (act_order ? " act_order" : ""));
  const quantizer<F, S, G> q(gran);
  const row_matrix rtn = q.quantize(w).dequantize();
  gptq_options o;
  o.act_order = act_order;
  o.static_groups = act_order;
  const row_matrix gq = gptq(q, w, h, o).dequantize();
  const double e_rtn = direct_error(x, w, rtn), e_gptq = direct_error(x, w, gq);
  EXPECT_LT(e_gptq, e_rtn);
  std::cout << "[ lowbit  ] " << F::name << " " << S::name << (act_order ? " act_order" : "")
            << ": output error GPTQ / RTN = " << e_gptq / e_rtn << "\n";
}

TEST(gptq, output_error_below_round_to_nearest_for_every_format) {
  lowbit_test::rng g(91);
  const index_t n = 256, k = 96, m = 24;
  const row_matrix x = calibration_inputs(g, n, k);
  const row_matrix w = g.normal_matrix(m, k, 0.05f);
  hessian_observer h(k);
  h.observe(x);
  never_worse_than_rtn<int8, symmetric>(x, w, h, per_channel(0));
  never_worse_than_rtn<uint8, affine>(x, w, h, per_channel(0));
  never_worse_than_rtn<int4, symmetric>(x, w, h, per_channel(0), true);
  never_worse_than_rtn<uint4, affine>(x, w, h, per_group(1, 32));
  never_worse_than_rtn<int4, symmetric>(x, w, h, per_group(1, 32), true);
  never_worse_than_rtn<int2, symmetric>(x, w, h, per_group(1, 32));
  never_worse_than_rtn<uint2, affine>(x, w, h, per_group(1, 40));  // short last group (96 = 40 + 40 + 16)
  never_worse_than_rtn<int4, symmetric>(x, w, h, per_tensor{});
  never_worse_than_rtn<int3, symmetric>(x, w, h, per_channel(0), true);
  never_worse_than_rtn<uint3, affine>(x, w, h, per_group(1, 32));
}

TEST(gptq, hessian_observer_accumulates_and_merges) {
  lowbit_test::rng g(92);
  const row_matrix x = g.normal_matrix(50, 12);
  hessian_observer all(12), a(12), b(12);
  all.observe(x);
  a.observe(x.topRows(20));
  b.observe(x.bottomRows(30));
  a.merge(b);
  const Eigen::MatrixXd want = 2.0 / 50 * (x.cast<double>().transpose() * x.cast<double>());
  EXPECT_EQ(all.samples(), 50);
  EXPECT_EQ(a.samples(), 50);
  EXPECT_LT((all.hessian() - want).cwiseAbs().maxCoeff(), 1e-5 * want.cwiseAbs().maxCoeff());
  EXPECT_LT((a.hessian() - want).cwiseAbs().maxCoeff(), 1e-5 * want.cwiseAbs().maxCoeff());
  EXPECT_TRUE(all.hessian().isApprox(all.hessian().transpose()));
  // A non-finite input names its place and leaves the observer as it was.
  row_matrix bad = x.topRows(3);
  bad(2, 5) = std::numeric_limits<float>::quiet_NaN();
  const std::string msg = lowbit_test::error_of([&] { all.observe(bad); });
  EXPECT_TRUE(lowbit_test::contains(msg, "input[2, 5]")) << msg;
  EXPECT_EQ(all.samples(), 50);
  EXPECT_THROW(all.observe(g.normal_matrix(2, 11)), lowbit::error);
  EXPECT_THROW(hessian_observer(0), lowbit::error);
  EXPECT_THROW(all.merge(hessian_observer(11)), lowbit::error);
}

TEST(gptq, options_and_special_cases) {
  lowbit_test::rng g(93);
  const row_matrix x = calibration_inputs(g, 128, 64);
  row_matrix w = g.normal_matrix(8, 64, 0.1f);
  hessian_observer h(64);
  h.observe(x);
  const quantizer<int4, symmetric, per_group> q(per_group(1, 16));
  // Scales rounded to fp16: every scale is an fp16 value, and the layer built from the result
  // holds exactly these codes and scales.
  gptq_options half;
  half.half_scales = true;
  const auto t = gptq(q, w, h, half);
  for (float s : t.params().scale) EXPECT_EQ(s, half_to_float(float_to_half(s)));
  const packed_lowbit_weights<int4> packed(t);
  EXPECT_TRUE((packed.dequantize().array() == t.dequantize().array()).all());
  // Ranges by the weight search: valid, and no worse on this data than min/max ranges by much.
  gptq_options searched;
  searched.search_range = true;
  const double e_search = direct_error(x, w, gptq(q, w, h, searched).dequantize());
  const double e_minmax = direct_error(x, w, gptq(q, w, h).dequantize());
  EXPECT_LT(e_search, 1.2 * e_minmax);
  // A dead input (always zero): its weights become the zero point's value whatever they were.
  row_matrix xd = x;
  xd.col(7).setZero();
  hessian_observer hd(64);
  hd.observe(xd);
  w(3, 7) = 5.0f;
  gptq_options ao;
  ao.act_order = true;
  ao.static_groups = true;
  const auto td = gptq(q, w, hd, ao);
  for (index_t r = 0; r < 8; ++r) EXPECT_EQ(td.code(r * 64 + 7), 0) << r;
  // No rows: an empty tensor of the right shape.
  const auto empty = gptq(q, row_matrix(0, 64), h);
  EXPECT_EQ(empty.size(), 0);
}

TEST(gptq, bad_input_is_a_clear_error) {
  lowbit_test::rng g(94);
  const row_matrix x = g.normal_matrix(32, 16), w = g.normal_matrix(4, 16);
  hessian_observer h(16);
  h.observe(x);
  const quantizer<int4, symmetric, per_group> qg(per_group(1, 8));
  gptq_options dyn_act;
  dyn_act.act_order = true;
  std::string msg = lowbit_test::error_of([&] { (void)gptq(qg, w, h, dyn_act); });
  EXPECT_TRUE(lowbit_test::contains(msg, "static_groups = true")) << msg;
  msg = lowbit_test::error_of([&] { (void)gptq(quantizer<int4, symmetric, per_group>(per_group(0, 2)), w, h); });
  EXPECT_TRUE(lowbit_test::contains(msg, "axis 1")) << msg;
  msg = lowbit_test::error_of([&] { (void)gptq(quantizer<int4, symmetric, per_channel>(per_channel(1)), w, h); });
  EXPECT_TRUE(lowbit_test::contains(msg, "axis 0")) << msg;
  msg = lowbit_test::error_of([&] { (void)gptq(qg, g.normal_matrix(4, 15), h); });
  EXPECT_TRUE(lowbit_test::contains(msg, "15 inputs")) << msg;
  msg = lowbit_test::error_of([&] { (void)gptq(qg, w, hessian_observer(16)); });
  EXPECT_TRUE(lowbit_test::contains(msg, "saw no inputs")) << msg;
  row_matrix nan = w;
  nan(2, 3) = std::numeric_limits<float>::infinity();
  msg = lowbit_test::error_of([&] { (void)gptq(qg, nan, h); });
  EXPECT_TRUE(lowbit_test::contains(msg, "weight[2, 3]")) << msg;
  gptq_options neg;
  neg.percdamp = -1;
  EXPECT_THROW((void)gptq(qg, w, h, neg), lowbit::error);
  gptq_options zero_block;
  zero_block.block_size = 0;
  EXPECT_THROW((void)gptq(qg, w, h, zero_block), lowbit::error);
}

}  // namespace
