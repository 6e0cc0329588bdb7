// lowbit's GGUF files and llama.cpp's blocks against ggml itself (the library under llama.cpp):
// ggml's gguf reader opens what lowbit writes, lowbit opens what ggml's gguf writer writes, and
// both sides agree on every byte and every dequantized value. Built only when a ggml install is
// given (-DLOWBIT_GGML_DIR=<prefix>, see cmake/lowbitGgmlPeer.cmake); the committed golden files
// of gguf_test.cpp and ggml_blocks_test.cpp cover the same ground without ggml.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ggml-cpu.h"
#include "ggml.h"
#include "gguf.h"
#include "lowbit/io/gguf.hpp"
#include "lowbit/io/safetensors.hpp"
#include "lowbit/lowbit.hpp"
#include "support/random.hpp"

namespace {

using namespace lowbit;

const std::string dir = ::testing::TempDir();

struct gguf_deleter {
  void operator()(gguf_context* g) const { gguf_free(g); }
};
struct ggml_deleter {
  void operator()(ggml_context* c) const { ggml_free(c); }
};

// A file opened by ggml's reader with its tensor data loaded into a ggml context.
struct ggml_file {
  std::unique_ptr<gguf_context, gguf_deleter> g;
  std::unique_ptr<ggml_context, ggml_deleter> ctx;
  explicit ggml_file(const std::string& path) {
    ggml_context* c = nullptr;
    gguf_init_params p{false, &c};
    g.reset(gguf_init_from_file(path.c_str(), p));
    ctx.reset(c);
  }
};

// ggml's dequantization of a tensor of any type it knows.
std::vector<float> ggml_floats(const ggml_tensor* t) {
  std::vector<float> out(static_cast<std::size_t>(ggml_nelements(t)));
  if (t->type == GGML_TYPE_F32) std::memcpy(out.data(), t->data, out.size() * sizeof(float));  // no to_float for F32
  else ggml_get_type_traits(t->type)->to_float(t->data, out.data(), ggml_nelements(t));
  return out;
}

std::vector<float> flat(const row_matrix& m) { return std::vector<float>(m.data(), m.data() + m.size()); }

row_matrix weights(index_t n, index_t k, std::uint64_t seed) {
  lowbit_test::rng r(seed);
  row_matrix w = r.normal_matrix(n, k, 0.05f);
  w(0, 0) = 0.0f;        // a zero and a block of zeros
  w.row(1).head(32).setZero();
  w(2, 5) = 0.9f;        // an outlier
  return w;
}

TEST(ggml_interop, ggml_reads_what_lowbit_writes) {
  const index_t n = 24, k = 96;
  const row_matrix w = weights(n, k, 7);
  const auto q40 = ggml::quantize_q4_0(w);
  const auto q41 = ggml::quantize_q4_1(w);
  const auto q80 = ggml::quantize_q8_0(w);
  std::vector<float> norm(k);
  for (index_t j = 0; j < k; ++j) norm[static_cast<std::size_t>(j)] = 1.0f + 0.01f * static_cast<float>(j);

  gguf::writer out;
  out.set("general.architecture", std::string("llama"));
  out.set("llama.block_count", std::uint32_t{1});
  out.set("llama.rope.freq_base", 10000.0f);
  gguf::value tokens;
  tokens.type = gguf::value_type::array;
  tokens.element = gguf::value_type::string;
  for (const char* s : {"<s>", "</s>", "hello"}) tokens.items.push_back(gguf::value::string(s));
  out.set("tokenizer.ggml.tokens", tokens);
  const std::vector<std::uint64_t> dims{static_cast<std::uint64_t>(k), static_cast<std::uint64_t>(n)};
  out.add("w.q4_0", gguf::tensor_type::Q4_0, dims, q40.data());
  out.add("w.q4_1", gguf::tensor_type::Q4_1, dims, q41.data());
  out.add("w.q8_0", gguf::tensor_type::Q8_0, dims, q80.data());
  out.add("w.f16", w, gguf::tensor_type::F16);
  out.add("w.f32", w);
  out.add("norm", norm);
  const std::string path = dir + "lowbit_for_ggml.gguf";
  out.save(path);

  const ggml_file f(path);
  ASSERT_NE(f.g, nullptr) << "ggml's gguf reader refused lowbit's file";
  EXPECT_EQ(gguf_get_version(f.g.get()), 3u);
  EXPECT_EQ(gguf_get_n_tensors(f.g.get()), 6);
  EXPECT_STREQ(gguf_get_val_str(f.g.get(), gguf_find_key(f.g.get(), "general.architecture")), "llama");
  EXPECT_EQ(gguf_get_val_u32(f.g.get(), gguf_find_key(f.g.get(), "llama.block_count")), 1u);
  EXPECT_EQ(gguf_get_val_f32(f.g.get(), gguf_find_key(f.g.get(), "llama.rope.freq_base")), 10000.0f);
  const int64_t tk = gguf_find_key(f.g.get(), "tokenizer.ggml.tokens");
  ASSERT_EQ(gguf_get_arr_n(f.g.get(), tk), 3u);
  EXPECT_STREQ(gguf_get_arr_str(f.g.get(), tk, 2), "hello");

  const gguf::file mine = gguf::file::open(path);
  for (const char* name : {"w.q4_0", "w.q4_1", "w.q8_0", "w.f16", "w.f32", "norm"}) {
    SCOPED_TRACE(name);
    const ggml_tensor* t = ggml_get_tensor(f.ctx.get(), name);
    ASSERT_NE(t, nullptr);
    const auto& info = mine.at(name);
    EXPECT_EQ(static_cast<std::uint32_t>(t->type), static_cast<std::uint32_t>(info.type));
    for (std::size_t d = 0; d < info.dims.size(); ++d) EXPECT_EQ(static_cast<std::uint64_t>(t->ne[d]), info.dims[d]);
    ASSERT_EQ(ggml_nbytes(t), info.bytes);
    EXPECT_EQ(std::memcmp(t->data, mine.data(info), info.bytes), 0);
    // ggml's dequantization equals lowbit's, value for value.
    EXPECT_EQ(ggml_floats(t), flat(mine.to_float(name)));
  }
  // And ggml's reference quantizers give the blocks lowbit wrote.
  std::vector<std::uint8_t> ref(ggml_row_size(GGML_TYPE_Q4_0, k) * static_cast<std::size_t>(n));
  ggml_quantize_chunk(GGML_TYPE_Q4_0, w.data(), ref.data(), 0, n, k, nullptr);
  EXPECT_EQ(std::memcmp(ref.data(), q40.data(), ref.size()), 0);
}

#ifdef LOWBIT_QUANTIZE_TOOL
TEST(ggml_interop, ggml_reads_lowbit_quantize_output) {
  const row_matrix w1 = weights(64, 128, 11), w2 = weights(32, 64, 12);
  safetensors::writer in;
  in.add("blk.0.ffn_up.weight", w1);
  in.add("blk.0.ffn_down.weight", w2);
  const std::string src = dir + "lowbit_for_ggml_in.safetensors", dst = dir + "lowbit_for_ggml_tool.gguf";
  in.save(src);
  const std::string cmd = std::string(LOWBIT_QUANTIZE_TOOL) + " -q -b 4 -g 32 -o 'blk.0.ffn_down.*:bits=8' " + src + " " + dst;
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const ggml_file f(dst);
  ASSERT_NE(f.g, nullptr);
  const gguf::file mine = gguf::file::open(dst);
  const ggml_tensor* up = ggml_get_tensor(f.ctx.get(), "blk.0.ffn_up.weight");
  const ggml_tensor* down = ggml_get_tensor(f.ctx.get(), "blk.0.ffn_down.weight");
  ASSERT_TRUE(up && down);
  EXPECT_EQ(up->type, GGML_TYPE_Q4_0);
  EXPECT_EQ(down->type, GGML_TYPE_Q8_0);
  EXPECT_EQ(ggml_floats(up), flat(mine.to_float("blk.0.ffn_up.weight")));
  EXPECT_EQ(ggml_floats(down), flat(mine.to_float("blk.0.ffn_down.weight")));
  std::vector<std::uint8_t> ref(ggml_nbytes(up));
  ggml_quantize_chunk(GGML_TYPE_Q4_0, w1.data(), ref.data(), 0, 64, 128, nullptr);
  EXPECT_EQ(std::memcmp(ref.data(), up->data, ref.size()), 0);
}
#endif

TEST(ggml_interop, lowbit_reads_what_ggml_writes) {
  const index_t n = 16, k = 64;
  const row_matrix w = weights(n, k, 9);
  ggml_init_params ip{16 * 1024 * 1024, nullptr, false};
  std::unique_ptr<ggml_context, ggml_deleter> ctx(ggml_init(ip));
  std::unique_ptr<gguf_context, gguf_deleter> g(gguf_init_empty());
  gguf_set_val_str(g.get(), "general.architecture", "llama");
  gguf_set_val_u32(g.get(), "general.alignment", 64);
  gguf_set_val_i64(g.get(), "test.i64", -5);
  gguf_set_val_bool(g.get(), "test.flag", true);
  const ggml_type types[] = {GGML_TYPE_F32, GGML_TYPE_F16, GGML_TYPE_Q4_0, GGML_TYPE_Q4_1, GGML_TYPE_Q8_0};
  const char* names[] = {"t.f32", "t.f16", "t.q4_0", "t.q4_1", "t.q8_0"};
  for (int i = 0; i < 5; ++i) {
    ggml_tensor* t = ggml_new_tensor_2d(ctx.get(), types[i], k, n);
    ggml_set_name(t, names[i]);
    if (types[i] == GGML_TYPE_F32) std::memcpy(t->data, w.data(), sizeof(float) * static_cast<std::size_t>(w.size()));
    else if (types[i] == GGML_TYPE_F16) ggml_fp32_to_fp16_row(w.data(), static_cast<ggml_fp16_t*>(t->data), w.size());
    else ggml_quantize_chunk(types[i], w.data(), t->data, 0, n, k, nullptr);
    gguf_add_tensor(g.get(), t);
  }
  const std::string path = dir + "ggml_for_lowbit.gguf";
  ASSERT_TRUE(gguf_write_to_file(g.get(), path.c_str(), false));

  const gguf::file f = gguf::file::open(path);
  ASSERT_NE(f.meta("general.architecture"), nullptr);
  EXPECT_EQ(f.meta("general.architecture")->s, "llama");
  EXPECT_EQ(f.meta("test.i64")->i, -5);
  EXPECT_EQ(f.meta("test.flag")->u, 1u);
  for (int i = 0; i < 5; ++i) {
    SCOPED_TRACE(names[i]);
    const ggml_tensor* t = ggml_get_tensor(ctx.get(), names[i]);
    const auto& info = f.at(names[i]);
    EXPECT_EQ(static_cast<std::uint32_t>(info.type), static_cast<std::uint32_t>(types[i]));
    ASSERT_EQ(info.bytes, ggml_nbytes(t));
    EXPECT_EQ(std::memcmp(f.data(info), t->data, info.bytes), 0);
    EXPECT_EQ(flat(f.to_float(names[i])), ggml_floats(t));
  }
  // ggml's blocks become lowbit's packed weights and go back unchanged.
  const auto& q = f.at("t.q4_0");
  const auto packed = f.read_q4_0("t.q4_0");
  const auto back = ggml::to_q4_0(packed);
  EXPECT_EQ(std::memcmp(back.data(), f.data(q), q.bytes), 0);
  EXPECT_EQ(packed.dequantize(), f.to_float("t.q4_0"));
  // lowbit's own Q4_0 / Q4_1 / Q8_0 quantizers make ggml's bytes from the same floats.
  EXPECT_EQ(std::memcmp(ggml::quantize_q4_0(w).data(), f.data(f.at("t.q4_0")), q.bytes), 0);
  EXPECT_EQ(std::memcmp(ggml::quantize_q4_1(w).data(), f.data(f.at("t.q4_1")), f.at("t.q4_1").bytes), 0);
  EXPECT_EQ(std::memcmp(ggml::quantize_q8_0(w).data(), f.data(f.at("t.q8_0")), f.at("t.q8_0").bytes), 0);
}

TEST(ggml_interop, lowbit_q4_0_blocks_dot_like_ggml) {
  // ggml's Q4_0 x Q8_0 dot product (the kernel llama.cpp runs) on lowbit's blocks gives the
  // result of lowbit's dequantized weights with ggml's quantized activations, to float rounding.
  const index_t n = 8, k = 256;
  const row_matrix w = weights(n, k, 21);
  lowbit_test::rng r(22);
  const row_matrix x = r.normal_matrix(1, k);
  ggml_cpu_init();
  const auto blocks = ggml::quantize_q4_0(w);
  std::vector<std::uint8_t> xq(ggml_row_size(GGML_TYPE_Q8_0, k));
  ggml_quantize_chunk(GGML_TYPE_Q8_0, x.data(), xq.data(), 0, 1, k, nullptr);
  std::vector<float> xd(static_cast<std::size_t>(k));
  ggml_get_type_traits(GGML_TYPE_Q8_0)->to_float(xq.data(), xd.data(), k);
  const row_matrix wd = ggml::dequantize(blocks.data(), n, k);
  const auto* cpu = ggml_get_type_traits_cpu(GGML_TYPE_Q4_0);
  ASSERT_EQ(cpu->vec_dot_type, GGML_TYPE_Q8_0);
  for (index_t i = 0; i < n; ++i) {
    float got = 0;
    cpu->vec_dot(static_cast<int>(k), &got, 0, blocks.data() + i * (k / 32), 0, xq.data(), 0, 1);
    double want = 0;
    for (index_t j = 0; j < k; ++j) want += static_cast<double>(wd(i, j)) * xd[static_cast<std::size_t>(j)];
    EXPECT_NEAR(got, want, 1e-4 * (1 + std::abs(want))) << "row " << i;
  }
}

}  // namespace
