// lowbit/io/gguf.hpp: reading and writing GGUF v3 files (llama.cpp's format): metadata, F32 / F16 / BF16 tensors and Q4_0 / Q4_1 / Q8_0 weights.
//
//   auto f = lowbit::gguf::file::open("model.gguf");               // memory-mapped, checked
//   lowbit::row_matrix w = f.to_float("blk.0.ffn_up.weight");      // F32, F16, BF16, Q4_0, Q4_1, Q8_0
//   auto q = f.read_q4_0("blk.0.ffn_up.weight");                    // packed_lowbit_weights<int4>, exact
//
//   lowbit::gguf::writer out;
//   out.set("general.architecture", std::string("llama"));
//   out.add_q4_0("blk.0.ffn_up.weight", q);                        // blocks converted back, exact
//   out.add("output_norm.weight", norm);                            // F32
//   out.save("model-lowbit.gguf");
//
// The file (ggml's docs/gguf.md, version 3, little-endian): "GGUF", version (u32), tensor count
// and metadata count (u64); the metadata, each a string key (u64 length + bytes), a u32 value type
// and the value (u8 i8 u16 i16 u32 i32 f32 bool string array u64 i64 f64 = types 0..12; an array
// is an element type, a u64 count and the elements); per tensor its name (a string of at most 64
// bytes), the number of dimensions (at most 4), the dimensions (u64 each, innermost first: a
// weight matrix [N, K] is written as [K, N]), the ggml type (u32) and the offset of its data
// from the start of the data section; then zero padding to the alignment (the u32 metadata
// "general.alignment", 32 when absent) and the data, each tensor at a multiple of the alignment.
//
// Reading checks, before any tensor is touched, and raises lowbit::error naming the field: the
// magic and version (3; version 2 files have the same layout and are read too); every count and
// length against the bytes that remain (an array of a million strings in a ten-byte file is an
// error, not an allocation: metadata takes at most about 100 bytes of memory per byte of file);
// value types; array nesting (at most 8 deep); duplicate keys and
// names; general.alignment a power of two; tensor types known to ggml (F32, F16, BF16, Q4_0, Q4_1,
// Q5_0, Q5_1, Q8_0, Q8_1, the K-quants Q2_K .. Q6_K, I8 .. I64, F64); dimensions whose element
// count overflows or whose innermost one is not a multiple of the type's block; offsets that are
// not aligned, past the end of the file, or overlapping. Tensors of other types (the K-quants)
// are listed and their bytes available, but converted only from the six types above.
//
// Writing puts "general.alignment" only if set, the metadata in the order set, tensors in the
// order added, each padded with zeros to the alignment; save() writes beside the target and
// renames. tests/golden/generate_gguf.py writes the same bytes independently, and
// tests/golden/check_gguf.mjs reads lowbit's file with @huggingface/gguf.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/half.hpp"
#include "lowbit/io/ggml_blocks.hpp"
#include "lowbit/io/safetensors.hpp"  // the file mapping

LOWBIT_NAMESPACE_BEGIN
namespace gguf {

/// Metadata value types (gguf_type).
enum class value_type : std::uint32_t { u8 = 0, i8, u16, i16, u32, i32, f32, boolean, string, array, u64, i64, f64 };

/// One metadata value: numbers in the field of their kind, strings, arrays of values.
struct value {
  value_type type = value_type::u32;
  std::uint64_t u = 0;  ///< u8 .. u64, bool
  std::int64_t i = 0;   ///< i8 .. i64
  double f = 0;         ///< f32, f64
  std::string s;        ///< string
  value_type element = value_type::u32;  ///< array element type
  std::vector<value> items;             ///< array

  static value string(std::string v) {
    value r;
    r.type = value_type::string;
    r.s = std::move(v);
    return r;
  }
  static value u32(std::uint32_t v) {
    value r;
    r.type = value_type::u32;
    r.u = v;
    return r;
  }
  static value f32(float v) {
    value r;
    r.type = value_type::f32;
    r.f = v;
    return r;
  }
};

/// ggml tensor types this module knows the size of.
enum class tensor_type : std::uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, BF16 = 30
};

struct type_traits {
  const char* name;
  std::uint64_t block;  ///< elements per block
  std::uint64_t bytes;  ///< bytes per block
};

