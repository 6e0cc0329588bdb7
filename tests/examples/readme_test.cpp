// The README's "Using it" snippet, line for line (with data for its placeholders), so that the
// README stays true: it must compile against the current API and run.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "lowbit/lowbit.hpp"
#include "support/random.hpp"

namespace {

TEST(readme, using_it_snippet_compiles_and_runs) {
  lowbit_test::rng g(7);
  const Eigen::MatrixXf W = g.normal_matrix(32, 64, 0.1f), W1 = W;
  const Eigen::VectorXf b = Eigen::VectorXf::Zero(32), b1 = b;
  const Eigen::MatrixXf x = g.normal_matrix(4, 64);
  const std::vector<Eigen::MatrixXf> calibration_batches = {g.normal_matrix(8, 64), g.normal_matrix(8, 64)};

  // --- from README.md ---
  // Quantize and dequantize.
  Eigen::MatrixXf w = g.normal_matrix(16, 96);
  lowbit::quantizer<lowbit::int4, lowbit::affine, lowbit::per_group> q(lowbit::per_group(1, 32));
  lowbit::quantized_tensor<lowbit::int4> t = q.quantize(w);  // qparams from w's min/max, packed codes
  Eigen::MatrixXf back = t.dequantize();
  double sqnr = lowbit::sqnr_db(w, back);                    // also mse, max_abs_error, cosine_similarity
  auto codes = t.int_repr();                                 // unpacked codes (PyTorch's int_repr)
  auto bytes = t.bytes();                                    // codes + scales (+ zero points if affine)
  auto p = lowbit::calibrate(q, w, lowbit::weight_search{}); // or choose the range by GPTQ's search
  auto t2 = q.quantize(w, p);

  // A dynamic quantized Linear layer (what PyTorch's quantize_dynamic gives nn.Linear).
  lowbit::dynamic_linear<> fc(W, b);                         // W [out, in] -> int8 per output channel; b: Eigen or std::vector
  lowbit::row_matrix y = fc.forward(x);                      // x [batch, in] float -> y [batch, out] float
  y = fc.forward(x, lowbit::output_float{}.relu());          // with a fused ReLU

  // Calibrate activations for static quantization: quantizer + observer + calibrator.
  lowbit::calibration<lowbit::quantizer<lowbit::uint8>,       // uint8 is affine by default, as in PyTorch
                      lowbit::histogram_observer<>, lowbit::entropy_calibrator> cal;
  for (const auto& batch : calibration_batches) cal.observe(batch);
  lowbit::static_linear<> fc1(W1, b1, cal.qparams());        // quantized input, int8 weights
  auto h = fc1.forward(fc1.quantize_input(x),                // requantized output: the next layer's input
                       lowbit::output_float{}.relu().requantize<lowbit::uint8>(0.05f, 0));

  // How it runs: threads and kernel path, for any call.
  lowbit::context ctx;                                       // default: all threads, the best path here
  ctx.threads = 1;
  auto t3 = q.quantize(w, ctx);
  // --- end ---

  EXPECT_GT(sqnr, 15.0);
  EXPECT_EQ(codes.rows(), 16);
  EXPECT_EQ(bytes, 16 * 96 / 2 + 16 * 3 * 8);
  EXPECT_GE(lowbit::sqnr_db(w, t2.dequantize()), sqnr - 0.5);
  EXPECT_EQ(y.cols(), 32);
  EXPECT_EQ(h.shape()[1], 32);
  EXPECT_EQ(t3.data(), t.data());
}

TEST(readme, sub_byte_snippet_compiles_and_runs) {
  lowbit_test::rng g(8);
  const lowbit::index_t N = 48, K = 64;
  const Eigen::MatrixXf W = g.normal_matrix(N, K, 0.1f);
  const Eigen::VectorXf b = Eigen::VectorXf::Zero(N);
  const Eigen::MatrixXf x = g.normal_matrix(3, K);

  // --- from README.md ---
  using namespace lowbit;
  // Weights quantized per group of 32 inputs (any calibrator or weight search), packed for the kernels.
  lowbit_linear fc(W, quantizer<int4, symmetric, per_group>(per_group(1, 32)), b);   // or int2, uint4, uint2, int8
  row_matrix y = fc.forward(x, output_float{}.relu());  // x quantized per row to int8 on the fly
  layer_footprint f = fc.footprint();                    // bytes held against the fp32 layer (4.5 bits/weight here)

  // llama.cpp's Q4_0 / Q4_1 / Q8_0 blocks: ggml's rounding, and exact conversions both ways.
  std::vector<ggml::block_q4_0> blocks = ggml::quantize_q4_0(W);
  packed_lowbit_weights<int4> w = ggml::from_q4_0(blocks.data(), N, K);   // computes on lowbit_gemm
  std::vector<ggml::block_q4_0> same = ggml::to_q4_0(w);                  // byte for byte
  // --- end ---

  EXPECT_EQ(y.rows(), 3);
  EXPECT_GE(y.minCoeff(), 0.0f);
  EXPECT_EQ(f.bits_per_weight, 4.5);
  ASSERT_EQ(same.size(), blocks.size());
  EXPECT_EQ(std::memcmp(same.data(), blocks.data(), blocks.size() * sizeof(ggml::block_q4_0)), 0);
}

TEST(readme, files_snippet_compiles_and_runs) {
  lowbit_test::rng r(9);
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(::testing::TempDir());  // the snippet's files, in a scratch directory
  const lowbit::row_matrix W = r.normal_matrix(64, 96, 0.1f), w2 = r.normal_matrix(8, 32);
  const std::vector<float> bias(64, 0.25f);
  const lowbit::quantizer<lowbit::int8, lowbit::symmetric, lowbit::per_channel> q(lowbit::per_channel(0));
  {
    lowbit::safetensors::writer in;
    in.add("fc1.weight", W);
    in.save("model.safetensors");
    lowbit::gguf::writer gin;
    gin.add_q4_0("blk.0.ffn_up.weight", lowbit::ggml::from_q4_0(lowbit::ggml::quantize_q4_0(W).data(), 64, 96));
    gin.save("model.gguf");
  }

  // --- from README.md ---
  using namespace lowbit;
  auto f = safetensors::file::open("model.safetensors");      // memory-mapped; the header checked first
  row_matrix w = f.matrix("fc1.weight");                       // F32 / F16 / BF16 / I8 / U8, exact
  auto view = f.f32_matrix("fc1.weight");                      // F32 in place, no copy

  safetensors::writer out;
  safetensors::add(out, "fc1.weight", pack_lowbit(w, quantizer<int4, symmetric, per_group>(per_group(1, 32))));
  safetensors::add(out, "fc2.weight", q.quantize(w2));         // any quantized_tensor
  out.add("fc1.bias", bias);
  out.save("model-int4.safetensors");                          // written beside, then renamed
  auto w4 = safetensors::read_packed<int4>(safetensors::file::open("model-int4.safetensors"), "fc1.weight");

  auto g = gguf::file::open("model.gguf");                     // GGUF v3 (v2 read too)
  packed_lowbit_weights<int4> q4 = g.read_q4_0("blk.0.ffn_up.weight");   // Q4_0 / Q4_1 / Q8_0, bit for bit
  gguf::writer gw;  gw.set("general.architecture", "llama");  gw.add_q4_0("blk.0.ffn_up.weight", q4);
  // --- end ---

  EXPECT_EQ(w, W);
  EXPECT_EQ(view, W);
  EXPECT_EQ(w4.dequantize(), pack_lowbit(W, quantizer<int4, symmetric, per_group>(per_group(1, 32))).dequantize());
  EXPECT_EQ(safetensors::read_quantized<int8>(safetensors::file::open("model-int4.safetensors"), "fc2.weight").data(),
            q.quantize(w2).data());
  EXPECT_EQ(q4.n(), 64);
  EXPECT_EQ(gw.bytes().size() % 32, 0u);
  std::filesystem::current_path(cwd);
}

TEST(readme, weight_algorithms_snippet_compiles_and_runs) {
  lowbit_test::rng g(9);
  const lowbit::index_t in_features = 256;
  const lowbit::row_matrix W = g.normal_matrix(32, in_features, 0.05f), W1 = W, W2 = g.normal_matrix(16, in_features, 0.05f);
  const std::vector<lowbit::row_matrix> calibration_inputs = {g.normal_matrix(64, in_features), g.normal_matrix(64, in_features)};
  lowbit::hessian_observer h1(in_features), h2(in_features);
  h1.observe(calibration_inputs[0]);
  h2.observe(calibration_inputs[1]);
  {
    using namespace lowbit;
    // --- from README.md ---
    hessian_observer h(in_features);                     // a layer's inputs: 2/n X^T X, mean |X_j|, max |X_j|
    for (const auto& batch : calibration_inputs) h.observe(batch);
    quantizer<int4, symmetric, per_group> q4(per_group(1, 128));

    gptq_options o;  o.act_order = true;  o.static_groups = true;
    quantized_tensor<int4> wq = gptq(q4, W, h, o);      // GPTQ; codes in W's column order
    double err = output_error(h, W, wq.dequantize());    // mean squared output error on the calibration inputs

    auto a = awq(q4, W, h);                              // AWQ: a.weights = Q(W diag(s)); divide the inputs by a.scales
    Eigen::VectorXf s = smoothquant_scales(h, W);        // SmoothQuant (alpha 0.5): smooth_weights(W, s), smooth_inputs(X, s)

    float4_options f;  f.double_quant = true;
    float4_tensor nf4 = float4_tensor::quantize(W, float4_kind::nf4, f);   // bitsandbytes' NF4 bytes, block 64
    float4_linear fc(W, float4_kind::nf4);              // NF4 weights, float compute

    precision_plan plan = plan_precision({{"fc1", W1, h1}, {"fc2", W2, h2}}, 3.0);  // 3 bits per weight
    std::string table = plan.table();                    // Markdown: per layer the choice and every option's output SQNR
    // --- end ---
    const double rtn = output_error(h, W, q4.quantize(W).dequantize());
    EXPECT_LT(err, rtn);
    EXPECT_LE(a.error, a.errors[0]);
    EXPECT_EQ(s.size(), in_features);
    EXPECT_TRUE(nf4.double_quantized());
    EXPECT_EQ(fc.out_features(), 32);
    EXPECT_LE(plan.bits_per_weight(), 3.0);
    EXPECT_NE(table.find("fc2"), std::string::npos);
  }
}

}  // namespace
