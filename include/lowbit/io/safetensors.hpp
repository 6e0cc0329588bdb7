// lowbit/io/safetensors.hpp: reading and writing safetensors files, with lowbit's quantized tensors and packed weights inside.
//
//   auto f = lowbit::safetensors::file::open("model.safetensors");     // memory-mapped, checked
//   lowbit::row_matrix w = f.matrix("fc1.weight");                     // F32 / F16 / BF16 / I8 / U8
//   auto view = f.f32_matrix("fc1.weight");                            // F32 without a copy
//
//   lowbit::safetensors::writer out;
//   out.add("fc1.bias", bias);                                         // F32
//   lowbit::safetensors::add(out, "fc1.weight", q.quantize(w));        // a quantized_tensor<F>
//   lowbit::safetensors::add(out, "fc2.weight", packed);               // packed_lowbit_weights<F>
//   out.save("model-int4.safetensors");
//   auto t = lowbit::safetensors::read_quantized<lowbit::int4>(f2, "fc1.weight");
//
// The file (https://github.com/huggingface/safetensors): an 8-byte little-endian header length
// n, n bytes of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...,
// "__metadata__": {string: string}}, then the data, offsets relative to its start.
//
// Reading checks everything before any tensor is touched, and every violation is a lowbit::error
// naming the file, the tensor and the field: a file shorter than 8 bytes, a header length past the
// end of the file or above 100,000,000 bytes, a header that is not a JSON object (json.hpp's
// checks: nesting, duplicate keys, UTF-8), unknown dtypes, shapes that are not lists of
// non-negative integers or whose element count overflows, data_offsets that are not [begin, end]
// with begin <= end <= the data's length, a byte count that is not the shape's, tensors whose
// bytes overlap, __metadata__ values that are not strings. Gaps between tensors are allowed (as
// readers that map tensors independently allow them). A mapped file that another process truncates
// afterwards can still fault (SIGBUS): that is the price of mapping, as for every mmap reader.
//
// Writing lays the tensors out contiguously in order of decreasing element size (8, 4, 2, 1
// bytes; in the order added within each size), after a compact header padded with spaces to a
// multiple of 8 bytes, so every tensor starts at a multiple of its element size and F32 tensors
// can be used in place. Keys: "__metadata__" first, then the tensors in data order. save() writes
// a temporary file beside the target and renames it, so a failed save leaves an existing file
// as it was. tests/golden/generate_safetensors.py writes the same bytes independently.
//
// lowbit's tensors in a file. A quantized tensor `name` is stored as
//   name             its codes: I8 / U8 with the tensor's shape for 8-bit formats, else U8 with
//                    shape [packed bytes] in quantized_tensor's packing (first element lowest bits)
//   name.scale       F32, the qparams' shape ([] per tensor, [channels], the blocked group shape)
//   name.zero_point  I32, same shape, affine tensors only
// and the metadata entry "lowbit:name" holds a JSON object (as a string):
//   {"kind":"quantized_tensor","format":"int4","bits":4,"qmin":-8,"qmax":7,"scheme":"affine",
//    "granularity":"group","axis":1,"group_size":32,"shape":[64,100],"rounding":"half_to_even"}
// ("rounding" only when given). Packed sub-byte weights [N, K] are stored as their codes (as
// above, shape [N, K]), name.scale F16 [N, groups] (the fp16 bits they hold, so the round trip is
// exact), name.zero_point (I8 / U8 as the codes, a byte each as the weights hold them) or name.min
// F16 by offset kind, name.bias F32 [N] if any, and
//   {"kind":"packed_lowbit_weights","format":"int4","bits":4,"qmin":-8,"qmax":7,
//    "offsets":"symmetric","group_size":32,"shape":[N,K]}     (group_size 0: one group per row)
// NF4 / FP4 tensors (float4_tensor) are stored in bitsandbytes' layout: name (U8 packed codes),
// name.absmax (F32 per block; with double quantization U8 codes, plus name.nested_scale F32 and
// name.offset F32), and {"kind":"float4_tensor","quant_type":"nf4","block":64,...}.
// The top-level metadata "lowbit.version" is "1". Reading one back checks the format against
// the type asked for, every size, every code against the format's range (and zero padding
// bits), and the qparams as quantized_tensor and packed_lowbit_weights check them.
//
// Little-endian hosts only (the file format is little-endian).
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define LOWBIT_SAFETENSORS_MMAP 1
#endif

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/core/half.hpp"
#include "lowbit/gemm/packed_lowbit_weights.hpp"
#include "lowbit/io/json.hpp"
#include "lowbit/tensor/float4_tensor.hpp"
#include "lowbit/tensor/quantized_tensor.hpp"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "lowbit/io/safetensors.hpp reads and writes little-endian data on little-endian hosts only"
#endif