/// Name and block geometry of ggml type t; false if unknown.
inline bool traits_of(std::uint32_t t, type_traits& out) noexcept {
  switch (t) {
    case 0: out = {"F32", 1, 4}; return true;
    case 1: out = {"F16", 1, 2}; return true;
    case 2: out = {"Q4_0", 32, 18}; return true;
    case 3: out = {"Q4_1", 32, 20}; return true;
    case 6: out = {"Q5_0", 32, 22}; return true;
    case 7: out = {"Q5_1", 32, 24}; return true;
    case 8: out = {"Q8_0", 32, 34}; return true;
    case 9: out = {"Q8_1", 32, 36}; return true;
    case 10: out = {"Q2_K", 256, 84}; return true;
    case 11: out = {"Q3_K", 256, 110}; return true;
    case 12: out = {"Q4_K", 256, 144}; return true;
    case 13: out = {"Q5_K", 256, 176}; return true;
    case 14: out = {"Q6_K", 256, 210}; return true;
    case 24: out = {"I8", 1, 1}; return true;
    case 25: out = {"I16", 1, 2}; return true;
    case 26: out = {"I32", 1, 4}; return true;
    case 27: out = {"I64", 1, 8}; return true;
    case 28: out = {"F64", 1, 8}; return true;
    case 30: out = {"BF16", 1, 2}; return true;
    default: return false;
  }
}

struct tensor_info {
  std::string name;
  std::vector<std::uint64_t> dims;  ///< ggml order: innermost first
  tensor_type type = tensor_type::F32;
  std::uint64_t offset = 0;  ///< from the start of the data section
  std::uint64_t bytes = 0;
  std::uint64_t numel() const noexcept {
    std::uint64_t n = 1;
    for (auto d : dims) n *= d;
    return n;
  }
  /// As a matrix [rows, cols]: cols = dims[0], rows = the product of the others.
  index_t cols() const noexcept { return dims.empty() ? 1 : static_cast<index_t>(dims[0]); }
  index_t rows() const noexcept { return dims.empty() || dims[0] == 0 ? (dims.empty() ? 1 : 0) : static_cast<index_t>(numel() / dims[0]); }
};

inline constexpr std::uint32_t default_alignment = 32;
inline constexpr std::size_t max_name_bytes = 64;
inline constexpr std::uint32_t max_dims = 4;

namespace detail {

using lowbit::detail::fail;

class reader {
 public:
  reader(const std::uint8_t* p, std::size_t n, const std::string& what) : p_(p), n_(n), what_(what) {}
  std::size_t pos() const noexcept { return i_; }
  std::size_t left() const noexcept { return n_ - i_; }
  template <class T>
  T scalar(const char* field) {
    if (left() < sizeof(T)) fail(what_, ": truncated at byte ", i_, " reading ", field);
    T v;
    std::memcpy(&v, p_ + i_, sizeof(T));
    i_ += sizeof(T);
    return v;
  }
  std::string string(const char* field) {
    const auto len = scalar<std::uint64_t>(field);
    if (len > left()) fail(what_, ": ", field, " of ", len, " bytes at byte ", i_, " runs past the end of the file");
    std::string s(reinterpret_cast<const char*>(p_ + i_), static_cast<std::size_t>(len));
    i_ += static_cast<std::size_t>(len);
    return s;
  }
  // The fewest bytes a value of type t takes in the file.
  static std::size_t min_bytes(value_type t) noexcept {
    switch (t) {
      case value_type::u8: case value_type::i8: case value_type::boolean: return 1;
      case value_type::u16: case value_type::i16: return 2;
      case value_type::u32: case value_type::i32: case value_type::f32: return 4;
      case value_type::u64: case value_type::i64: case value_type::f64: case value_type::string: return 8;
      case value_type::array: return 12;
    }
    return 1;
  }
  value read_value(std::uint32_t type, const std::string& key, int depth) {
    value v;
    if (type > static_cast<std::uint32_t>(value_type::f64)) fail(what_, ": metadata '", key, "' has unknown value type ", type);
    v.type = static_cast<value_type>(type);
    switch (v.type) {
      case value_type::u8: v.u = scalar<std::uint8_t>("a u8"); break;
      case value_type::i8: v.i = scalar<std::int8_t>("an i8"); break;
      case value_type::u16: v.u = scalar<std::uint16_t>("a u16"); break;
      case value_type::i16: v.i = scalar<std::int16_t>("an i16"); break;
      case value_type::u32: v.u = scalar<std::uint32_t>("a u32"); break;
      case value_type::i32: v.i = scalar<std::int32_t>("an i32"); break;
      case value_type::f32: v.f = scalar<float>("an f32"); break;
      case value_type::boolean: {
        const auto b = scalar<std::uint8_t>("a bool");
        if (b > 1) fail(what_, ": metadata '", key, "' is a bool of value ", int(b));
        v.u = b;
        break;
      }
      case value_type::string: v.s = string("a string value"); break;
      case value_type::u64: v.u = scalar<std::uint64_t>("a u64"); break;
      case value_type::i64: v.i = scalar<std::int64_t>("an i64"); break;
      case value_type::f64: v.f = scalar<double>("an f64"); break;
      case value_type::array: {
        if (depth >= 8) fail(what_, ": metadata '", key, "' nests arrays more than 8 deep");
        const auto et = scalar<std::uint32_t>("an array type");
        const auto count = scalar<std::uint64_t>("an array length");
        if (et > static_cast<std::uint32_t>(value_type::f64)) fail(what_, ": metadata '", key, "' is an array of unknown type ", et);
        v.element = static_cast<value_type>(et);
        // Every element takes at least its smallest encoding: a count beyond the bytes left is a
        // lie, refused before anything is allocated (memory stays linear in the file's size).
        const std::size_t least = min_bytes(static_cast<value_type>(et));
        if (count > left() / least)
          fail(what_, ": metadata '", key, "' claims ", count, " elements of at least ", least, " bytes in the ", left(), " bytes left");
        v.items.reserve(static_cast<std::size_t>(count));
        for (std::uint64_t j = 0; j < count; ++j) v.items.push_back(read_value(et, key, depth + 1));
        break;
      }
    }
    return v;
  }

