// examples/lowbit_quantize.cpp (the lowbit-quantize command): run on files written here, its
// outputs read back and compared with what the library computes directly.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "lowbit/io/gguf.hpp"
#include "lowbit/io/safetensors.hpp"
#include "lowbit/lowbit.hpp"
#include "support/random.hpp"

namespace {

using namespace lowbit;
namespace st = lowbit::safetensors;

const std::string dir = ::testing::TempDir();

int tool(const std::string& args, std::string* out = nullptr) {
  const std::string log = dir + "lowbit_quantize_tool.log";
  const int status = std::system((std::string(LOWBIT_QUANTIZE_TOOL) + " " + args + " > " + log + " 2>&1").c_str());
  if (out) {
    std::ifstream in(log);
    std::stringstream s;
    s << in.rdbuf();
    *out = s.str();
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct model {
  row_matrix fc1, fc2, x1;
  std::vector<float> bias;
  std::string path = dir + "lowbit_tool_in.safetensors", calib = dir + "lowbit_tool_calib.safetensors";
  model() {
    lowbit_test::rng r(31);
    fc1 = r.normal_matrix(64, 96, 0.05f);
    fc2 = r.normal_matrix(32, 64, 0.05f);
    x1 = r.normal_matrix(200, 96);
    bias.assign(64, 0.5f);
    st::writer w;
    w.set_metadata("note", "tool test");
    w.add("fc1.weight", fc1);
    w.add("fc1.bias", bias);
    w.add("fc2.weight", fc2);
    w.save(path);
    st::writer c;
    c.add("fc1.weight", x1);
    c.save(calib);
  }
};

TEST(lowbit_quantize, help_and_usage_errors_follow_unix_conventions) {
  std::string out;
  EXPECT_EQ(tool("--help", &out), 0);
  EXPECT_NE(out.find("Usage: lowbit-quantize [OPTION]... INPUT OUTPUT"), std::string::npos);
  EXPECT_EQ(tool("--bits=5 a.safetensors b.safetensors", &out), 2);
  EXPECT_NE(out.find("invalid bits '5'"), std::string::npos) << out;
  EXPECT_EQ(tool("--frobnicate a b", &out), 2);
  EXPECT_NE(out.find("unrecognized option '--frobnicate'"), std::string::npos) << out;
  EXPECT_EQ(tool("only-one.safetensors", &out), 2);
  EXPECT_NE(out.find("missing operand"), std::string::npos) << out;
  EXPECT_EQ(tool(dir + "does-not-exist.safetensors " + dir + "o.safetensors", &out), 1);
  EXPECT_NE(out.find("cannot open"), std::string::npos) << out;
}

TEST(lowbit_quantize, safetensors_output_is_what_the_library_computes) {
  const model m;
  const std::string out = dir + "lowbit_tool_out.safetensors", md = dir + "lowbit_tool.md", csv = dir + "lowbit_tool.csv";
  std::string log;
  ASSERT_EQ(tool("-q -b 4 -g 32 -o 'fc2.*:bits=2,scheme=affine,group=0' --report=" + md + " --csv=" + csv + " " + m.path + " " + out, &log),
            0)
      << log;
  const st::file f = st::file::open(out);
  EXPECT_EQ(*f.meta("note"), "tool test");
  const auto w1 = st::read_packed<int4>(f, "fc1.weight");
  const auto want1 = pack_lowbit(m.fc1, quantizer<int4, symmetric, per_group>(per_group(1, 32)));
  EXPECT_EQ(w1.dequantize(), want1.dequantize());
  const auto w2 = st::read_packed<uint2>(f, "fc2.weight");
  EXPECT_EQ(w2.dequantize(), pack_lowbit(m.fc2, quantizer<uint2, affine, per_channel>(per_channel(0))).dequantize());
  EXPECT_EQ(f.to_float("fc1.bias"), m.bias);  // kept as it was
  const std::string report = read_text(md);
  EXPECT_NE(report.find("| fc1.weight | 64x96 | rtn int4 g32 |"), std::string::npos) << report;
  EXPECT_NE(report.find("| fc2.weight | 32x64 | rtn uint2 per row affine |"), std::string::npos) << report;
  EXPECT_NE(report.find("| fc1.bias | 64 | kept |"), std::string::npos) << report;
  const std::string table = read_text(csv);
  EXPECT_EQ(table.rfind("tensor,shape,method,sqnr_db,bytes_in,bytes_out,compression\n", 0), 0u);
  // fc1's SQNR, as the library measures it.
  const double sqnr = compare(m.fc1, want1.dequantize()).sqnr_db;
  char buf[32];
  std::snprintf(buf, sizeof buf, ",%.2f,%d,%d,", sqnr, 64 * 96 * 4, static_cast<int>(want1.payload_bytes()));
  EXPECT_NE(table.find(std::string("\"fc1.weight\",64x96,\"rtn int4 g32\"") + buf), std::string::npos) << table << buf;
}

TEST(lowbit_quantize, gptq_uses_the_calibration_inputs) {
  const model m;
  const std::string out = dir + "lowbit_tool_gptq.safetensors";
  std::string log;
  ASSERT_EQ(tool("-q -m gptq -b 2 -g 32 -o 'fc2.*:keep' -c " + m.calib + " " + m.path + " " + out, &log), 0) << log;
  const st::file f = st::file::open(out);
  hessian_observer h(96);
  h.observe(m.x1);
  gptq_options o;
  o.half_scales = true;
  const packed_lowbit_weights<int2> want(gptq(quantizer<int2, symmetric, per_group>(per_group(1, 32)), m.fc1, h, o));
  EXPECT_EQ(st::read_packed<int2>(f, "fc1.weight").dequantize(), want.dequantize());
  EXPECT_EQ(f.at("fc2.weight").dtype, st::dtype::F32);  // kept by the override
  // 3 bits: int3 codes in 4-bit containers.
  ASSERT_EQ(tool("-q -m gptq -b 3 -g 0 -o 'fc2.*:keep' -c " + m.calib + " " + m.path + " " + out, &log), 0) << log;
  const packed_lowbit_weights<int3> want3(gptq(quantizer<int3, symmetric, per_channel>(per_channel(0)), m.fc1, h, o));
  EXPECT_EQ(st::read_packed<int3>(st::file::open(out), "fc1.weight").dequantize(), want3.dequantize());
  // Without inputs for a tensor, gptq is an error that names it.
  EXPECT_EQ(tool("-q -m gptq " + m.path + " " + out, &log), 1);
  EXPECT_NE(log.find("tensor 'fc1.weight': gptq needs its layer's inputs"), std::string::npos) << log;
}

TEST(lowbit_quantize, awq_stores_scaled_weights_and_their_scales) {
  const model m;
  // Inputs with a few large channels, where AWQ's scaling pays.
  row_matrix x = m.x1;
  for (index_t j : {3, 40, 77}) x.col(j) *= 25.0f;
  const std::string calib = dir + "lowbit_tool_awq_calib.safetensors", out = dir + "lowbit_tool_awq.safetensors";
  st::writer c;
  c.add("fc1.weight", x);
  c.save(calib);
  std::string log;
  ASSERT_EQ(tool("-q -m awq -b 4 -g 32 -o 'fc2.*:keep' -c " + calib + " " + m.path + " " + out, &log), 0) << log;
  hessian_observer h(96);
  h.observe(x);
  const quantizer<int4, symmetric, per_group> q(per_group(1, 32));
  const auto want = awq(q, m.fc1, h);
  ASSERT_GT(want.alpha, 0.0f);  // the data make AWQ scale, so the test sees the scales
  const st::file f = st::file::open(out);
  const Eigen::VectorXf s = Eigen::Map<const Eigen::VectorXf>(f.to_float("fc1.weight.awq_scales").data(), 96);
  EXPECT_EQ(s, want.scales);
  const row_matrix stored = st::read_packed<int4>(f, "fc1.weight").dequantize();
  EXPECT_EQ(stored, pack_lowbit(smooth_weights(m.fc1, want.scales), q).dequantize());
  // The pair computes with Q(W s) / s, whose output error on the calibration inputs beats round to nearest's.
  const row_matrix effective = smooth_inputs(stored, s);
  EXPECT_LT(output_error(h, m.fc1, effective), output_error(h, m.fc1, pack_lowbit(m.fc1, q).dequantize()));
  // The report names the alpha chosen.
  ASSERT_EQ(tool("-m awq -b 4 -g 32 -o 'fc2.*:keep' -c " + calib + " " + m.path + " " + out, &log), 0) << log;
  char alpha[32];
  std::snprintf(alpha, sizeof alpha, "awq int4 g32 alpha %.2f", want.alpha);
  EXPECT_NE(log.find(alpha), std::string::npos) << log;
  // GGUF output: Q4_0 blocks of W diag(s) and the scales as F32.
  const std::string gg = dir + "lowbit_tool_awq.gguf";
  ASSERT_EQ(tool("-q -m awq -b 4 -g 32 -o 'fc2.*:keep' -c " + calib + " " + m.path + " " + gg, &log), 0) << log;
  const gguf::file g = gguf::file::open(gg);
  const auto b = ggml::quantize_q4_0(smooth_weights(m.fc1, want.scales));
  EXPECT_EQ(std::memcmp(g.data(g.at("fc1.weight")), b.data(), g.at("fc1.weight").bytes), 0);
  EXPECT_EQ(g.at("fc1.weight.awq_scales").type, gguf::tensor_type::F32);
  // Without calibration inputs, awq is an error naming the tensor.
  EXPECT_EQ(tool("-q -m awq " + m.path + " " + out, &log), 1);
  EXPECT_NE(log.find("tensor 'fc1.weight': awq needs its layer's inputs"), std::string::npos) << log;
}

TEST(lowbit_quantize, nf4_output_is_bitsandbytes_layout) {
  const model m;
  const std::string out = dir + "lowbit_tool_nf4.safetensors";
  std::string log;
  ASSERT_EQ(tool("-q -m nf4 -o 'fc2.*:method=fp4' " + m.path + " " + out, &log), 0) << log;
  const st::file f = st::file::open(out);
  float4_options o;
  o.double_quant = true;
  const float4_tensor want = float4_tensor::quantize(m.fc1, float4_kind::nf4, o);
  const float4_tensor got = st::read_float4(f, "fc1.weight");
  EXPECT_EQ(got.packed(), want.packed());
  EXPECT_EQ(got.dequantize(), want.dequantize());
  EXPECT_EQ(st::read_float4(f, "fc2.weight").kind(), float4_kind::fp4);
  EXPECT_EQ(tool("-q -m nf4 " + m.path + " " + dir + "x.gguf", &log), 1);
  EXPECT_NE(log.find("GGUF output cannot hold nf4"), std::string::npos) << log;
}

TEST(lowbit_quantize, gguf_output_holds_ggml_blocks) {
  const model m;
  const std::string out = dir + "lowbit_tool_out.gguf";
  std::string log;
  ASSERT_EQ(tool("-q -b 4 -g 32 -o 'fc2.*:bits=8' " + m.path + " " + out, &log), 0) << log;
  const gguf::file f = gguf::file::open(out);
  const auto& t1 = f.at("fc1.weight");
  EXPECT_EQ(t1.type, gguf::tensor_type::Q4_0);
  const auto b1 = ggml::quantize_q4_0(m.fc1);
  EXPECT_EQ(std::memcmp(f.data(t1), b1.data(), t1.bytes), 0);
  EXPECT_EQ(f.at("fc2.weight").type, gguf::tensor_type::Q8_0);
  EXPECT_EQ(f.at("fc1.bias").type, gguf::tensor_type::F32);
  // GGUF holds only ggml's formats: 2 bits is an error that says what it holds.
  EXPECT_EQ(tool("-q -b 2 " + m.path + " " + out, &log), 1);
  EXPECT_NE(log.find("GGUF output holds Q4_0"), std::string::npos) << log;
  // And a GGUF input converts back to lowbit's safetensors: Q4_0 dequantized then requantized.
  const std::string st_out = dir + "lowbit_tool_back.safetensors";
  ASSERT_EQ(tool("-q -b 8 -g 0 " + out + " " + st_out, &log), 0) << log;
  EXPECT_EQ(st::read_packed<int8>(st::file::open(st_out), "fc1.weight").n(), 64);
}

}  // namespace
