// Fuzz target: the GGUF reader on arbitrary bytes.
//
// Properties checked: parsing either succeeds or throws lowbit::error (never a crash, a read
// outside the bytes, an allocation the file cannot back, or another exception); a parsed file's
// tensors lie inside its data, at multiples of the alignment; F32 / F16 / BF16 / Q4_0 / Q4_1 /
// Q8_0 tensors convert to floats, and the block types convert to packed weights and back to the
// same bytes; rewriting a parsed file's metadata and tensors gives a file that parses to the
// same metadata, tensors and bytes.
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "fuzz_input.hpp"
#include "lowbit/io/gguf.hpp"


namespace {

namespace gg = lowbit::gguf;
using lowbit_fuzz::require;

bool same_value(const gg::value& a, const gg::value& b) {
  if (a.type != b.type || a.u != b.u || a.i != b.i || a.s != b.s || a.items.size() != b.items.size()) return false;
  if (std::memcmp(&a.f, &b.f, sizeof a.f) != 0 && !(a.type == gg::value_type::f32 && a.f != a.f && b.f != b.f)) return false;
  for (std::size_t i = 0; i < a.items.size(); ++i)
    if (!same_value(a.items[i], b.items[i])) return false;
  return true;
}

template <class Blocks>
void same_bytes(const gg::file& f, const gg::tensor_info& t, const Blocks& b) {
  require(b.size() * sizeof(b[0]) == t.bytes && (t.bytes == 0 || std::memcmp(b.data(), f.data(t), t.bytes) == 0),
          "blocks through packed weights differ");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > (1u << 20)) return 0;
  std::vector<std::uint8_t> bytes(data, data + size);
  try {
    const gg::file f = gg::file::from_bytes(bytes, "fuzz");
    gg::writer rewrite;
    for (const auto& [key, v] : f.metadata()) {
      try {
        rewrite.set(key, v);
      } catch (const lowbit::error&) {
        return 0;  // e.g. general.alignment of another type: the reader refused it already
      }
    }
    for (const auto& t : f.tensors()) {
      require(t.offset % f.alignment() == 0, "a tensor is not aligned");
      require(f.data_offset() + t.offset + t.bytes <= size, "a tensor lies outside the file");
      try {
        const lowbit::row_matrix m = f.to_float(t.name);
        require(static_cast<std::uint64_t>(m.size()) == t.numel(), "to_float returned the wrong count");
        if (t.type == gg::tensor_type::Q4_0) same_bytes(f, t, lowbit::ggml::to_q4_0(f.read_q4_0(t.name)));
        if (t.type == gg::tensor_type::Q4_1) same_bytes(f, t, lowbit::ggml::to_q4_1(f.read_q4_1(t.name)));
        if (t.type == gg::tensor_type::Q8_0) same_bytes(f, t, lowbit::ggml::to_q8_0(f.read_q8_0(t.name)));
      } catch (const lowbit::error&) {
      }
      rewrite.add(t.name, t.type, t.dims, f.data(t));
    }
    const gg::file again = gg::file::from_bytes(rewrite.bytes());
    require(again.metadata().size() == f.metadata().size() && again.tensors().size() == f.tensors().size(), "a rewritten file differs");
    for (std::size_t i = 0; i < f.metadata().size(); ++i)
      require(again.metadata()[i].first == f.metadata()[i].first && same_value(again.metadata()[i].second, f.metadata()[i].second),
              "rewritten metadata differs");
    for (std::size_t i = 0; i < f.tensors().size(); ++i) {
      const auto &a = f.tensors()[i], &b = again.tensors()[i];
      require(a.name == b.name && a.dims == b.dims && a.type == b.type && a.bytes == b.bytes, "a rewritten tensor differs");
      require(a.bytes == 0 || std::memcmp(f.data(a), again.data(b), a.bytes) == 0, "a rewritten tensor's bytes differ");
    }
  } catch (const lowbit::error&) {
  }
  return 0;
}