 private:
  const std::uint8_t* p_;
  std::size_t n_;
  std::size_t i_ = 0;
  const std::string& what_;
};

inline void put_bytes(std::vector<std::uint8_t>& out, const void* p, std::size_t n) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  out.insert(out.end(), b, b + n);
}
template <class T>
void put(std::vector<std::uint8_t>& out, T v) {
  put_bytes(out, &v, sizeof v);
}
inline void put_string(std::vector<std::uint8_t>& out, const std::string& s) {
  put<std::uint64_t>(out, s.size());
  put_bytes(out, s.data(), s.size());
}
inline void put_value(std::vector<std::uint8_t>& out, const value& v) {
  switch (v.type) {
    case value_type::u8: put<std::uint8_t>(out, static_cast<std::uint8_t>(v.u)); break;
    case value_type::i8: put<std::int8_t>(out, static_cast<std::int8_t>(v.i)); break;
    case value_type::u16: put<std::uint16_t>(out, static_cast<std::uint16_t>(v.u)); break;
    case value_type::i16: put<std::int16_t>(out, static_cast<std::int16_t>(v.i)); break;
    case value_type::u32: put<std::uint32_t>(out, static_cast<std::uint32_t>(v.u)); break;
    case value_type::i32: put<std::int32_t>(out, static_cast<std::int32_t>(v.i)); break;
    case value_type::f32: put<float>(out, static_cast<float>(v.f)); break;
    case value_type::boolean: put<std::uint8_t>(out, v.u ? 1 : 0); break;
    case value_type::string: put_string(out, v.s); break;
    case value_type::u64: put<std::uint64_t>(out, v.u); break;
    case value_type::i64: put<std::int64_t>(out, v.i); break;
    case value_type::f64: put<double>(out, v.f); break;
    case value_type::array:
      put<std::uint32_t>(out, static_cast<std::uint32_t>(v.element));
      put<std::uint64_t>(out, v.items.size());
      for (const auto& x : v.items) {
        if (x.type != v.element) fail("gguf::writer: an array of ", static_cast<unsigned>(v.element), " holds an element of type ",
                                      static_cast<unsigned>(x.type));
        put_value(out, x);
      }
      break;
  }
}

}  // namespace detail

