// io/gguf.hpp: an independently written GGUF v3 file (tests/golden/generate_gguf.py) read exactly
// and written back byte for byte; Q4_0 / Q4_1 / Q8_0 tensors to lowbit's packed weights and back;
// a lowbit model file read back; damaged files rejected with the field named.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "lowbit/io/gguf.hpp"
#include "lowbit/lowbit.hpp"
#include "support/errors.hpp"
#include "support/random.hpp"

namespace {

using namespace lowbit;
using lowbit_test::contains;
using lowbit_test::error_of;

std::vector<std::uint8_t> golden_bytes() {
  std::ifstream in(std::string(LOWBIT_TEST_DATA_DIR) + "/gguf_golden.gguf", std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool same_bits(const row_matrix& a, const row_matrix& b) {
  return a.rows() == b.rows() && a.cols() == b.cols() && std::memcmp(a.data(), b.data(), 4 * static_cast<std::size_t>(a.size())) == 0;
}

TEST(gguf, reads_an_independent_writers_file) {
  const gguf::file f = gguf::file::from_bytes(golden_bytes(), "golden");
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_offset() % 64, 0u);
  ASSERT_EQ(f.metadata().size(), 15u);
  EXPECT_EQ(f.meta("general.architecture")->s, "lowbit-test");
  EXPECT_EQ(f.meta("u8")->u, 200u);
  EXPECT_EQ(f.meta("i8")->i, -100);
  EXPECT_EQ(f.meta("u16")->u, 60000u);
  EXPECT_EQ(f.meta("i16")->i, -30000);
  EXPECT_EQ(f.meta("i32")->i, -2000000000);
  EXPECT_EQ(static_cast<float>(f.meta("f32")->f), 0.1f);
  EXPECT_EQ(f.meta("flag")->u, 1u);
  EXPECT_EQ(f.meta("u64")->u, (std::uint64_t{1} << 63) + 5);
  EXPECT_EQ(f.meta("i64")->i, -(std::int64_t{1} << 62));
  EXPECT_EQ(f.meta("f64")->f, 3.141592653589793);
  const gguf::value& tokens = *f.meta("tokens");
  ASSERT_EQ(tokens.items.size(), 4u);
  EXPECT_EQ(tokens.items[2].s, "h\xc3\xa9llo");
  EXPECT_EQ(f.meta("ids")->items[1].i, -2);
  EXPECT_EQ(f.meta("nested")->items[0].items[1].u, 8u);
  EXPECT_EQ(f.meta("nested")->items[1].items.size(), 0u);
  // Tensors: dims innermost first, shaped [rows, cols] for lowbit.
  const gguf::tensor_info& w = f.at("w.q4_1");
  EXPECT_EQ(w.dims, (std::vector<std::uint64_t>{64, 3}));
  EXPECT_EQ(w.rows(), 3);
  EXPECT_EQ(w.cols(), 64);
  EXPECT_EQ(f.to_float("t.f32").rows(), 3);
  for (const char* name : {"t.f16", "t.bf16", "w.q4_0", "w.q4_1", "w.q8_0"}) {
    SCOPED_TRACE(name);
    const row_matrix got = f.to_float(name), want = f.to_float(std::string("expect.") + name);
    EXPECT_TRUE(same_bits(got.reshaped<Eigen::RowMajor>(want.rows(), want.cols()), want));
  }
  EXPECT_TRUE(contains(error_of([&] { (void)f.to_float("opaque.q6_k"); }), "is Q6_K; floats are read from"));
  EXPECT_EQ(f.at("opaque.q6_k").bytes, 210u);
  EXPECT_TRUE(contains(error_of([&] { (void)f.read_q4_0("w.q8_0"); }), "tensor 'w.q8_0' is Q8_0, not Q4_0"));
}

TEST(gguf, writes_the_independent_writers_bytes) {
  const std::vector<std::uint8_t> golden = golden_bytes();
  const gguf::file f = gguf::file::from_bytes(golden);
  // Copied as they are ...
  gguf::writer raw;
  for (const auto& [key, v] : f.metadata()) raw.set(key, v);
  for (const auto& t : f.tensors()) raw.add(t.name, t.type, t.dims, f.data(t));
  EXPECT_TRUE(raw.bytes() == golden);
  // ... and the ggml blocks through lowbit's packed weights: the same bytes.
  gguf::writer through;
  for (const auto& [key, v] : f.metadata()) through.set(key, v);
  for (const auto& t : f.tensors()) {
    if (t.name == "w.q4_0") through.add_q4_0(t.name, f.read_q4_0(t.name));
    else if (t.name == "w.q4_1") through.add_q4_1(t.name, f.read_q4_1(t.name));
    else if (t.name == "w.q8_0") through.add_q8_0(t.name, f.read_q8_0(t.name));
    else through.add(t.name, t.type, t.dims, f.data(t));
  }
  EXPECT_TRUE(through.bytes() == golden);
}

TEST(gguf, a_lowbit_model_saves_and_loads) {
  lowbit_test::rng r(5);
  const row_matrix w = r.normal_matrix(48, 96, 0.05f);
  const auto q4 = ggml::from_q4_0(ggml::quantize_q4_0(w).data(), 48, 96);
  const auto q8 = ggml::from_q8_0(ggml::quantize_q8_0(w).data(), 48, 96);
  gguf::writer out;
  out.set("general.architecture", "lowbit");
  out.set("lowbit.layers", std::uint32_t{2});
  out.add_q4_0("fc1.weight", q4);
  out.add_q8_0("fc2.weight", q8);
  out.add("fc1.bias", std::vector<float>{1, 2, 3});
  out.add("norm", w.topRows(2), gguf::tensor_type::F16);
  const std::string path = ::testing::TempDir() + "lowbit_gguf_test.gguf";
  out.save(path);
  const gguf::file f = gguf::file::open(path);
  std::remove(path.c_str());  // the mapping stays valid
  EXPECT_EQ(f.meta("lowbit.layers")->u, 2u);
  const auto back = f.read_q4_0("fc1.weight");
  const row_matrix x = r.normal_matrix(2, 96);
  EXPECT_TRUE(same_bits(lowbit_linear(back).forward(x), lowbit_linear(q4).forward(x)));
  EXPECT_TRUE(same_bits(f.read_q8_0("fc2.weight").dequantize(), q8.dequantize()));
  EXPECT_TRUE(same_bits(f.to_float("fc1.weight"), q4.dequantize()));
  EXPECT_EQ(f.to_float("fc1.bias")(0, 2), 3.0f);
  const row_matrix norm = f.to_float("norm");
  for (index_t i = 0; i < norm.size(); ++i)
    EXPECT_EQ(norm.data()[i], half_to_float(float_to_half(w.topRows(2).reshaped<Eigen::RowMajor>()(i))));
  for (const auto& t : f.tensors()) EXPECT_EQ(t.offset % 32, 0u) << t.name;
}

std::vector<std::uint8_t> header(std::uint32_t version, std::uint64_t tensors, std::uint64_t kvs) {
  std::vector<std::uint8_t> b{'G', 'G', 'U', 'F'};
  auto put = [&](const void* p, std::size_t n) { b.insert(b.end(), static_cast<const std::uint8_t*>(p), static_cast<const std::uint8_t*>(p) + n); };
  put(&version, 4);
  put(&tensors, 8);
  put(&kvs, 8);
  return b;
}

std::string load_error(const std::vector<std::uint8_t>& b) {
  return error_of([&] { gguf::file::from_bytes(b, "f"); });
}

TEST(gguf, damaged_files_are_rejected_with_the_field_named) {
  EXPECT_TRUE(contains(load_error({'G', 'G'}), "truncated at byte 0 reading the magic"));
  EXPECT_TRUE(contains(load_error({'G', 'G', 'M', 'L', 3, 0, 0, 0}), "not a GGUF file"));
  EXPECT_TRUE(contains(load_error(header(1, 0, 0)), "GGUF version 1"));
  EXPECT_TRUE(contains(load_error(header(3, 0, 1000)), "metadata count 1000 cannot fit"));
  EXPECT_TRUE(contains(load_error(header(3, std::uint64_t{1} << 60, 0)), "tensor count"));
  EXPECT_EQ(load_error(header(3, 0, 0)), "(no error)");  // an empty file is a valid one
  // Edit a valid file's bytes.
  gguf::writer w;
  w.set("k", "v");
  w.add("t", std::vector<float>{1, 2, 3, 4});
  const std::vector<std::uint8_t> good = w.bytes();
  EXPECT_EQ(load_error(good), "(no error)");
  auto at = [&](const std::string& s) {
    const auto it = std::search(good.begin(), good.end(), s.begin(), s.end());
    return static_cast<std::size_t>(it - good.begin());
  };
  auto edited = [&](std::size_t pos, std::vector<std::uint8_t> with) {
    std::vector<std::uint8_t> b = good;
    std::copy(with.begin(), with.end(), b.begin() + static_cast<std::ptrdiff_t>(pos));
    return b;
  };
  const std::size_t key = at("k") - 8;  // the key's length
  EXPECT_TRUE(contains(load_error(edited(key, {0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0})), "a metadata key of 16777215 bytes"));
  EXPECT_TRUE(contains(load_error(edited(key + 9, {13})), "metadata 'k' has unknown value type 13"));
  const std::size_t name = at("t") - 8;
  EXPECT_TRUE(contains(load_error(edited(name + 9, {5})), "tensor 't': 5 dimensions (at most 4)"));
  EXPECT_TRUE(contains(load_error(edited(name + 13, {0, 1})), "tensor 't': its 1024 bytes at offset 0 run past the 32 bytes"));
  EXPECT_TRUE(contains(load_error(edited(name + 13, {0, 0, 0, 0, 0, 0, 0, 0x40})), "tensor 't': its byte count overflows"));  // 2^62 floats
  EXPECT_TRUE(contains(load_error(edited(name + 13, {0, 0, 0, 0, 0, 0, 0, 0x80})), "dimension 0 = 9223372036854775808 is beyond 2^62"));
  EXPECT_TRUE(contains(load_error(edited(name + 21, {2})), "rows of 4 Q4_0 values are not whole blocks of 32"));
  EXPECT_TRUE(contains(load_error(edited(name + 21, {99})), "unknown ggml type 99"));
  EXPECT_TRUE(contains(load_error(edited(name + 25, {8})), "offset 8 is not a multiple of the alignment 32"));
  EXPECT_TRUE(contains(load_error(edited(name + 25, {32})), "run past the"));
  std::vector<std::uint8_t> truncated(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(good.size() - 20));
  EXPECT_TRUE(contains(load_error(truncated), "run past the"));
  // Overlap, duplicates, arrays that claim more than the file holds, alignment.
  gguf::writer two;
  two.add("a", std::vector<float>{1, 2});
  two.add("b", std::vector<float>{3, 4});
  std::vector<std::uint8_t> b = two.bytes();
  const std::string bname = "b";
  auto bpos = static_cast<std::size_t>(std::search(b.begin() + 30, b.end(), bname.begin(), bname.end()) - b.begin());
  std::fill(b.begin() + static_cast<std::ptrdiff_t>(bpos + 1 + 4 + 8 + 4), b.begin() + static_cast<std::ptrdiff_t>(bpos + 1 + 4 + 8 + 4 + 8), 0);
  EXPECT_TRUE(contains(load_error(b), "tensors 'a' and 'b' overlap"));
  b[bpos] = 'a';
  EXPECT_TRUE(contains(load_error(b), "tensor 'a': the name appears twice"));
  gguf::value big;
  big.type = gguf::value_type::array;
  big.element = gguf::value_type::string;
  gguf::writer arr;
  arr.set("arr", big);
  std::vector<std::uint8_t> a = arr.bytes();
  const std::string arr_key = "arr";
  const auto count = static_cast<std::size_t>(std::search(a.begin(), a.end(), arr_key.begin(), arr_key.end()) - a.begin()) + 3 + 4 + 4;
  a[count] = 0xFF;  // the array's length: 2^32 + 255 strings in the bytes left
  a[count + 4] = 0x01;
  EXPECT_TRUE(contains(load_error(a), "metadata 'arr' claims"));
  EXPECT_TRUE(contains(error_of([&] { gguf::writer{}.set("general.alignment", std::uint32_t{24}); }), "power of two"));
  EXPECT_TRUE(contains(error_of([&] { gguf::writer{}.add("x", gguf::tensor_type::Q4_0, {16}, good.data()); }), "whole blocks of 32"));
  EXPECT_TRUE(contains(error_of([&] { gguf::writer{}.add(std::string(65, 'n'), std::vector<float>{1}); }), "1 to 64 bytes"));
}

}  // namespace