LOWBIT_NAMESPACE_BEGIN
namespace safetensors {

namespace json = lowbit::detail::json;

/// The element types of the format (safetensors' Dtype), in its spelling.
enum class dtype : int { BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };

inline const char* dtype_name(dtype t) noexcept {
  static const char* const names[] = {"BOOL", "U8",  "I8",  "F8_E5M2", "F8_E4M3", "I16", "U16", "F16",
                                      "BF16", "I32", "U32", "F32",     "F64",     "I64", "U64"};
  return names[static_cast<int>(t)];
}

inline std::size_t dtype_size(dtype t) noexcept {
  switch (t) {
    case dtype::BOOL: case dtype::U8: case dtype::I8: case dtype::F8_E5M2: case dtype::F8_E4M3: return 1;
    case dtype::I16: case dtype::U16: case dtype::F16: case dtype::BF16: return 2;
    case dtype::I32: case dtype::U32: case dtype::F32: return 4;
    case dtype::F64: case dtype::I64: case dtype::U64: return 8;
  }
  return 0;
}

/// The dtype spelled `name`; false if the format has none of that name.
inline bool parse_dtype(const std::string& name, dtype& out) noexcept {
  for (int i = 0; i <= static_cast<int>(dtype::U64); ++i)
    if (name == dtype_name(static_cast<dtype>(i))) {
      out = static_cast<dtype>(i);
      return true;
    }
  return false;
}

/// One tensor of a file: its bytes are [begin, end) of the data section.
struct tensor_info {
  std::string name;
  safetensors::dtype dtype = dtype::F32;
  std::vector<index_t> shape;
  std::size_t begin = 0, end = 0;
  index_t numel() const noexcept {
    index_t n = 1;
    for (index_t d : shape) n *= d;
    return n;
  }
};

namespace detail {

using lowbit::detail::checked_size;
using lowbit::detail::fail;

/// Bytes of a file, mapped or held, kept alive by `owner`.
struct mapped_bytes {
  std::shared_ptr<const void> owner;
  const std::uint8_t* base = nullptr;
  std::size_t size = 0;
};

/// Maps `path` read-only (reads it into memory where mmap is not available).
inline mapped_bytes map_file(const std::string& path) {
  mapped_bytes m;
#ifdef LOWBIT_SAFETENSORS_MMAP
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) lowbit::detail::fail(path, ": cannot open: ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    lowbit::detail::fail(path, ": not a regular file");
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  void* p = nullptr;
  if (size > 0) {
    p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int e = errno;
      ::close(fd);
      lowbit::detail::fail(path, ": cannot map ", size, " bytes: ", std::strerror(e));
    }
  }
  ::close(fd);
  m.owner = std::shared_ptr<const void>(p, [size](const void* q) {
    if (q != nullptr) ::munmap(const_cast<void*>(q), size);
  });
  m.base = static_cast<const std::uint8_t*>(p);
  m.size = size;
#else
  std::ifstream in(path, std::ios::binary);
  if (!in) lowbit::detail::fail(path, ": cannot open");
  auto bytes = std::make_shared<std::vector<std::uint8_t>>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  m.base = bytes->data();
  m.size = bytes->size();
  m.owner = std::move(bytes);
#endif
  return m;
}

/// Bytes held in memory.
inline mapped_bytes hold(std::vector<std::uint8_t> bytes) {
  auto held = std::make_shared<std::vector<std::uint8_t>>(std::move(bytes));
  mapped_bytes m;
  m.base = held->data();
  m.size = held->size();
  m.owner = std::move(held);
  return m;
}

/// Writes `bytes` to `path`.tmp, then renames it to `path` (an existing file is replaced only
/// when the new one is complete).
inline void save_bytes(const std::vector<std::uint8_t>& b, const std::string& path, const char* what) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) lowbit::detail::fail(what, ": cannot create ", tmp);
    out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    out.flush();
    if (!out) {
      out.close();
      std::remove(tmp.c_str());
      lowbit::detail::fail(what, ": writing ", b.size(), " bytes to ", tmp, " failed");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    lowbit::detail::fail(what, ": cannot rename ", tmp, " to ", path);
  }
}

}  // namespace detail

/// Largest header accepted (safetensors' own limit).
inline constexpr std::uint64_t max_header_bytes = 100'000'000;

/// A safetensors file, memory-mapped (or held in memory), its header parsed and checked.
class file {
 public:
  /// Maps `path` read-only and checks its header (see the file comment).
  static file open(const std::string& path) {
    file f;
    f.what_ = path;
    const detail::mapped_bytes m = detail::map_file(path);
    f.owner_ = m.owner;
    f.base_ = m.base;
    f.size_ = m.size;
    f.parse();
    return f;
  }

  /// A file held in memory (its bytes are moved in); `what` names it in errors.
  static file from_bytes(std::vector<std::uint8_t> bytes, std::string what = "safetensors") {
    file f;
    f.what_ = std::move(what);
    const detail::mapped_bytes m = detail::hold(std::move(bytes));
    f.owner_ = m.owner;
    f.base_ = m.base;
    f.size_ = m.size;
    f.parse();
    return f;
  }

  /// The tensors, in the header's order.
  const std::vector<tensor_info>& tensors() const noexcept { return tensors_; }
  /// __metadata__, in the header's order.
  const std::vector<std::pair<std::string, std::string>>& metadata() const noexcept { return metadata_; }
  /// The metadata value of `key`, or nullptr.
  const std::string* meta(const std::string& key) const noexcept {
    for (const auto& m : metadata_)
      if (m.first == key) return &m.second;
    return nullptr;
  }
  const tensor_info* find(const std::string& name) const noexcept {
    for (const auto& t : tensors_)
      if (t.name == name) return &t;
    return nullptr;
  }
  const tensor_info& at(const std::string& name) const {
    const tensor_info* t = find(name);
    if (t == nullptr) detail::fail(what_, ": no tensor named '", name, "'");
    return *t;
  }
  /// The first byte of a tensor's data (in the mapping; valid while a copy of this file lives).
  const std::uint8_t* data(const tensor_info& t) const noexcept { return base_ + data_start_ + t.begin; }
  /// Bytes of the whole file, and where the data section starts.
  std::size_t size_bytes() const noexcept { return size_; }
  std::size_t data_offset() const noexcept { return data_start_; }
  const std::string& name() const noexcept { return what_; }