/// A GGUF file, memory-mapped (or held in memory), its header parsed and checked.
class file {
 public:
  static file open(const std::string& path) {
    file f;
    f.what_ = path;
    f.bytes_ = safetensors::detail::map_file(path);
    f.parse();
    return f;
  }
  static file from_bytes(std::vector<std::uint8_t> bytes, std::string what = "gguf") {
    file f;
    f.what_ = std::move(what);
    f.bytes_ = safetensors::detail::hold(std::move(bytes));
    f.parse();
    return f;
  }

  std::uint32_t version() const noexcept { return version_; }
  std::uint32_t alignment() const noexcept { return alignment_; }
  const std::vector<std::pair<std::string, value>>& metadata() const noexcept { return metadata_; }
  const value* meta(const std::string& key) const noexcept {
    for (const auto& m : metadata_)
      if (m.first == key) return &m.second;
    return nullptr;
  }
  const std::vector<tensor_info>& tensors() const noexcept { return tensors_; }
  const tensor_info* find(const std::string& name) const noexcept {
    for (const auto& t : tensors_)
      if (t.name == name) return &t;
    return nullptr;
  }
  const tensor_info& at(const std::string& name) const {
    const tensor_info* t = find(name);
    if (t == nullptr) lowbit::detail::fail(what_, ": no tensor named '", name, "'");
    return *t;
  }
  const std::uint8_t* data(const tensor_info& t) const noexcept { return bytes_.base + data_start_ + t.offset; }
  std::size_t data_offset() const noexcept { return data_start_; }
  const std::string& name() const noexcept { return what_; }

  /// The tensor as floats [rows, cols] (F32, F16, BF16 exactly; Q4_0, Q4_1, Q8_0 as ggml
  /// dequantizes them).
  row_matrix to_float(const std::string& name) const {
    const tensor_info& t = at(name);
    const index_t rows = t.rows(), cols = t.cols();
    row_matrix m(rows, cols);
    const std::uint8_t* p = data(t);
    const auto n = static_cast<std::size_t>(t.numel());
    switch (t.type) {
      case tensor_type::F32: if (n) std::memcpy(m.data(), p, 4 * n); break;
      case tensor_type::F16:
        for (std::size_t i = 0; i < n; ++i) m.data()[i] = half_to_float(static_cast<half_bits>(p[2 * i] | (p[2 * i + 1] << 8)));
        break;
      case tensor_type::BF16:
        for (std::size_t i = 0; i < n; ++i) {
          const std::uint32_t bits = static_cast<std::uint32_t>(p[2 * i] | (p[2 * i + 1] << 8)) << 16;
          std::memcpy(m.data() + i, &bits, 4);
        }
        break;
      case tensor_type::Q4_0: m = ggml::dequantize(blocks<ggml::block_q4_0>(t).data(), rows, cols); break;
      case tensor_type::Q4_1: m = ggml::dequantize(blocks<ggml::block_q4_1>(t).data(), rows, cols); break;
      case tensor_type::Q8_0: m = ggml::dequantize(blocks<ggml::block_q8_0>(t).data(), rows, cols); break;
      default: {
        type_traits tr{};
        traits_of(static_cast<std::uint32_t>(t.type), tr);
        lowbit::detail::fail(what_, ": tensor '", name, "' is ", tr.name, "; floats are read from F32, F16, BF16, Q4_0, Q4_1 and Q8_0");
      }
    }
    return m;
  }
  /// Q4_0 / Q4_1 / Q8_0 weights [rows, cols] as packed_lowbit_weights, bit for bit (ggml_blocks.hpp).
  packed_lowbit_weights<int4> read_q4_0(const std::string& name, const context& ctx = {}) const {
    const tensor_info& t = typed(name, tensor_type::Q4_0);
    return ggml::from_q4_0(blocks<ggml::block_q4_0>(t).data(), t.rows(), t.cols(), {}, ctx);
  }
  packed_lowbit_weights<uint4> read_q4_1(const std::string& name, const context& ctx = {}) const {
    const tensor_info& t = typed(name, tensor_type::Q4_1);
    return ggml::from_q4_1(blocks<ggml::block_q4_1>(t).data(), t.rows(), t.cols(), {}, ctx);
  }
  packed_lowbit_weights<int8> read_q8_0(const std::string& name, const context& ctx = {}) const {
    const tensor_info& t = typed(name, tensor_type::Q8_0);
    return ggml::from_q8_0(blocks<ggml::block_q8_0>(t).data(), t.rows(), t.cols(), {}, ctx);
  }

