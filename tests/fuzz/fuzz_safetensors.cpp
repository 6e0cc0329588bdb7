// Fuzz target: the safetensors reader on arbitrary bytes, and lowbit's tensors in them.
//
// Properties checked: parsing either succeeds or throws lowbit::error (never a crash, a read
// outside the bytes, or another exception); a parsed file's tensors lie inside its data and do
// not overlap; every F32 / F16 / BF16 / I8 / U8 tensor converts to floats; every lowbit tensor
// described in __metadata__ either reads as one of the formats (or as NF4 / FP4) or throws lowbit::error, and one
// that reads is written and read back unchanged; rewriting a parsed file's tensors gives a file
// that parses to the same tensors and bytes.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_input.hpp"
#include "lowbit/io/safetensors.hpp"


namespace {

namespace st = lowbit::safetensors;
using lowbit_fuzz::require;

template <class F>
void try_quantized(const st::file& f, const std::string& name) {
  try {
    const lowbit::quantized_tensor<F> t = st::read_quantized<F>(f, name);
    st::writer w;
    st::add(w, name, t);
    const st::file again = st::file::from_bytes(w.bytes());
    const lowbit::quantized_tensor<F> back = st::read_quantized<F>(again, name);
    require(back.data() == t.data() && back.params() == t.params() && back.shape() == t.shape(),
            "a quantized tensor does not round trip");
    (void)t.dequantize();
  } catch (const lowbit::error&) {
  }
}

template <class F>
void try_packed(const st::file& f, const std::string& name) {
  try {
    const lowbit::packed_lowbit_weights<F> p = st::read_packed<F>(f, name);
    st::writer w;
    st::add(w, name, p);
    const st::file again = st::file::from_bytes(w.bytes());
    const lowbit::packed_lowbit_weights<F> back = st::read_packed<F>(again, name);
    require(back.n() == p.n() && back.k() == p.k() && back.payload_bytes() == p.payload_bytes(), "packed weights do not round trip");
    const lowbit::row_matrix a = p.dequantize(), b = back.dequantize();
    require(a.size() == b.size() && (a.size() == 0 || std::memcmp(a.data(), b.data(), 4 * static_cast<std::size_t>(a.size())) == 0),
            "packed weights do not round trip");
  } catch (const lowbit::error&) {
  }
}

void try_float4(const st::file& f, const std::string& name) {
  try {
    const lowbit::float4_tensor t = st::read_float4(f, name);
    st::writer w;
    st::add(w, name, t);
    const lowbit::float4_tensor back = st::read_float4(st::file::from_bytes(w.bytes()), name);
    require(back.packed() == t.packed() && back.absmax() == t.absmax() && back.shape() == t.shape(), "an NF4 / FP4 tensor does not round trip");
  } catch (const lowbit::error&) {
  }
}

template <class F>
void try_format(const st::file& f, const std::string& name) {
  try_quantized<F>(f, name);
  try_packed<F>(f, name);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (1u << 20)) return 0;
  std::vector<std::uint8_t> bytes(data, data + size);
  st::file f = [&]() -> st::file {
    try {
      return st::file::from_bytes(bytes, "fuzz");
    } catch (const lowbit::error&) {
      return st::file::from_bytes(st::writer{}.bytes());
    }
  }();
  const std::size_t data_bytes = f.size_bytes() - f.data_offset();
  st::writer rewrite;
  for (const auto& t : f.tensors()) {
    require(t.begin <= t.end && t.end <= data_bytes, "a tensor lies outside the data");
    require(t.end - t.begin == static_cast<std::size_t>(t.numel()) * st::dtype_size(t.dtype), "a tensor's size is not its shape's");
    try {
      const std::vector<float> v = f.to_float(t.name);
      require(v.size() == static_cast<std::size_t>(t.numel()), "to_float returned the wrong count");
    } catch (const lowbit::error&) {
      require(t.dtype != st::dtype::F32 && t.dtype != st::dtype::F16 && t.dtype != st::dtype::BF16 && t.dtype != st::dtype::I8 &&
                  t.dtype != st::dtype::U8,
              "a float-convertible tensor was refused");
    }
    rewrite.add(t.name, t.dtype, t.shape, f.data(t));
  }
  for (const auto& [key, value] : f.metadata()) {
    rewrite.set_metadata(key, value);
    if (key.rfind("lowbit:", 0) != 0) continue;
    const std::string name = key.substr(7);
    try_format<lowbit::int8>(f, name);
    try_format<lowbit::uint8>(f, name);
    try_format<lowbit::int4>(f, name);
    try_format<lowbit::uint4>(f, name);
    try_format<lowbit::int2>(f, name);
    try_format<lowbit::uint2>(f, name);
    try_float4(f, name);
  }
  const st::file again = st::file::from_bytes(rewrite.bytes());
  require(again.tensors().size() == f.tensors().size() && again.metadata() == f.metadata(), "a rewritten file differs");
  for (const auto& t : f.tensors()) {
    const st::tensor_info& u = again.at(t.name);
    require(u.dtype == t.dtype && u.shape == t.shape, "a rewritten tensor differs");
    require(t.end == t.begin || std::memcmp(f.data(t), again.data(u), t.end - t.begin) == 0, "a rewritten tensor's bytes differ");
  }
  return 0;
}