  /// The tensor's values as floats (F32, F16, BF16, I8 or U8; exact conversions), C order.
  std::vector<float> to_float(const std::string& name) const {
    const tensor_info& t = at(name);
    std::vector<float> out(static_cast<std::size_t>(t.numel()));
    convert(t, out.data());
    return out;
  }
  /// The tensor as a row-major matrix: shape[0] rows and the other dimensions as columns (a
  /// rank-1 tensor is one row, a scalar 1 x 1).
  row_matrix matrix(const std::string& name) const {
    const tensor_info& t = at(name);
    row_matrix m(rows_of(t), cols_of(t));
    convert(t, m.data());
    return m;
  }
  /// An F32 tensor in place, without a copy (shaped as matrix()). The file must outlive the map.
  Eigen::Map<const row_matrix> f32_matrix(const std::string& name) const {
    const tensor_info& t = at(name);
    if (t.dtype != dtype::F32) detail::fail(what_, ": tensor '", name, "' is ", dtype_name(t.dtype), ", f32_matrix() maps F32 only");
    const std::uint8_t* p = data(t);
    if (reinterpret_cast<std::uintptr_t>(p) % alignof(float) != 0)
      detail::fail(what_, ": tensor '", name, "' starts at file offset ", data_start_ + t.begin,
                   ", not a multiple of 4: map it by copying (matrix())");
    return Eigen::Map<const row_matrix>(reinterpret_cast<const float*>(p), rows_of(t), cols_of(t));
  }

 private:
  file() = default;

  static index_t rows_of(const tensor_info& t) noexcept { return t.shape.size() < 2 ? 1 : t.shape[0]; }
  static index_t cols_of(const tensor_info& t) noexcept {
    if (t.shape.empty()) return 1;
    if (t.shape.size() == 1) return t.shape[0];
    return t.shape[0] == 0 ? 0 : t.numel() / t.shape[0];
  }

  void convert(const tensor_info& t, float* out) const {
    const std::uint8_t* p = data(t);
    const auto n = static_cast<std::size_t>(t.numel());
    switch (t.dtype) {
      case dtype::F32: if (n) std::memcpy(out, p, 4 * n); break;
      case dtype::F16:
        for (std::size_t i = 0; i < n; ++i) out[i] = half_to_float(static_cast<half_bits>(p[2 * i] | (p[2 * i + 1] << 8)));
        break;
      case dtype::BF16:
        for (std::size_t i = 0; i < n; ++i) {
          const std::uint32_t bits = static_cast<std::uint32_t>(p[2 * i] | (p[2 * i + 1] << 8)) << 16;
          std::memcpy(out + i, &bits, 4);
        }
        break;
      case dtype::I8: for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::int8_t>(p[i]); break;
      case dtype::U8: for (std::size_t i = 0; i < n; ++i) out[i] = p[i]; break;
      default:
        detail::fail(what_, ": tensor '", t.name, "' is ", dtype_name(t.dtype), "; floats are read from F32, F16, BF16, I8 and U8");
    }
  }

  void parse() {
    if (size_ < 8) detail::fail(what_, ": ", size_, " bytes, shorter than the 8-byte header length");
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | base_[i];
    if (n > max_header_bytes) detail::fail(what_, ": header length ", n, " exceeds the limit of ", max_header_bytes, " bytes");
    if (n > size_ - 8) detail::fail(what_, ": header length ", n, " runs past the end of the file (", size_, " bytes)");
    if (n == 0 || base_[8] != '{') detail::fail(what_, ": the header must be a JSON object starting with '{'");
    data_start_ = 8 + static_cast<std::size_t>(n);
    const std::size_t data_bytes = size_ - data_start_;
    const std::string where = what_ + " header";
    const json::value root = json::parse(reinterpret_cast<const char*>(base_ + 8), static_cast<std::size_t>(n), where.c_str());
    if (root.kind != json::kind::object) detail::fail(what_, ": the header must be a JSON object");
    for (const auto& [key, v] : root.members) {
      if (key == "__metadata__") {
        if (v.kind != json::kind::object) detail::fail(what_, ": __metadata__ must be an object, got ", json::kind_name(v.kind));
        for (const auto& [mk, mv] : v.members) {
          if (mv.kind != json::kind::string)
            detail::fail(what_, ": __metadata__ '", mk, "' must be a string, got ", json::kind_name(mv.kind));
          metadata_.emplace_back(mk, mv.text);
        }
        continue;
      }
      tensors_.push_back(tensor_entry(key, v, data_bytes));
    }
    // No two tensors share a byte.
    std::vector<const tensor_info*> order;
    for (const auto& t : tensors_)
      if (t.end > t.begin) order.push_back(&t);
    std::sort(order.begin(), order.end(), [](const tensor_info* a, const tensor_info* b) { return a->begin < b->begin; });
    for (std::size_t i = 1; i < order.size(); ++i)
      if (order[i]->begin < order[i - 1]->end)
        detail::fail(what_, ": tensors '", order[i - 1]->name, "' [", order[i - 1]->begin, ", ", order[i - 1]->end, ") and '",
                     order[i]->name, "' [", order[i]->begin, ", ", order[i]->end, ") overlap");
  }