 private:
  file() = default;

  const tensor_info& typed(const std::string& name, tensor_type want) const {
    const tensor_info& t = at(name);
    if (t.type != want) {
      type_traits a{}, b{};
      traits_of(static_cast<std::uint32_t>(t.type), a);
      traits_of(static_cast<std::uint32_t>(want), b);
      lowbit::detail::fail(what_, ": tensor '", name, "' is ", a.name, ", not ", b.name);
    }
    return t;
  }
  // The blocks of a tensor, copied (the file's bytes need not be aligned for the block struct).
  template <class Block>
  std::vector<Block> blocks(const tensor_info& t) const {
    std::vector<Block> b(static_cast<std::size_t>(t.bytes / sizeof(Block)));
    if (!b.empty()) std::memcpy(b.data(), data(t), b.size() * sizeof(Block));
    return b;
  }

  void parse() {
    detail::reader r(bytes_.base, bytes_.size, what_);
    const auto magic = r.scalar<std::uint32_t>("the magic");
    if (magic != 0x46554747u) lowbit::detail::fail(what_, ": not a GGUF file (the first 4 bytes are not \"GGUF\")");
    version_ = r.scalar<std::uint32_t>("the version");
    if (version_ != 3 && version_ != 2) lowbit::detail::fail(what_, ": GGUF version ", version_, " (lowbit reads 2 and 3)");
    const auto n_tensors = r.scalar<std::uint64_t>("the tensor count");
    const auto n_kv = r.scalar<std::uint64_t>("the metadata count");
    // Each metadata entry takes at least 13 bytes, each tensor at least 24.
    if (n_kv > r.left() / 13) lowbit::detail::fail(what_, ": metadata count ", n_kv, " cannot fit in the file");
    if (n_tensors > r.left() / 24) lowbit::detail::fail(what_, ": tensor count ", n_tensors, " cannot fit in the file");
    for (std::uint64_t i = 0; i < n_kv; ++i) {
      std::string key = r.string("a metadata key");
      if (meta(key) != nullptr) lowbit::detail::fail(what_, ": metadata key '", key, "' appears twice");
      const auto type = r.scalar<std::uint32_t>("a value type");
      value v = r.read_value(type, key, 0);
      metadata_.emplace_back(std::move(key), std::move(v));
    }
    if (const value* a = meta("general.alignment")) {
      if (a->type != value_type::u32 || a->u == 0 || (a->u & (a->u - 1)) != 0)
        lowbit::detail::fail(what_, ": general.alignment must be a u32 power of two");
      alignment_ = static_cast<std::uint32_t>(a->u);
    }
    for (std::uint64_t i = 0; i < n_tensors; ++i) {
      tensor_info t;
      t.name = r.string("a tensor name");
      auto bad = [&](const auto&... parts) { lowbit::detail::fail(what_, ": tensor '", t.name, "': ", parts...); };
      if (t.name.size() > max_name_bytes) bad("the name is longer than ", max_name_bytes, " bytes");
      if (find(t.name) != nullptr) bad("the name appears twice");
      const auto nd = r.scalar<std::uint32_t>("the number of dimensions");
      if (nd > max_dims) bad(nd, " dimensions (at most ", max_dims, ")");
      std::uint64_t count = 1;
      for (std::uint32_t d = 0; d < nd; ++d) {
        const auto x = r.scalar<std::uint64_t>("a dimension");
        if (x > (std::uint64_t{1} << 62)) bad("dimension ", d, " = ", x, " is beyond 2^62");
        if (x > 0 && count > (std::uint64_t{1} << 62) / x) bad("the element count overflows");
        count *= x;
        t.dims.push_back(x);
      }
      const auto type = r.scalar<std::uint32_t>("a tensor type");
      type_traits tr{};
      if (!traits_of(type, tr)) bad("unknown ggml type ", type);
      t.type = static_cast<tensor_type>(type);
      const std::uint64_t inner = t.dims.empty() ? 1 : t.dims[0];
      if (inner % tr.block != 0) bad("its rows of ", inner, " ", tr.name, " values are not whole blocks of ", tr.block);
      if (count / tr.block > (std::uint64_t{1} << 62) / tr.bytes) bad("its byte count overflows");
      t.bytes = count / tr.block * tr.bytes;
      t.offset = r.scalar<std::uint64_t>("a tensor offset");
      if (t.offset % alignment_ != 0) bad("offset ", t.offset, " is not a multiple of the alignment ", alignment_);
      tensors_.push_back(std::move(t));
    }
    const std::size_t head = r.pos();
    data_start_ = head + (alignment_ - head % alignment_) % alignment_;
    if (data_start_ > bytes_.size && !tensors_.empty()) lowbit::detail::fail(what_, ": the data section starts past the end of the file");
    const std::uint64_t data_bytes = bytes_.size > data_start_ ? bytes_.size - data_start_ : 0;
    std::vector<const tensor_info*> order;
    for (const auto& t : tensors_) {
      if (t.offset > data_bytes || t.bytes > data_bytes - t.offset)
        lowbit::detail::fail(what_, ": tensor '", t.name, "': its ", t.bytes, " bytes at offset ", t.offset, " run past the ",
                             data_bytes, " bytes of data");
      if (t.bytes > 0) order.push_back(&t);
    }
    std::stable_sort(order.begin(), order.end(), [](const tensor_info* a, const tensor_info* b) { return a->offset < b->offset; });
    for (std::size_t i = 1; i < order.size(); ++i)
      if (order[i]->offset < order[i - 1]->offset + order[i - 1]->bytes)
        lowbit::detail::fail(what_, ": tensors '", order[i - 1]->name, "' and '", order[i]->name, "' overlap");
  }

