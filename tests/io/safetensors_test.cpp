// io/safetensors.hpp: an independently written file (tests/golden/generate_safetensors.py) read
// bit-exactly and written back byte for byte; round trips of every format, scheme and
// granularity; mapping without a copy; and every kind of damaged file rejected with its field named.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "lowbit/io/safetensors.hpp"
#include "lowbit/lowbit.hpp"
#include "support/errors.hpp"
#include "support/random.hpp"

namespace {

using namespace lowbit;
namespace st = lowbit::safetensors;
using lowbit_test::contains;
using lowbit_test::error_of;

std::vector<std::uint8_t> golden_bytes() {
  std::ifstream in(std::string(LOWBIT_TEST_DATA_DIR) + "/safetensors_golden.safetensors", std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool same_bits(const float* a, const float* b, std::size_t n) { return n == 0 || std::memcmp(a, b, 4 * n) == 0; }

std::string rounding_of(const st::file& f, const std::string& name) {
  const std::string* m = f.meta("lowbit:" + name);
  const st::json::value v = st::json::parse(m->data(), m->size());
  const st::json::value* r = v.find("rounding");
  return r ? r->text : "";
}

// The golden file's quantized tensors, read as their formats, then added to w in the
// generator's order.
struct golden_content {
  quantized_tensor<int8> q_int8;
  quantized_tensor<uint8> q_uint8;
  quantized_tensor<int4> q_int4, q_int4_rank3;
  quantized_tensor<uint4> q_uint4;
  quantized_tensor<int2> q_int2;
  quantized_tensor<uint2> q_uint2;
  packed_lowbit_weights<int4> p_int4;
  packed_lowbit_weights<uint4> p_uint4;
  packed_lowbit_weights<int8> p_int8;
  packed_lowbit_weights<uint2> p_uint2;

  explicit golden_content(const st::file& f)
      : q_int8(st::read_quantized<int8>(f, "q.int8_tensor_symmetric")),
        q_uint8(st::read_quantized<uint8>(f, "q.uint8_channel_affine")),
        q_int4(st::read_quantized<int4>(f, "q.int4_group_affine")),
        q_int4_rank3(st::read_quantized<int4>(f, "q.int4_rank3_group")),
        q_uint4(st::read_quantized<uint4>(f, "q.uint4_channel_symmetric")),
        q_int2(st::read_quantized<int2>(f, "q.int2_tensor_affine")),
        q_uint2(st::read_quantized<uint2>(f, "q.uint2_group_symmetric")),
        p_int4(st::read_packed<int4>(f, "p.int4_g32_symmetric")),
        p_uint4(st::read_packed<uint4>(f, "p.uint4_g32_min")),
        p_int8(st::read_packed<int8>(f, "p.int8_channel_zero_point")),
        p_uint2(st::read_packed<uint2>(f, "p.uint2_g8_zero_point")) {}
};

TEST(safetensors, reads_an_independent_writers_file_bit_exactly) {
  const st::file f = st::file::from_bytes(golden_bytes(), "golden");
  EXPECT_EQ(*f.meta("format"), "pt");
  // Plain tensors: exact conversions.
  const std::vector<float> f32 = f.to_float("plain.f32");
  const float want_f32[] = {1.5f, -0.0f, 1e-40f, 3.4e38f, -2.25f, 7.0f};
  EXPECT_TRUE(same_bits(f32.data(), want_f32, 6));
  for (const char* name : {"plain.f16", "plain.bf16", "plain.i8", "plain.u8"}) {
    SCOPED_TRACE(name);
    const std::vector<float> got = f.to_float(name), want = f.to_float(std::string("expect.") + name);
    ASSERT_EQ(got.size(), want.size());
    EXPECT_TRUE(same_bits(got.data(), want.data(), got.size()));
  }
  EXPECT_EQ(f.at("plain.scalar").shape.size(), 0u);
  EXPECT_EQ(f.matrix("plain.scalar")(0, 0), 2.5f);
  EXPECT_EQ(f.matrix("plain.empty").rows(), 0);
  EXPECT_EQ(f.matrix("plain.f32").cols(), 3);
  // lowbit's tensors: dequantized to the generator's values, bit for bit.
  const golden_content g(f);
  auto check = [&](const std::string& name, const row_matrix& got) {
    SCOPED_TRACE(name);
    const std::vector<float> want = f.to_float("expect." + name);
    ASSERT_EQ(static_cast<std::size_t>(got.size()), want.size());
    EXPECT_TRUE(same_bits(got.data(), want.data(), want.size()));
  };
  check("q.int8_tensor_symmetric", g.q_int8.dequantize());
  check("q.uint8_channel_affine", g.q_uint8.dequantize());
  check("q.int4_group_affine", g.q_int4.dequantize());
  check("q.int4_rank3_group", g.q_int4_rank3.dequantize());
  check("q.uint4_channel_symmetric", g.q_uint4.dequantize());
  check("q.int2_tensor_affine", g.q_int2.dequantize());
  check("q.uint2_group_symmetric", g.q_uint2.dequantize());
  check("p.int4_g32_symmetric", g.p_int4.dequantize());
  check("p.uint4_g32_min", g.p_uint4.dequantize());
  check("p.int8_channel_zero_point", g.p_int8.dequantize());
  check("p.uint2_g8_zero_point", g.p_uint2.dequantize());
  EXPECT_EQ(g.q_int4.granularity().kind, granularity_kind::group);
  EXPECT_EQ(g.q_int4.granularity().group_size, 4);
  EXPECT_EQ(g.q_uint4.granularity().axis, 1);
  EXPECT_TRUE(g.p_int8.per_channel());
  EXPECT_EQ(g.p_uint4.offsets(), offset_kind::min);
  ASSERT_NE(g.p_uint4.bias(), nullptr);
  EXPECT_EQ(g.p_uint4.bias()[1], f.to_float("p.uint4_g32_min.bias")[1]);
  EXPECT_EQ(rounding_of(f, "q.int4_group_affine"), "true_divide");
}

TEST(safetensors, writes_the_independent_writers_bytes) {
  const std::vector<std::uint8_t> golden = golden_bytes();
  const st::file f = st::file::from_bytes(golden, "golden");
  const golden_content g(f);
  st::writer w;
  w.set_metadata("format", "pt");
  auto raw = [&](const std::string& name) {
    const st::tensor_info& t = f.at(name);
    w.add(name, t.dtype, t.shape, f.data(t));
  };
  for (const char* name : {"plain.f32", "plain.f16", "plain.bf16", "plain.i8", "plain.u8", "plain.scalar", "plain.empty"}) raw(name);
  st::add(w, "q.int8_tensor_symmetric", g.q_int8, reciprocal_multiply::name);
  st::add(w, "q.uint8_channel_affine", g.q_uint8);
  st::add(w, "q.int4_group_affine", g.q_int4, true_divide::name);
  st::add(w, "q.uint4_channel_symmetric", g.q_uint4);
  st::add(w, "q.int2_tensor_affine", g.q_int2);
  st::add(w, "q.uint2_group_symmetric", g.q_uint2);
  st::add(w, "q.int4_rank3_group", g.q_int4_rank3);
  st::add(w, "p.int4_g32_symmetric", g.p_int4);
  st::add(w, "p.uint4_g32_min", g.p_uint4);
  st::add(w, "p.int8_channel_zero_point", g.p_int8);
  st::add(w, "p.uint2_g8_zero_point", g.p_uint2);
  for (const char* name : {"plain.f16", "plain.bf16", "plain.i8", "plain.u8", "q.int8_tensor_symmetric", "q.uint8_channel_affine",
                           "q.int4_group_affine", "q.uint4_channel_symmetric", "q.int2_tensor_affine", "q.uint2_group_symmetric",
                           "q.int4_rank3_group", "p.int4_g32_symmetric", "p.uint4_g32_min", "p.int8_channel_zero_point",
                           "p.uint2_g8_zero_point"})
    raw(std::string("expect.") + name);
  const std::vector<std::uint8_t> mine = w.bytes();
  ASSERT_EQ(mine.size(), golden.size());
  std::size_t first = 0;
  while (first < mine.size() && mine[first] == golden[first]) ++first;
  EXPECT_EQ(first, mine.size()) << "first differing byte";
}

// Every format, scheme and granularity written by lowbit and read back: the same tensor.
template <class F, class S, class G>
void round_trip(const G& gran, const std::vector<index_t>& shape, lowbit_test::rng& r) {
  SCOPED_TRACE(std::string(F::name) + (S::is_affine ? " affine" : " symmetric"));
  std::vector<float> x(static_cast<std::size_t>(lowbit::detail::checked_size(shape, "test")));
  for (float& v : x) v = r.normal();
  const quantizer<F, S, G> q(gran);
  const quantized_tensor<F> t = q.quantize(x.data(), shape);
  st::writer w;
  st::add(w, "t", t);
  const st::file f = st::file::from_bytes(w.bytes());
  const quantized_tensor<F> back = st::read_quantized<F>(f, "t");
  EXPECT_EQ(back.shape(), t.shape());
  EXPECT_EQ(back.data(), t.data());
  EXPECT_TRUE(back.params() == t.params());
  EXPECT_EQ(back.granularity().kind, t.granularity().kind);
  EXPECT_EQ(back.granularity().axis, t.granularity().axis);
  EXPECT_EQ(back.granularity().group_size, t.granularity().group_size);
  EXPECT_EQ(back.is_affine(), t.is_affine());
  const row_matrix a = t.dequantize(), b = back.dequantize();
  EXPECT_TRUE(same_bits(a.data(), b.data(), static_cast<std::size_t>(a.size())));
}

template <class F>
void round_trip_all(lowbit_test::rng& r) {
  round_trip<F, symmetric, per_tensor>(per_tensor{}, {5, 7}, r);
  round_trip<F, affine, per_tensor>(per_tensor{}, {13}, r);
  round_trip<F, symmetric, per_channel>(per_channel(0), {6, 5}, r);
  round_trip<F, affine, per_channel>(per_channel(1), {3, 9}, r);
  round_trip<F, affine, per_channel>(per_channel(-1), {2, 3, 5}, r);
  round_trip<F, symmetric, per_group>(per_group(1, 4), {3, 10}, r);
  round_trip<F, affine, per_group>(per_group(0, 3), {7, 2}, r);
}

TEST(safetensors, every_format_scheme_and_granularity_round_trips_exactly) {
  lowbit_test::rng r(77);
  round_trip_all<int8>(r);
  round_trip_all<uint8>(r);
  round_trip_all<int4>(r);
  round_trip_all<uint4>(r);
  round_trip_all<int2>(r);
  round_trip_all<uint2>(r);
  round_trip_all<int3>(r);
  round_trip_all<uint3>(r);
}

TEST(safetensors, packed_weights_round_trip_and_compute_the_same) {
  lowbit_test::rng r(78);
  const row_matrix w = r.normal_matrix(70, 96);
  const auto p4 = pack_lowbit(w, quantizer<int4, symmetric, per_group>(per_group(1, 32)), bias_values(r.normal_matrix(70, 1)));
  const auto p2 = pack_lowbit(w, quantizer<uint2, affine, per_channel>(per_channel(0)));
  st::writer out;
  st::add(out, "a", p4);
  st::add(out, "b", p2);
  const st::file f = st::file::from_bytes(out.bytes());
  const auto a = st::read_packed<int4>(f, "a");
  const auto b = st::read_packed<uint2>(f, "b");
  const row_matrix x = r.normal_matrix(3, 96);
  EXPECT_EQ(a.dequantize(), p4.dequantize());
  EXPECT_EQ(b.dequantize(), p2.dequantize());
  EXPECT_EQ(lowbit_linear(a).forward(x), lowbit_linear(p4).forward(x));  // a layer loaded from the file computes the same
  EXPECT_EQ(a.payload_bytes(), p4.payload_bytes());
  // Reading as another format is an error that names both.
  const std::string e = error_of([&] { st::read_packed<int2>(f, "a"); });
  EXPECT_TRUE(contains(e, "'a' holds int4 codes")) << e;
  EXPECT_TRUE(contains(error_of([&] { st::read_quantized<int4>(f, "a"); }), "holds a packed_lowbit_weights")) << e;
}

TEST(safetensors, nf4_and_fp4_tensors_round_trip_with_and_without_double_quantization) {
  lowbit_test::rng r(81);
  const row_matrix w = r.normal_matrix(40, 333, 0.02f);  // 13,320 values: a short last block, two nested blocks
  st::writer out;
  float4_options dq;
  dq.double_quant = true;
  const float4_tensor a = float4_tensor::quantize(w, float4_kind::nf4), b = float4_tensor::quantize(w, float4_kind::fp4, dq);
  st::add(out, "a", a);
  st::add(out, "b", b);
  const st::file f = st::file::from_bytes(out.bytes());
  const float4_tensor a2 = st::read_float4(f, "a"), b2 = st::read_float4(f, "b");
  EXPECT_EQ(a2.packed(), a.packed());
  EXPECT_EQ(a2.absmax(), a.absmax());
  EXPECT_EQ(b2.kind(), float4_kind::fp4);
  EXPECT_TRUE(b2.double_quantized());
  EXPECT_EQ(b2.absmax_codes(), b.absmax_codes());
  EXPECT_EQ(b2.dequantize(), b.dequantize());
  EXPECT_EQ(b2.bytes(), b.bytes());
  EXPECT_EQ(f.at("b.absmax").dtype, st::dtype::U8);
  EXPECT_TRUE(contains(error_of([&] { (void)st::read_float4(f, "nope"); }), "no lowbit metadata for 'nope'"));
  st::writer q;
  st::add(q, "t", quantizer<int8, symmetric>().quantize(w));
  EXPECT_TRUE(contains(error_of([&] { (void)st::read_float4(st::file::from_bytes(q.bytes()), "t"); }), "not a float4_tensor"));
}

TEST(safetensors, saved_files_map_f32_in_place_and_a_failed_save_keeps_the_old_file) {
  const std::string path = ::testing::TempDir() + "lowbit_safetensors_test.safetensors";
  lowbit_test::rng r(79);
  const row_matrix m = r.normal_matrix(5, 3);
  st::writer w;
  w.add("b", std::vector<float>{1, 2, 3});
  std::vector<std::int8_t> bytes{1, 2, 3};
  w.add("c", st::dtype::I8, {3}, bytes.data());  // 1-byte elements go last
  w.add("m", m);
  w.save(path);
  {
    const st::file f = st::file::open(path);
    EXPECT_EQ(f.data_offset() % 8, 0u);
    const auto view = f.f32_matrix("m");
    EXPECT_EQ(view, m);
    EXPECT_EQ(reinterpret_cast<const void*>(view.data()), reinterpret_cast<const void*>(f.data(f.at("m"))));  // no copy
    EXPECT_TRUE(contains(error_of([&] { (void)f.f32_matrix("c"); }), "is I8, f32_matrix() maps F32 only"));
    EXPECT_TRUE(contains(error_of([&] { (void)f.to_float("nope"); }), "no tensor named 'nope'"));
  }
  // A save into a directory that does not exist fails and creates nothing.
  EXPECT_TRUE(contains(error_of([&] { w.save(path + ".d/x.safetensors"); }), "cannot create"));
  const st::file again = st::file::open(path);
  EXPECT_EQ(again.tensors().size(), 3u);
  std::remove(path.c_str());
  EXPECT_TRUE(contains(error_of([&] { st::file::open(path); }), "cannot open"));
  // Bad tensors are refused by the writer.
  EXPECT_TRUE(contains(error_of([&] { w.add("b", std::vector<float>{1}); }), "added twice"));
  EXPECT_TRUE(contains(error_of([&] { w.add("__metadata__", std::vector<float>{1}); }), "invalid tensor name"));
}

// A file of one header and a data section.
std::vector<std::uint8_t> file_of(const std::string& header, std::size_t data_bytes, std::uint64_t length = 0) {
  std::vector<std::uint8_t> out(8 + header.size() + data_bytes, 0);
  const std::uint64_t n = length ? length : header.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

std::string load_error(const std::vector<std::uint8_t>& bytes) {
  return error_of([&] { st::file::from_bytes(bytes, "f"); });
}

TEST(safetensors, damaged_files_are_rejected_with_the_field_named) {
  EXPECT_TRUE(contains(load_error({1, 2, 3}), "3 bytes, shorter than the 8-byte header length"));
  EXPECT_TRUE(contains(load_error(file_of("{}", 0, 1000)), "header length 1000 runs past the end of the file"));
  EXPECT_TRUE(contains(load_error(file_of("{}", 0, std::uint64_t{1} << 40)), "exceeds the limit"));
  EXPECT_TRUE(contains(load_error(file_of("[]", 0)), "must be a JSON object starting with '{'"));
  EXPECT_TRUE(contains(load_error(file_of("{\"a\":", 0)), "malformed JSON at byte 5"));
  EXPECT_TRUE(contains(load_error(file_of("{\"a\":1,\"a\":2}", 0)), "duplicate key \"a\""));
  EXPECT_TRUE(contains(load_error(file_of("{} x", 0)), "end of the header"));
  EXPECT_TRUE(contains(load_error(file_of(std::string(100, '[') , 0)), "must be a JSON object"));
  EXPECT_TRUE(contains(load_error(file_of("{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}", 0)), "nesting at most 64 deep"));
  EXPECT_TRUE(contains(load_error(file_of("{\"a\\ud800\":1}", 0)), "low surrogate"));
  EXPECT_TRUE(contains(load_error(file_of("{\"\xff\":1}", 0)), "valid UTF-8"));
  const auto tensor = [](const std::string& body) { return "{\"t\":{" + body + "}}"; };
  EXPECT_TRUE(contains(load_error(file_of("{\"t\":[1]}", 0)), "tensor 't': expected an object, got an array"));
  EXPECT_TRUE(contains(load_error(file_of(tensor("\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,1]"), 1)), "unknown dtype 'Q4'"));
  EXPECT_TRUE(contains(load_error(file_of(tensor("\"shape\":[1],\"data_offsets\":[0,1]"), 1)), "dtype must be a string"));
  EXPECT_TRUE(contains(load_error(file_of(tensor("\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]"), 1)),
                       "shape[0] is not a non-negative integer"));
  EXPECT_TRUE(contains(load_error(file_of(tensor("\"dtype\":\"U8\",\"shape\":[1.5],\"data_offsets\":[0,1]"), 1)),
                       "shape[0] is not a non-negative integer"));
  EXPECT_TRUE(contains(load_error(file_of(tensor("\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,1]"), 1)),
                       "element count overflows"));
  EXPECT_TRUE(contains(load_error(file_of(tensor("\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]"), 1)),
                       "data_offsets must be [begin, end]"));
  EXPECT_TRUE(contains(load_error(file_of(tensor("\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,1]"), 4)), "begin 2 > end 1"));
  EXPECT_TRUE(contains(load_error(file_of(tensor("\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[4,5]"), 4)),
                       "end 5 is past the 4 bytes of data"));
  EXPECT_TRUE(contains(load_error(file_of(tensor("\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]"), 4)),
                       "shape needs 8 bytes of F32, data_offsets hold 4"));
  EXPECT_TRUE(contains(load_error(file_of(tensor("\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]"), 4)),
                       "data_offsets must be non-negative integers"));
  EXPECT_TRUE(contains(load_error(file_of(tensor("\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,9999999999999999999]"), 4)),
                       "data_offsets must be non-negative integers"));  // 19 digits above 2^63
  EXPECT_TRUE(contains(load_error(file_of("{\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
                                          "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}",
                                          4)),
                       "tensors 'a' [0, 3) and 'b' [2, 4) overlap"));
  EXPECT_TRUE(contains(load_error(file_of("{\"__metadata__\":{\"k\":1}}", 0)), "__metadata__ 'k' must be a string"));
  EXPECT_TRUE(contains(load_error(file_of("{\"\":{}}", 0)), "empty name"));
  // Gaps are allowed; a tensor of another dtype is not read as floats.
  const st::file gap = st::file::from_bytes(file_of(tensor("\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[4,8]"), 12));
  EXPECT_TRUE(contains(error_of([&] { (void)gap.to_float("t"); }), "tensor 't' is I32; floats are read from"));
}

TEST(safetensors, damaged_lowbit_tensors_are_rejected) {
  lowbit_test::rng r(80);
  const quantizer<int2, affine, per_channel> q(per_channel(0));
  const quantized_tensor<int2> t = q.quantize(r.normal_matrix(3, 3));
  auto with = [&](auto&& edit) {
    st::writer w;
    st::add(w, "t", t);
    edit(w);
    return error_of([&] { st::read_quantized<int2>(st::file::from_bytes(w.bytes(), "f"), "t"); });
  };
  EXPECT_EQ(with([](st::writer&) {}), "(no error)");
  EXPECT_TRUE(contains(with([](st::writer& w) { w.set_metadata("lowbit:t", "{\"kind\":\"quantized_tensor\"}"); }),
                       "\"format\" must be a string"));
  EXPECT_TRUE(contains(with([](st::writer& w) { w.set_metadata("lowbit:t", "not json"); }), "malformed JSON"));
  const std::string m = *st::file::from_bytes([&] {
                          st::writer w;
                          st::add(w, "t", t);
                          return w.bytes();
                        }()).meta("lowbit:t");
  auto edited = [&](const std::string& from, const std::string& to) {
    std::string s = m;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  EXPECT_TRUE(contains(with([&](st::writer& w) { w.set_metadata("lowbit:t", edited("\"axis\":0", "\"axis\":5")); }), "axis 5 is out of range"));
  EXPECT_TRUE(contains(with([&](st::writer& w) { w.set_metadata("lowbit:t", edited("[3,3]", "[3,5]")); }), "must be U8 [4] (15 packed int2 codes), got U8 [3]"));
  EXPECT_TRUE(contains(with([&](st::writer& w) { w.set_metadata("lowbit:t", edited("channel", "row")); }), "unknown granularity"));
  EXPECT_TRUE(contains(error_of([&] {
                         st::writer w;
                         st::add(w, "t", t);
                         st::read_quantized<int2>(st::file::from_bytes(w.bytes()), "u");
                       }),
                       "no lowbit metadata for 'u'"));
  // Nine 2-bit codes use 3 bytes: the unused bits of the last one must be zero.
  std::vector<std::uint8_t> codes = t.data();
  codes.back() |= 0x80;
  st::writer w;
  w.add("t", st::dtype::U8, {3}, codes.data());
  w.add("t.scale", t.params().scale);
  w.add("t.zero_point", st::dtype::I32, {3}, t.params().zero_point.data());
  st::writer ok;
  st::add(ok, "t", t);
  w.set_metadata("lowbit:t", *st::file::from_bytes(ok.bytes()).meta("lowbit:t"));
  EXPECT_TRUE(contains(error_of([&] { st::read_quantized<int2>(st::file::from_bytes(w.bytes(), "f"), "t"); }),
                       "unused bits of the last byte are not zero"));
  // A zero point outside the format is refused by quantized_tensor's own checks.
  std::vector<std::int32_t> zp = t.params().zero_point;
  zp[1] = 9;
  st::writer z;
  z.add("t", st::dtype::U8, {3}, t.data().data());
  z.add("t.scale", t.params().scale);
  z.add("t.zero_point", st::dtype::I32, {3}, zp.data());
  z.set_metadata("lowbit:t", *st::file::from_bytes(ok.bytes()).meta("lowbit:t"));
  EXPECT_TRUE(contains(error_of([&] { st::read_quantized<int2>(st::file::from_bytes(z.bytes(), "f"), "t"); }), "zero_point[1] = 9"));
}

}  // namespace