  tensor_info tensor_entry(const std::string& name, const json::value& v, std::size_t data_bytes) const {
    auto bad = [&](const auto&... parts) { detail::fail(what_, ": tensor '", name, "': ", parts...); };
    if (name.empty()) detail::fail(what_, ": a tensor has an empty name");
    if (v.kind != json::kind::object) bad("expected an object, got ", json::kind_name(v.kind));
    tensor_info t;
    t.name = name;
    const json::value* dt = v.find("dtype");
    if (dt == nullptr || dt->kind != json::kind::string) bad("dtype must be a string");
    if (!parse_dtype(dt->text, t.dtype)) bad("unknown dtype '", dt->text, "'");
    const json::value* shape = v.find("shape");
    if (shape == nullptr || shape->kind != json::kind::array) bad("shape must be a list of integers");
    // Element count, checked against overflow: at most 2^62 bytes.
    const std::uint64_t limit = (std::uint64_t{1} << 62) / dtype_size(t.dtype);
    std::uint64_t count = 1;
    for (std::size_t i = 0; i < shape->items.size(); ++i) {
      const std::int64_t d = json::as_index(shape->items[i]);
      if (d < 0) bad("shape[", i, "] is not a non-negative integer");
      if (d > 0 && count > limit / static_cast<std::uint64_t>(d)) bad("the shape's element count overflows");
      count *= static_cast<std::uint64_t>(d);
      t.shape.push_back(static_cast<index_t>(d));
    }
    const json::value* off = v.find("data_offsets");
    if (off == nullptr || off->kind != json::kind::array || off->items.size() != 2) bad("data_offsets must be [begin, end]");
    const std::int64_t b = json::as_index(off->items[0]), e = json::as_index(off->items[1]);
    if (b < 0 || e < 0) bad("data_offsets must be non-negative integers");
    if (b > e) bad("data_offsets begin ", b, " > end ", e);
    if (static_cast<std::uint64_t>(e) > data_bytes) bad("data_offsets end ", e, " is past the ", data_bytes, " bytes of data");
    const std::uint64_t need = count * dtype_size(t.dtype);
    if (static_cast<std::uint64_t>(e - b) != need)
      bad("shape needs ", need, " bytes of ", dtype_name(t.dtype), ", data_offsets hold ", e - b);
    t.begin = static_cast<std::size_t>(b);
    t.end = static_cast<std::size_t>(e);
    return t;
  }

  std::shared_ptr<const void> owner_;
  const std::uint8_t* base_ = nullptr;
  std::size_t size_ = 0, data_start_ = 0;
  std::string what_;
  std::vector<tensor_info> tensors_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

/// Builds a safetensors file (see the file comment for the layout it writes).
class writer {
 public:
  /// Adds a tensor of `type` and `shape` whose bytes (little-endian, C order) start at `bytes`.
  writer& add(const std::string& name, dtype type, std::vector<index_t> shape, const void* bytes) {
    if (name.empty() || name == "__metadata__") detail::fail("safetensors::writer: invalid tensor name '", name, "'");
    for (const auto& e : entries_)
      if (e.name == name) detail::fail("safetensors::writer: tensor '", name, "' added twice");
    const index_t n = detail::checked_size(shape, "safetensors::writer");
    if (n > 0 && bytes == nullptr) detail::fail("safetensors::writer: null data for tensor '", name, "'");
    entry e{name, type, std::move(shape), {}};
    const auto* p = static_cast<const std::uint8_t*>(bytes);
    if (n > 0) e.data.assign(p, p + static_cast<std::size_t>(n) * dtype_size(type));
    entries_.push_back(std::move(e));
    return *this;
  }
  /// F32 tensors.
  writer& add(const std::string& name, const float* values, std::vector<index_t> shape) {
    return add(name, dtype::F32, std::move(shape), values);
  }
  writer& add(const std::string& name, const std::vector<float>& values) {
    return add(name, dtype::F32, {static_cast<index_t>(values.size())}, values.data());
  }
  /// A matrix as F32 [rows, cols].
  template <class Derived>
  writer& add(const std::string& name, const Eigen::MatrixBase<Derived>& m) {
    const row_matrix r = m.template cast<float>();
    return add(name, dtype::F32, {r.rows(), r.cols()}, r.data());
  }
  /// Sets (or replaces) a __metadata__ entry.
  writer& set_metadata(const std::string& key, const std::string& value) {
    for (auto& m : metadata_)
      if (m.first == key) {
        m.second = value;
        return *this;
      }
    metadata_.emplace_back(key, value);
    return *this;
  }
  bool contains(const std::string& name) const noexcept {
    for (const auto& e : entries_)
      if (e.name == name) return true;
    return false;
  }

  /// The file's bytes.
  std::vector<std::uint8_t> bytes() const {
    std::vector<const entry*> order;
    for (const auto& e : entries_) order.push_back(&e);
    std::stable_sort(order.begin(), order.end(), [](const entry* a, const entry* b) { return dtype_size(a->type) > dtype_size(b->type); });
    std::string h = "{";
    if (!metadata_.empty()) {
      h += "\"__metadata__\":{";
      for (std::size_t i = 0; i < metadata_.size(); ++i)
        h += (i ? "," : "") + json::quote(metadata_[i].first) + ":" + json::quote(metadata_[i].second);
      h += "}";
    }
    std::size_t offset = 0;
    for (const entry* e : order) {
      if (h.size() > 1) h += ",";
      h += json::quote(e->name) + ":{\"dtype\":\"" + dtype_name(e->type) + "\",\"shape\":[";
      for (std::size_t i = 0; i < e->shape.size(); ++i) h += (i ? "," : "") + std::to_string(e->shape[i]);
      h += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + e->data.size()) + "]}";
      offset += e->data.size();
    }
    h += "}";
    while (h.size() % 8 != 0) h += ' ';
    std::vector<std::uint8_t> out(8 + h.size() + offset);
    const std::uint64_t n = h.size();
    for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
    std::memcpy(out.data() + 8, h.data(), h.size());
    std::size_t at = 8 + h.size();
    for (const entry* e : order) {
      if (!e->data.empty()) std::memcpy(out.data() + at, e->data.data(), e->data.size());
      at += e->data.size();
    }
    return out;
  }