  safetensors::detail::mapped_bytes bytes_;
  std::string what_;
  std::uint32_t version_ = 3, alignment_ = default_alignment;
  std::size_t data_start_ = 0;
  std::vector<std::pair<std::string, value>> metadata_;
  std::vector<tensor_info> tensors_;
};

/// Builds a GGUF v3 file (see the file comment for the layout).
class writer {
 public:
  /// Sets (or replaces) a metadata entry.
  writer& set(const std::string& key, value v) {
    if (key == "general.alignment") {
      if (v.type != value_type::u32 || v.u == 0 || (v.u & (v.u - 1)) != 0)
        lowbit::detail::fail("gguf::writer: general.alignment must be a u32 power of two");
      alignment_ = static_cast<std::uint32_t>(v.u);
    }
    for (auto& m : metadata_)
      if (m.first == key) {
        m.second = std::move(v);
        return *this;
      }
    metadata_.emplace_back(key, std::move(v));
    return *this;
  }
  writer& set(const std::string& key, const std::string& s) { return set(key, value::string(s)); }
  writer& set(const std::string& key, const char* s) { return set(key, value::string(s)); }
  writer& set(const std::string& key, std::uint32_t u) { return set(key, value::u32(u)); }
  writer& set(const std::string& key, float f) { return set(key, value::f32(f)); }

