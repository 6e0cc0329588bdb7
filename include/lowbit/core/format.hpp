// lowbit/core/format.hpp: integer number formats as types (int8 ... uint2), with their ranges.
#pragma once

#include <cstdint>
#include <type_traits>

#include "lowbit/config.hpp"

LOWBIT_NAMESPACE_BEGIN

namespace detail {
struct format_tag {};
}  // namespace detail

/// An integer code format: `Bits` bits per code (2, 4 or 8), signed or not, codes in [QMin, QMax].
/// Codes are stored one per byte for 8-bit formats, or packed 8 / Bits per byte with the first
/// element in the lowest bits (ONNX order).
///
/// lowbit's formats below are integer_formats; a custom range is one more, for example PyTorch's
/// reduce_range activations:
///
///   struct uint7 : lowbit::integer_format<8, false, 0, 127> { static constexpr const char* name = "uint7"; };
///
/// (or simply `using uint7 = lowbit::integer_format<8, false, 0, 127>;`, named "custom").
template <int Bits, bool Signed, int QMin, int QMax>
struct integer_format : detail::format_tag {
  static_assert(Bits == 2 || Bits == 4 || Bits == 8, "lowbit formats have 2, 4 or 8 bits");
  static_assert(QMin < QMax, "integer_format: QMin must be below QMax");
  static_assert(Signed ? (QMin >= -(1 << (Bits - 1)) && QMax <= (1 << (Bits - 1)) - 1)
                       : (QMin >= 0 && QMax <= (1 << Bits) - 1),
                "integer_format: [QMin, QMax] must fit in Bits bits of the given signedness");
  static constexpr int bits = Bits;
  static constexpr bool is_signed = Signed;
  static constexpr int qmin = QMin;
  static constexpr int qmax = QMax;
  static constexpr int per_byte = 8 / Bits;  ///< codes stored in one byte
  static constexpr std::uint8_t code_mask = static_cast<std::uint8_t>((1u << Bits) - 1u);
  /// Type one code is widened to when unpacked: int8_t for signed formats, uint8_t otherwise.
  using code_type = std::conditional_t<Signed, std::int8_t, std::uint8_t>;
  static constexpr const char* name = "custom";
};

// The formats. Ranges follow ONNX (opset 21 and later) and PyTorch's default ranges.
struct int8 : integer_format<8, true, -128, 127> {
  static constexpr const char* name = "int8";
};
struct uint8 : integer_format<8, false, 0, 255> {
  static constexpr const char* name = "uint8";
};
/// int8 restricted to [-127, 127]: symmetric weights for kernels whose exactness argument needs
/// |w| <= 127 (and ONNX Runtime's / TensorRT's convention for symmetric int8 weights).
struct int8_narrow : integer_format<8, true, -127, 127> {
  static constexpr const char* name = "int8_narrow";
};
/// uint8 restricted to [0, 127]: PyTorch's reduce_range activations. On the avx2 path the GEMM
/// runs such activations on vpmaddubsw, which is exact for codes <= 127 (kernels/gemm_avx2.hpp):
/// one bit of activation resolution for about twice the speed of the exact int16 kernel.
struct uint7 : integer_format<8, false, 0, 127> {
  static constexpr const char* name = "uint7";
};
struct int4 : integer_format<4, true, -8, 7> {
  static constexpr const char* name = "int4";
};
struct uint4 : integer_format<4, false, 0, 15> {
  static constexpr const char* name = "uint4";
};
/// 3-bit codes in 4-bit containers (GPTQ's int3): stored, packed and computed exactly as int4, with
/// the range of 3 bits. Weights of 3 bits therefore take int4's bytes in memory and in files; what
/// they buy is int4's kernels at 3-bit accuracy, for layers or algorithms that want that grid.
struct int3 : integer_format<4, true, -4, 3> {
  static constexpr const char* name = "int3";
};
struct uint3 : integer_format<4, false, 0, 7> {
  static constexpr const char* name = "uint3";
};
struct int2 : integer_format<2, true, -2, 1> {
  static constexpr const char* name = "int2";
};
struct uint2 : integer_format<2, false, 0, 3> {
  static constexpr const char* name = "uint2";
};

/// True for the format types above and every other integer_format.
template <class T>
inline constexpr bool is_format_v = std::is_base_of_v<detail::format_tag, T>;

/// Number of bytes that hold `count` codes of format F (the last byte may be partly used; its
/// unused high bits are zero).
template <class F>
constexpr index_t packed_bytes(index_t count) noexcept {
  return (count + F::per_byte - 1) / F::per_byte;
}

/// The zero point a symmetric scheme uses for format F, following PyTorch: 0 for signed formats,
/// 128 for uint8 (quint8's default range) and the down-rounded midpoint (qmin + qmax) / 2 for
/// other unsigned ranges (PyTorch's rule for customized ranges: 7 for uint4, 1 for uint2).
template <class F>
constexpr int symmetric_zero_point() noexcept {
  if constexpr (F::is_signed) {
    return 0;
  } else if constexpr (F::bits == 8 && F::qmin == 0 && F::qmax == 255) {
    return 128;
  } else {
    return (F::qmin + F::qmax) / 2;
  }
}

LOWBIT_NAMESPACE_END