  /// Writes the file: to `path`.tmp, then renamed to `path` (an existing file is replaced only
  /// when the new one is complete).
  void save(const std::string& path) const { detail::save_bytes(bytes(), path, "safetensors::writer"); }

 private:
  struct entry {
    std::string name;
    dtype type;
    std::vector<index_t> shape;
    std::vector<std::uint8_t> data;
  };
  std::vector<entry> entries_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

namespace detail {

using lowbit::detail::fail;

inline const char* granularity_word(granularity_kind k) noexcept {
  return k == granularity_kind::tensor ? "tensor" : k == granularity_kind::channel ? "channel" : "group";
}

template <class F>
std::string format_fields() {
  return lowbit::detail::concat("\"format\":", json::quote(F::name), ",\"bits\":", F::bits, ",\"qmin\":", F::qmin,
                                ",\"qmax\":", F::qmax);
}

inline std::string shape_list(const std::vector<index_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

// The codes of n elements (code_type values) as the file stores them: 8-bit formats byte per
// code; sub-byte formats packed, first element in the lowest bits.
template <class F>
std::vector<std::uint8_t> pack_codes(const typename F::code_type* codes, index_t n) {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(packed_bytes<F>(n)), 0);
  constexpr int per = 8 / F::bits;
  constexpr unsigned mask = (1u << F::bits) - 1u;
  for (index_t i = 0; i < n; ++i)
    out[static_cast<std::size_t>(i / per)] |=
        static_cast<std::uint8_t>((static_cast<unsigned>(codes[i]) & mask) << (F::bits * (i % per)));
  return out;
}

// The stored codes of tensor `name`: checks dtype, size, each code's range and the padding bits.
template <class F>
const std::uint8_t* checked_codes(const file& f, const std::string& name, const std::vector<index_t>& shape) {
  const tensor_info& t = f.at(name);
  const index_t n = lowbit::detail::checked_size(shape, "safetensors");
  if constexpr (F::bits == 8) {
    const dtype want = F::is_signed ? dtype::I8 : dtype::U8;
    if (t.dtype != want || t.shape != shape)
      fail(f.name(), ": tensor '", name, "' must be ", dtype_name(want), " ", shape_list(shape), " (", F::name, " codes), got ",
           dtype_name(t.dtype), " ", shape_list(t.shape));
  } else {
    const std::vector<index_t> want{packed_bytes<F>(n)};
    if (t.dtype != dtype::U8 || t.shape != want)
      fail(f.name(), ": tensor '", name, "' must be U8 ", shape_list(want), " (", n, " packed ", F::name, " codes), got ",
           dtype_name(t.dtype), " ", shape_list(t.shape));
  }
  const std::uint8_t* p = f.data(t);
  constexpr int per = 8 / F::bits;
  constexpr unsigned mask = (1u << F::bits) - 1u;
  constexpr bool full_range = F::qmax - F::qmin + 1 == (1 << F::bits);
  if (!full_range) {
    for (index_t i = 0; i < n; ++i) {
      unsigned u = (p[i / per] >> (F::bits * (i % per))) & mask;
      int c = static_cast<int>(u);
      if (F::is_signed && (u & (1u << (F::bits - 1)))) c -= 1 << F::bits;
      if (c < F::qmin || c > F::qmax)
        fail(f.name(), ": tensor '", name, "': code ", c, " of element ", i, " is outside ", F::name, "'s [", F::qmin, ", ", F::qmax, "]");
    }
  }
  if (F::bits < 8 && n % per != 0 && (p[n / per] >> (F::bits * (n % per))) != 0)
    fail(f.name(), ": tensor '", name, "': the unused bits of the last byte are not zero");
  return p;
}

// The code at position i of stored codes p.
template <class F>
typename F::code_type code_at(const std::uint8_t* p, index_t i) noexcept {
  constexpr int per = 8 / F::bits;
  const unsigned u = (p[i / per] >> (F::bits * (i % per))) & ((1u << F::bits) - 1u);
  int c = static_cast<int>(u);
  if (F::is_signed && (u & (1u << (F::bits - 1)))) c -= 1 << F::bits;
  return static_cast<typename F::code_type>(c);
}

// The lowbit metadata object of `name`, checked to be of `kind` and format F.
template <class F>
json::value lowbit_meta(const file& f, const std::string& name, const char* kind) {
  const std::string* m = f.meta("lowbit:" + name);
  if (m == nullptr) fail(f.name(), ": no lowbit metadata for '", name, "' (__metadata__ key \"lowbit:", name, "\")");
  const std::string what = f.name() + ": metadata of '" + name + "'";
  json::value v = json::parse(m->data(), m->size(), what.c_str());
  auto text = [&](const char* key) -> std::string {
    const json::value* x = v.find(key);
    if (x == nullptr || x->kind != json::kind::string) fail(what, ": \"", key, "\" must be a string");
    return x->text;
  };
  auto integer = [&](const char* key) -> long long {
    const json::value* x = v.find(key);
    if (x == nullptr || x->kind != json::kind::number) fail(what, ": \"", key, "\" must be an integer");
    const bool neg = !x->text.empty() && x->text[0] == '-';
    json::value mag = *x;
    if (neg) mag.text.erase(0, 1);
    const std::int64_t a = json::as_index(mag);
    if (a < 0) fail(what, ": \"", key, "\" must be an integer, got ", x->text);
    return neg ? -a : a;
  };
  if (v.kind != json::kind::object) fail(what, ": expected a JSON object");
  if (text("kind") != kind) fail(what, ": holds a ", text("kind"), ", not a ", kind);
  const std::string format = text("format");
  if (format != F::name || integer("bits") != F::bits || integer("qmin") != F::qmin || integer("qmax") != F::qmax)
    fail(f.name(), ": '", name, "' holds ", format, " codes (", integer("bits"), " bits, [", integer("qmin"), ", ", integer("qmax"),
         "]), read as ", F::name, " (", F::bits, " bits, [", F::qmin, ", ", F::qmax, "])");
  return v;
}

inline std::vector<index_t> meta_shape(const json::value& v, const std::string& what) {
  const json::value* s = v.find("shape");
  if (s == nullptr || s->kind != json::kind::array) fail(what, ": \"shape\" must be a list of integers");
  std::vector<index_t> shape;
  for (const auto& d : s->items) {
    const std::int64_t x = json::as_index(d);
    if (x < 0) fail(what, ": \"shape\" must be a list of non-negative integers");
    shape.push_back(static_cast<index_t>(x));
  }
  return shape;
}

inline std::int64_t meta_index(const json::value& v, const char* key, const std::string& what) {
  const json::value* x = v.find(key);
  const std::int64_t r = x ? json::as_index(*x) : -1;
  if (r < 0) fail(what, ": \"", key, "\" must be a non-negative integer");
  return r;
}

// A tensor's raw elements of type T (dtype `want`, `count` elements) copied out.
template <class T>
std::vector<T> elements(const file& f, const std::string& name, dtype want, const std::vector<index_t>& shape) {
  const tensor_info& t = f.at(name);
  if (t.dtype != want || t.shape != shape)
    fail(f.name(), ": tensor '", name, "' must be ", dtype_name(want), " ", shape_list(shape), ", got ", dtype_name(t.dtype), " ",
         shape_list(t.shape));
  std::vector<T> out(static_cast<std::size_t>(t.numel()));
  if (!out.empty()) std::memcpy(out.data(), f.data(t), out.size() * sizeof(T));
  return out;
}

}  // namespace detail

/// Adds a quantized tensor as `name`, `name`.scale (and `name`.zero_point), with its metadata.
/// `rounding` (optional) records the quantizer's rounding mode.
template <class F>
void add(writer& w, const std::string& name, const quantized_tensor<F>& t, const std::string& rounding = "") {
  if (w.contains(name + ".scale") || w.contains(name + ".zero_point"))
    lowbit::detail::fail("safetensors::add: '", name, ".scale' or '", name, ".zero_point' is already in the file");
  const granularity_desc& g = t.granularity();
  const std::vector<index_t> qshape = t.qparams_shape();
  if constexpr (F::bits == 8) {
    w.add(name, F::is_signed ? dtype::I8 : dtype::U8, t.shape(), t.data().data());
  } else {
    w.add(name, dtype::U8, {static_cast<index_t>(t.data().size())}, t.data().data());
  }
  w.add(name + ".scale", dtype::F32, qshape, t.params().scale.data());
  if (t.is_affine()) w.add(name + ".zero_point", dtype::I32, qshape, t.params().zero_point.data());
  std::string m = "{\"kind\":\"quantized_tensor\"," + detail::format_fields<F>() + ",\"scheme\":\"" +
                  (t.is_affine() ? "affine" : "symmetric") + "\",\"granularity\":\"" + detail::granularity_word(g.kind) +
                  "\",\"axis\":" + std::to_string(g.kind == granularity_kind::tensor ? 0 : g.axis) +
                  ",\"group_size\":" + std::to_string(g.kind == granularity_kind::group ? g.group_size : 0) +
                  ",\"shape\":" + detail::shape_list(t.shape());
  if (!rounding.empty()) m += ",\"rounding\":" + json::quote(rounding);
  w.set_metadata("lowbit.version", "1");
  w.set_metadata("lowbit:" + name, m + "}");
}

/// Reads the quantized tensor `name` written by add(); its format must be F.
template <class F>
quantized_tensor<F> read_quantized(const file& f, const std::string& name) {
  const json::value v = detail::lowbit_meta<F>(f, name, "quantized_tensor");
  const std::string what = f.name() + ": metadata of '" + name + "'";
  const std::vector<index_t> shape = detail::meta_shape(v, what);
  if (shape.empty()) lowbit::detail::fail(what, ": \"shape\" needs at least one dimension");
  const json::value* scheme = v.find("scheme");
  const json::value* gran = v.find("granularity");
  if (scheme == nullptr || (scheme->text != "affine" && scheme->text != "symmetric"))
    lowbit::detail::fail(what, ": \"scheme\" must be \"affine\" or \"symmetric\"");
  const bool affine = scheme->text == "affine";
  granularity_desc g;
  if (gran == nullptr || gran->kind != json::kind::string) lowbit::detail::fail(what, ": \"granularity\" must be a string");
  const auto axis = detail::meta_index(v, "axis", what);
  const auto group = detail::meta_index(v, "group_size", what);
  if (axis >= static_cast<std::int64_t>(shape.size())) lowbit::detail::fail(what, ": axis ", axis, " is out of range for rank ", shape.size());
  if (gran->text == "tensor") {
    g.kind = granularity_kind::tensor;
  } else if (gran->text == "channel") {
    g.kind = granularity_kind::channel;
    g.axis = static_cast<int>(axis);
  } else if (gran->text == "group") {
    g.kind = granularity_kind::group;
    g.axis = static_cast<int>(axis);
    if (group <= 0) lowbit::detail::fail(what, ": \"group_size\" must be positive");
    g.group_size = static_cast<index_t>(group);
  } else {
    lowbit::detail::fail(what, ": unknown granularity \"", gran->text, "\"");
  }
  const std::uint8_t* codes = detail::checked_codes<F>(f, name, shape);
  const index_t n = lowbit::detail::checked_size(shape, "safetensors");
  std::vector<std::uint8_t> packed(codes, codes + packed_bytes<F>(n));
  // The qparams' shape follows from the shape and the granularity.
  const std::vector<index_t> qshape = lowbit::detail::slot_shape(shape, g);
  qparams p;
  p.scale = detail::elements<float>(f, name + ".scale", dtype::F32, qshape);
  if (affine) {
    p.zero_point = detail::elements<std::int32_t>(f, name + ".zero_point", dtype::I32, qshape);
  } else {
    if (f.find(name + ".zero_point") != nullptr) lowbit::detail::fail(what, ": a symmetric tensor with a zero_point tensor");
    p.zero_point.assign(p.scale.size(), symmetric_zero_point<F>());
  }
  return quantized_tensor<F>(shape, g, affine, std::move(p), std::move(packed));
}

/// Adds packed sub-byte weights as `name` (codes [N, K]), `name`.scale (F16), `name`.zero_point
/// or `name`.min, `name`.bias, with their metadata.
template <class F>
void add(writer& w, const std::string& name, const packed_lowbit_weights<F>& p) {
  const index_t n = p.n(), k = p.k(), groups = p.groups();
  std::vector<typename F::code_type> codes(static_cast<std::size_t>(n * k));
  for (index_t r = 0; r < n; ++r)
    for (index_t c = 0; c < k; ++c) codes[static_cast<std::size_t>(r * k + c)] = static_cast<typename F::code_type>(p.code(r, c));
  const std::vector<std::uint8_t> packed = detail::pack_codes<F>(codes.data(), n * k);
  if constexpr (F::bits == 8) {
    w.add(name, F::is_signed ? dtype::I8 : dtype::U8, {n, k}, packed.data());
  } else {
    w.add(name, dtype::U8, {static_cast<index_t>(packed.size())}, packed.data());
  }
  std::vector<half_bits> scales(static_cast<std::size_t>(n * groups)), mins;
  std::vector<std::int32_t> zps;
  for (index_t r = 0; r < n; ++r)
    for (index_t gi = 0; gi < groups; ++gi) {
      scales[static_cast<std::size_t>(r * groups + gi)] = p.scale_bits(r, gi);
      if (p.offsets() == offset_kind::zero_point) zps.push_back(p.zero_point(r, gi));
      if (p.offsets() == offset_kind::min) mins.push_back(p.min_bits(r, gi));
    }
  w.add(name + ".scale", dtype::F16, {n, groups}, scales.data());
  const char* offsets = "symmetric";
  if (p.offsets() == offset_kind::zero_point) {
    std::vector<typename F::code_type> z(zps.begin(), zps.end());  // one byte each, as the weights hold them
    w.add(name + ".zero_point", F::is_signed ? dtype::I8 : dtype::U8, {n, groups}, z.data());
    offsets = "zero_point";
  } else if (p.offsets() == offset_kind::min) {
    w.add(name + ".min", dtype::F16, {n, groups}, mins.data());
    offsets = "min";
  }
  if (p.bias() != nullptr) w.add(name + ".bias", dtype::F32, {n}, p.bias());
  w.set_metadata("lowbit.version", "1");
  w.set_metadata("lowbit:" + name, "{\"kind\":\"packed_lowbit_weights\"," + detail::format_fields<F>() + ",\"offsets\":\"" +
                                       offsets + "\",\"group_size\":" + std::to_string(p.per_channel() ? 0 : p.group_size()) +
                                       ",\"shape\":" + detail::shape_list({n, k}) + "}");
}

/// Reads packed sub-byte weights `name` written by add(); their format must be F.
template <class F>
packed_lowbit_weights<F> read_packed(const file& f, const std::string& name, const context& ctx = {}) {
  const json::value v = detail::lowbit_meta<F>(f, name, "packed_lowbit_weights");
  const std::string what = f.name() + ": metadata of '" + name + "'";
  const std::vector<index_t> shape = detail::meta_shape(v, what);
  if (shape.size() != 2) lowbit::detail::fail(what, ": \"shape\" must be [N, K]");
  const index_t n = shape[0], k = shape[1];
  const auto group = static_cast<index_t>(detail::meta_index(v, "group_size", what));
  const json::value* off = v.find("offsets");
  if (off == nullptr || off->kind != json::kind::string) lowbit::detail::fail(what, ": \"offsets\" must be a string");
  offset_kind kind = offset_kind::symmetric;
  if (off->text == "zero_point") kind = offset_kind::zero_point;
  else if (off->text == "min") kind = offset_kind::min;
  else if (off->text != "symmetric") lowbit::detail::fail(what, ": unknown offsets \"", off->text, "\"");
  if (group < 0 || group > lowbit_max_group || (group > 0 && group % 4 != 0))
    lowbit::detail::fail(what, ": group_size ", group, " must be 0 (one group per row) or a multiple of 4 up to ", lowbit_max_group);
  const index_t groups = group == 0 ? 1 : (k + group - 1) / group;  // packed_lowbit_weights' count
  const index_t nk = lowbit::detail::checked_size({n, k}, what.c_str());
  const std::uint8_t* stored = detail::checked_codes<F>(f, name, F::bits == 8 ? std::vector<index_t>{n, k} : std::vector<index_t>{nk});
  std::vector<typename F::code_type> codes(static_cast<std::size_t>(nk));
  for (index_t i = 0; i < nk; ++i) codes[static_cast<std::size_t>(i)] = detail::code_at<F>(stored, i);
  const std::vector<half_bits> scales = detail::elements<half_bits>(f, name + ".scale", dtype::F16, {n, groups});
  std::vector<std::int32_t> zps;
  std::vector<half_bits> mins;
  if (kind == offset_kind::zero_point) {
    const auto z = detail::elements<typename F::code_type>(f, name + ".zero_point", F::is_signed ? dtype::I8 : dtype::U8, {n, groups});
    zps.assign(z.begin(), z.end());
  }
  if (kind == offset_kind::min) mins = detail::elements<half_bits>(f, name + ".min", dtype::F16, {n, groups});
  std::vector<float> bias;
  if (f.find(name + ".bias") != nullptr) bias = detail::elements<float>(f, name + ".bias", dtype::F32, {n});
  return packed_lowbit_weights<F>::assemble(n, k, group, kind, codes.data(), k, scales, zps, mins, bias_values(std::move(bias)), ctx);
}


/// Adds an NF4 / FP4 tensor (bitsandbytes' layout) as `name` (U8, its packed codes), and
/// `name`.absmax (F32 per block), or with double quantization `name`.absmax (U8 codes per block),
/// `name`.nested_scale (F32 per nested block) and `name`.offset (F32 scalar), with metadata
///   {"kind":"float4_tensor","quant_type":"nf4","block":64,"double_quant":true,"nested_block":256,"shape":[...]}
inline void add(writer& w, const std::string& name, const float4_tensor& t) {
  w.add(name, dtype::U8, {static_cast<index_t>(t.packed().size())}, t.packed().data());
  const index_t blocks = t.blocks();
  if (t.double_quantized()) {
    w.add(name + ".absmax", dtype::U8, {blocks}, t.absmax_codes().data());
    w.add(name + ".nested_scale", dtype::F32, {static_cast<index_t>(t.nested_scale().size())}, t.nested_scale().data());
    const float offset = t.offset();
    w.add(name + ".offset", dtype::F32, {}, &offset);
  } else {
    w.add(name + ".absmax", dtype::F32, {blocks}, t.absmax().data());
  }
  w.set_metadata("lowbit.version", "1");
  w.set_metadata("lowbit:" + name, std::string("{\"kind\":\"float4_tensor\",\"quant_type\":\"") + float4_name(t.kind()) +
                                       "\",\"block\":" + std::to_string(t.block()) + ",\"double_quant\":" +
                                       (t.double_quantized() ? "true" : "false") + ",\"nested_block\":" +
                                       std::to_string(t.double_quantized() ? t.nested_block() : 0) +
                                       ",\"shape\":" + detail::shape_list(t.shape()) + "}");
}

/// Reads the NF4 / FP4 tensor `name` written by add().
inline float4_tensor read_float4(const file& f, const std::string& name) {
  const std::string* m = f.meta("lowbit:" + name);
  if (m == nullptr) lowbit::detail::fail(f.name(), ": no lowbit metadata for '", name, "' (__metadata__ key \"lowbit:", name, "\")");
  const std::string what = f.name() + ": metadata of '" + name + "'";
  const json::value v = json::parse(m->data(), m->size(), what.c_str());
  if (v.kind != json::kind::object) lowbit::detail::fail(what, ": expected a JSON object");
  const json::value* kind = v.find("kind");
  if (kind == nullptr || kind->text != "float4_tensor")
    lowbit::detail::fail(what, ": holds a ", kind ? kind->text : std::string("?"), ", not a float4_tensor");
  const json::value* qt = v.find("quant_type");
  if (qt == nullptr || (qt->text != "nf4" && qt->text != "fp4")) lowbit::detail::fail(what, ": \"quant_type\" must be \"nf4\" or \"fp4\"");
  const float4_kind k = qt->text == "nf4" ? float4_kind::nf4 : float4_kind::fp4;
  const json::value* dq = v.find("double_quant");
  if (dq == nullptr || dq->kind != json::kind::boolean) lowbit::detail::fail(what, ": \"double_quant\" must be true or false");
  const std::vector<index_t> shape = detail::meta_shape(v, what);
  const auto block = static_cast<index_t>(detail::meta_index(v, "block", what));
  const index_t n = lowbit::detail::checked_size(shape, what.c_str());
  if (block <= 0) lowbit::detail::fail(what, ": \"block\" must be positive");
  const index_t blocks = n == 0 ? 0 : (n + block - 1) / block;
  std::vector<std::uint8_t> packed = detail::elements<std::uint8_t>(f, name, dtype::U8, {(n + 1) / 2});
  if (!dq->flag) {
    std::vector<float> absmax = detail::elements<float>(f, name + ".absmax", dtype::F32, {blocks});
    return float4_tensor(shape, k, block, std::move(packed), std::move(absmax));
  }
  const auto nested_block = static_cast<index_t>(detail::meta_index(v, "nested_block", what));
  if (nested_block <= 0) lowbit::detail::fail(what, ": \"nested_block\" must be positive");
  std::vector<std::uint8_t> codes = detail::elements<std::uint8_t>(f, name + ".absmax", dtype::U8, {blocks});
  std::vector<float> nested = detail::elements<float>(f, name + ".nested_scale", dtype::F32, {(blocks + nested_block - 1) / nested_block});
  const std::vector<float> offset = detail::elements<float>(f, name + ".offset", dtype::F32, {});
  return float4_tensor(shape, k, block, std::move(packed), std::move(codes), std::move(nested), offset[0], nested_block);
}

}  // namespace safetensors
LOWBIT_NAMESPACE_END