  /// A tensor of ggml type `type` with dims (innermost first) and its bytes (copied).
  writer& add(const std::string& name, tensor_type type, std::vector<std::uint64_t> dims, const void* bytes) {
    type_traits tr{};
    if (!traits_of(static_cast<std::uint32_t>(type), tr)) lowbit::detail::fail("gguf::writer: unknown tensor type");
    if (name.empty() || name.size() > max_name_bytes) lowbit::detail::fail("gguf::writer: tensor name '", name, "' must have 1 to 64 bytes");
    if (dims.size() > max_dims) lowbit::detail::fail("gguf::writer: tensor '", name, "' has more than 4 dimensions");
    for (const auto& e : entries_)
      if (e.info.name == name) lowbit::detail::fail("gguf::writer: tensor '", name, "' added twice");
    tensor_info t;
    t.name = name;
    t.type = type;
    t.dims = std::move(dims);
    std::uint64_t count = 1;
    for (auto d : t.dims) {
      if (d > 0 && count > (std::uint64_t{1} << 40) / d) lowbit::detail::fail("gguf::writer: tensor '", name, "' is too large");
      count *= d;
    }
    if ((t.dims.empty() ? 1 : t.dims[0]) % tr.block != 0)
      lowbit::detail::fail("gguf::writer: tensor '", name, "': rows must be whole blocks of ", tr.block);
    t.bytes = count / tr.block * tr.bytes;
    if (t.bytes > 0 && bytes == nullptr) lowbit::detail::fail("gguf::writer: null data for tensor '", name, "'");
    entry e{t, {}};
    const auto* b = static_cast<const std::uint8_t*>(bytes);
    if (t.bytes > 0) e.data.assign(b, b + t.bytes);
    entries_.push_back(std::move(e));
    return *this;
  }
  /// A float matrix [rows, cols] as F32 (or F16, rounded to nearest even).
  template <class Derived>
  writer& add(const std::string& name, const Eigen::MatrixBase<Derived>& m, tensor_type type = tensor_type::F32) {
    const row_matrix r = m.template cast<float>();
    const std::vector<std::uint64_t> dims{static_cast<std::uint64_t>(r.cols()), static_cast<std::uint64_t>(r.rows())};
    if (type == tensor_type::F32) return add(name, type, dims, r.data());
    if (type != tensor_type::F16) lowbit::detail::fail("gguf::writer: floats are written as F32 or F16");
    std::vector<half_bits> h(static_cast<std::size_t>(r.size()));
    for (index_t i = 0; i < r.size(); ++i) h[static_cast<std::size_t>(i)] = float_to_half(r.data()[i]);
    return add(name, type, dims, h.data());
  }
  /// A float vector as a one-dimensional F32 tensor.
  writer& add(const std::string& name, const std::vector<float>& v) {
    return add(name, tensor_type::F32, {static_cast<std::uint64_t>(v.size())}, v.data());
  }
  /// Weights in ggml's blocks, from lowbit's packed weights (exact; ggml_blocks.hpp's conditions).
  writer& add_q4_0(const std::string& name, const packed_lowbit_weights<int4>& w) {
    const auto b = ggml::to_q4_0(w);
    return add(name, tensor_type::Q4_0, matrix_dims(w.n(), w.k()), b.data());
  }
  writer& add_q4_1(const std::string& name, const packed_lowbit_weights<uint4>& w) {
    const auto b = ggml::to_q4_1(w);
    return add(name, tensor_type::Q4_1, matrix_dims(w.n(), w.k()), b.data());
  }
  writer& add_q8_0(const std::string& name, const packed_lowbit_weights<int8>& w) {
    const auto b = ggml::to_q8_0(w);
    return add(name, tensor_type::Q8_0, matrix_dims(w.n(), w.k()), b.data());
  }

  std::vector<std::uint8_t> bytes() const {
    std::vector<std::uint8_t> out;
    detail::put<std::uint32_t>(out, 0x46554747u);
    detail::put<std::uint32_t>(out, 3);
    detail::put<std::uint64_t>(out, entries_.size());
    detail::put<std::uint64_t>(out, metadata_.size());
    for (const auto& [key, v] : metadata_) {
      detail::put_string(out, key);
      detail::put<std::uint32_t>(out, static_cast<std::uint32_t>(v.type));
      detail::put_value(out, v);
    }
    std::uint64_t offset = 0;
    for (const auto& e : entries_) {
      detail::put_string(out, e.info.name);
      detail::put<std::uint32_t>(out, static_cast<std::uint32_t>(e.info.dims.size()));
      for (auto d : e.info.dims) detail::put<std::uint64_t>(out, d);
      detail::put<std::uint32_t>(out, static_cast<std::uint32_t>(e.info.type));
      detail::put<std::uint64_t>(out, offset);
      offset += padded(e.data.size());
    }
    out.resize(padded(out.size()), 0);
    for (const auto& e : entries_) {
      detail::put_bytes(out, e.data.data(), e.data.size());
      out.resize(out.size() + (padded(e.data.size()) - e.data.size()), 0);
    }
    return out;
  }

  void save(const std::string& path) const { safetensors::detail::save_bytes(bytes(), path, "gguf::writer"); }

 private:
  struct entry {
    tensor_info info;
    std::vector<std::uint8_t> data;
  };
  static std::vector<std::uint64_t> matrix_dims(index_t n, index_t k) {
    return {static_cast<std::uint64_t>(k), static_cast<std::uint64_t>(n)};
  }
  std::size_t padded(std::size_t n) const noexcept { return n + (alignment_ - n % alignment_) % alignment_; }

  std::vector<std::pair<std::string, value>> metadata_;
  std::vector<entry> entries_;
  std::uint32_t alignment_ = default_alignment;
};

}  // namespace gguf
LOWBIT_NAMESPACE_END
