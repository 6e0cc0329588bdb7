// ptq/dynamic_linear.hpp: against float Eigen with a stated bound, against PyTorch's dynamic
// quantized Linear (golden data), across paths and threads, and on bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "lowbit/lowbit.hpp"
#include "lowbit/ptq/dynamic_linear.hpp"
#include "lowbit/ptq/static_linear.hpp"
#include "support/errors.hpp"
#include "support/golden.hpp"
#include "support/random.hpp"

namespace {

using lowbit::index_t;
using lowbit::row_matrix;

// The per-element bound of ptq/dynamic_linear.hpp: sum_k |x_k| sw / 2 + |w_k| sa / 2 + sa sw / 4,
// with sa the step of the row's activations and sw the weight step of the output channel.
row_matrix error_bound(const row_matrix& x, const row_matrix& w, const std::vector<float>& sa,
                       const std::vector<float>& sw) {
  row_matrix b(x.rows(), w.rows());
  for (index_t m = 0; m < x.rows(); ++m)
    for (index_t n = 0; n < w.rows(); ++n)
      b(m, n) = static_cast<float>((x.row(m).cwiseAbs().sum() * sw[n] + w.row(n).cwiseAbs().sum() * sa[m]) / 2 +
                                   x.cols() * sa[m] * sw[n] / 4) * 1.001f + 1e-6f;
  return b;
}

std::vector<float> row_steps_affine(const row_matrix& x) {
  std::vector<float> s;
  for (index_t m = 0; m < x.rows(); ++m) {
    s.push_back(lowbit::quantizer<lowbit::uint8, lowbit::affine>().qparams_for(x.row(m).minCoeff(), x.row(m).maxCoeff()).first);
  }
  return s;
}

TEST(dynamic_linear, within_the_stated_bound_of_float) {
  lowbit_test::rng g(51);
  for (auto [m, k, n] : {std::tuple<index_t, index_t, index_t>{1, 64, 40}, {5, 100, 33}, {33, 257, 70}}) {
    const row_matrix w = g.normal_matrix(n, k, 0.1f);
    const row_matrix x = g.normal_matrix(m, k, 2.f);
    std::vector<float> bias(static_cast<std::size_t>(n));
    for (auto& b : bias) b = g.normal();
    const lowbit::dynamic_linear<> layer(w, bias);
    const row_matrix y = layer.forward(x);
    row_matrix want = x * w.transpose();
    for (index_t j = 0; j < n; ++j) want.col(j).array() += bias[j];
    std::vector<float> sw(layer.weights().scales(), layer.weights().scales() + n);
    const row_matrix bound = error_bound(x, w, row_steps_affine(x), sw);
    EXPECT_TRUE(((y - want).cwiseAbs().array() <= bound.array()).all())
        << "max error " << (y - want).cwiseAbs().maxCoeff() << " bound " << bound.minCoeff();
    EXPECT_GT(lowbit::sqnr_db(want, y), 30.0);
  }
}

template <class ActivationQuantizer>
void check_paths_agree(const row_matrix& w, const row_matrix& x) {
  row_matrix first;
  for (lowbit::kernel_path p : lowbit::supported_paths()) {
    const lowbit::context ctx = lowbit::context{}.with_path(p);
    const lowbit::dynamic_linear<lowbit::quantizer<lowbit::int8, lowbit::symmetric, lowbit::per_channel>, ActivationQuantizer> layer(
        w, {}, {}, {}, ctx);
    const row_matrix y = layer.forward(x, {}, ctx);
    if (first.size() == 0) {
      first = y;
      EXPECT_GT(lowbit::sqnr_db(x * w.transpose(), y), 25.0);
    } else {
      EXPECT_EQ(0, std::memcmp(first.data(), y.data(), sizeof(float) * static_cast<std::size_t>(y.size())))
          << lowbit::path_name(p);
    }
  }
}

TEST(dynamic_linear, every_activation_quantizer_agrees_bit_for_bit_across_paths) {
  lowbit_test::rng g(52);
  const row_matrix w = g.normal_matrix(45, 77, 0.1f);
  const row_matrix x = g.normal_matrix(9, 77);
  check_paths_agree<lowbit::quantizer<lowbit::uint8, lowbit::affine, lowbit::per_channel>>(w, x);  // per row
  check_paths_agree<lowbit::quantizer<lowbit::uint8, lowbit::affine>>(w, x);                       // per tensor
  check_paths_agree<lowbit::quantizer<lowbit::int8, lowbit::symmetric, lowbit::per_channel>>(w, x);
  check_paths_agree<lowbit::quantizer<lowbit::int8, lowbit::affine, lowbit::per_channel>>(w, x);
}

TEST(dynamic_linear, fused_relu_and_clamp_equal_clamping_the_output) {
  lowbit_test::rng g(56);
  const row_matrix w = g.normal_matrix(20, 30, 0.1f);
  const row_matrix x = g.normal_matrix(7, 30);
  const lowbit::dynamic_linear<> layer(w, Eigen::VectorXf::Constant(20, -0.1f));  // an Eigen bias
  const row_matrix y = layer.forward(x);
  EXPECT_EQ(layer.forward(x, lowbit::output_float{}.relu()), row_matrix(y.cwiseMax(0.f)));
  EXPECT_EQ(layer.forward(x, lowbit::output_float{}.clamp(-0.2f, 0.3f)), row_matrix(y.cwiseMax(-0.2f).cwiseMin(0.3f)));
  row_matrix raw(7, 20);
  layer.forward(x.data(), 7, 30, raw.data(), 20, lowbit::output_float{}.relu());
  EXPECT_EQ(raw, row_matrix(y.cwiseMax(0.f)));
}

TEST(dynamic_linear, per_tensor_weights_and_the_quantizer_the_layer_was_given) {
  lowbit_test::rng g(57);
  const row_matrix w = g.normal_matrix(12, 40, 0.1f);
  const lowbit::dynamic_linear<lowbit::quantizer<lowbit::int8, lowbit::symmetric>> layer(w);
  EXPECT_TRUE(layer.weights().per_tensor_scale());
  EXPECT_EQ(layer.weights().scales()[0], (lowbit::quantizer<lowbit::int8, lowbit::symmetric>().quantize(w).params().scale[0]));
  // An activation quantizer along the wrong axis is refused at construction.
  using cols = lowbit::quantizer<lowbit::uint8, lowbit::affine, lowbit::per_channel>;
  EXPECT_THROW((lowbit::dynamic_linear<lowbit::quantizer<lowbit::int8, lowbit::symmetric, lowbit::per_channel>, cols>(
                   w, {}, {}, cols(lowbit::per_channel(1)))),
               lowbit::error);
}

TEST(dynamic_linear, two_threads_and_column_major_input_give_the_same_result) {
  lowbit_test::rng g(53);
  const row_matrix w = g.normal_matrix(70, 96, 0.1f);
  const row_matrix x = g.normal_matrix(40, 96);
  const lowbit::dynamic_linear<> layer(w);
  const lowbit::context one = lowbit::context{}.with_threads(1), two = lowbit::context{}.with_threads(2);
  const row_matrix y1 = layer.forward(x, {}, one);
  EXPECT_EQ(y1, layer.forward(x, {}, two));
  const Eigen::MatrixXf col_major = x;
  EXPECT_EQ(y1, layer.forward(col_major, {}, one));
}

TEST(dynamic_linear, bad_input) {
  lowbit_test::rng g(54);
  const row_matrix w = g.normal_matrix(8, 16);
  const lowbit::dynamic_linear<> layer(w);
  row_matrix x = g.normal_matrix(3, 16);
  EXPECT_THROW(layer.forward(g.normal_matrix(3, 15)), lowbit::error);
  x(2, 5) = std::numeric_limits<float>::quiet_NaN();
  const std::string e = lowbit_test::error_of([&] { (void)layer.forward(x); });
  EXPECT_TRUE(lowbit_test::contains(e, "[2, 5]")) << e;
  EXPECT_THROW(layer.forward(x, {}, lowbit::context{}.with_threads(2)), lowbit::error);  // an error in a worker reaches the caller
  EXPECT_EQ(layer.forward(row_matrix(0, 16)).rows(), 0);
}

// Issue 13, finding 9: misleading messages. A layer with no weights says so; a bad row is named.
TEST(dynamic_linear, messages_name_what_is_wrong) {
  const lowbit::dynamic_linear<> empty;
  row_matrix y(1, 1);
  const float x[4] = {1, 2, 3, 4};
  const std::string e1 = lowbit_test::error_of([&] { empty.forward(x, 1, 4, y.data(), 1); });
  EXPECT_TRUE(lowbit_test::contains(e1, "no weights")) << e1;
  const std::string e2 = lowbit_test::error_of([&] { (void)empty.forward(row_matrix::Ones(2, 4)); });
  EXPECT_TRUE(lowbit_test::contains(e2, "no weights")) << e2;
  lowbit_test::rng g(58);
  const lowbit::dynamic_linear<> layer(g.normal_matrix(3, 4));
  row_matrix wide = row_matrix::Ones(3, 4);
  wide(1, 0) = -3e38f;
  wide(1, 3) = 3e38f;
  // A row whose range is wider than FLT_MAX is quantized (its scale comes from the width in
  // double); its outputs are as large as the float layer's, the other rows unaffected.
  const lowbit::row_matrix out = layer.forward(wide);
  EXPECT_FALSE(out.array().isNaN().any());
  EXPECT_TRUE(out.row(0).allFinite());
  // A NaN names its row and column.
  wide(2, 3) = std::numeric_limits<float>::quiet_NaN();
  const std::string e3 = lowbit_test::error_of([&] { (void)layer.forward(wide); });
  EXPECT_TRUE(lowbit_test::contains(e3, "[2, 3]")) << e3;
  // Zero output features are a valid (empty) layer.
  const lowbit::dynamic_linear<> none(row_matrix(0, 4));
  EXPECT_EQ(none.forward(row_matrix::Ones(2, 4)).cols(), 0);
}

// Thread safety (README): one layer may be used by several threads at once; forward() only reads
// it. Each caller also uses the pool (two threads per call), so loops from several threads queue
// on it. Run under ThreadSanitizer by the tsan preset.
TEST(dynamic_linear, several_threads_share_one_layer) {
  lowbit_test::rng g(61);
  const row_matrix w = g.normal_matrix(96, 128, 0.1f);
  const lowbit::dynamic_linear<> layer(w, Eigen::VectorXf::Constant(96, 0.5f));
  std::vector<row_matrix> inputs, want;
  for (int t = 0; t < 4; ++t) {
    inputs.push_back(g.normal_matrix(17 + t, 128));
    want.push_back(layer.forward(inputs.back(), {}, lowbit::context{}.with_threads(1)));
  }
  std::vector<row_matrix> got(4);
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&, t] {
      for (int rep = 0; rep < 5; ++rep) got[static_cast<std::size_t>(t)] = layer.forward(inputs[static_cast<std::size_t>(t)], {}, lowbit::context{}.with_threads(2));
    });
  for (auto& c : callers) c.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(got[static_cast<std::size_t>(t)], want[static_cast<std::size_t>(t)]) << "caller " << t;
}

// PyTorch 1.13's quantize_dynamic on small layers (tests/golden/generate_gemm.py). Weight codes and
// scales must agree exactly (same MinMax formulas); outputs differ only by how each quantizes the
// activations, so both must lie within the float bound, and close to each other.
TEST(dynamic_linear, agrees_with_pytorch_quantize_dynamic) {
  const lowbit_test::golden_file golden("dynamic_linear_golden.txt");
  for (const char* name : {"a", "b", "c", "d"}) {
    const std::string key = name;
    const auto& xr = golden[key + ".x"];
    const auto& wr = golden[key + ".weight"];
    const row_matrix x = Eigen::Map<const row_matrix>(xr.f32.data(), xr.shape[0], xr.shape[1]);
    const row_matrix w = Eigen::Map<const row_matrix>(wr.f32.data(), wr.shape[0], wr.shape[1]);
    const std::vector<float> bias = golden[key + ".bias"].f32;
    const auto& yf = golden[key + ".y_float"];
    const row_matrix y_float = Eigen::Map<const row_matrix>(yf.f32.data(), yf.shape[0], yf.shape[1]);
    for (const char* label : {"tensor", "channel"}) {
      SCOPED_TRACE(key + "." + label);
      // PyTorch's quantize_dynamic: per-tensor uint8 activations; weights per tensor or per channel.
      using act = lowbit::quantizer<lowbit::uint8, lowbit::affine>;
      const auto layer = std::string(label) == "channel"
                             ? lowbit::dynamic_linear<lowbit::quantizer<lowbit::int8, lowbit::symmetric, lowbit::per_channel>, act>(w, bias)
                                   .weights()
                             : lowbit::dynamic_linear<lowbit::quantizer<lowbit::int8, lowbit::symmetric>, act>(w, bias).weights();
      const lowbit::dynamic_linear<lowbit::quantizer<lowbit::int8, lowbit::symmetric>, act> packed_layer(layer);
      const auto& codes = golden[key + "." + label + ".weight_codes"].i64;
      const auto& wscales = golden[key + "." + label + ".weight_scales"].f32;
      for (index_t n = 0; n < w.rows(); ++n) {
        ASSERT_EQ(layer.scales()[n], wscales[wscales.size() == 1 ? 0 : static_cast<std::size_t>(n)]);
        for (index_t k = 0; k < w.cols(); ++k)
          ASSERT_EQ(layer.code(n, k), codes[static_cast<std::size_t>(n * w.cols() + k)]);
      }
      const auto& yt = golden[key + "." + label + ".y"];
      const row_matrix y_torch = Eigen::Map<const row_matrix>(yt.f32.data(), yt.shape[0], yt.shape[1]);
      const row_matrix y = packed_layer.forward(x);
      const float sa = act().qparams_for(x.minCoeff(), x.maxCoeff()).first;
      std::vector<float> sw(layer.scales(), layer.scales() + w.rows());
      const row_matrix bound = error_bound(x, w, std::vector<float>(static_cast<std::size_t>(x.rows()), sa), sw);
      EXPECT_TRUE(((y - y_float).cwiseAbs().array() <= bound.array()).all());
      EXPECT_TRUE(((y_torch - y_float).cwiseAbs().array() <= bound.array()).all());
      EXPECT_TRUE(((y - y_torch).cwiseAbs().array() <= 2 * bound.array()).all());
      // Quality comparable to PyTorch's: our SQNR against float within 1 dB of theirs, or better.
      EXPECT_GT(lowbit::sqnr_db(y_float, y), lowbit::sqnr_db(y_float, y_torch) - 1.0);
    }
  }
}

}  // namespace
