// lowbit/io/json.hpp: the small, strict JSON reader and writer the safetensors header needs.
//
// Reading: RFC 8259 values (objects, arrays, strings with every escape, numbers, true, false,
// null) into a tree, with limits for untrusted input: nesting at most 64 deep, duplicate object
// keys rejected, nothing but whitespace after the value, strings valid UTF-8 after unescaping
// (surrogate pairs combined; a lone surrogate is an error). Numbers keep their text; as_index()
// accepts only non-negative integers without fraction or exponent below 2^63. Every error is a
// lowbit::error that names what was expected and the byte offset.
//
// Writing: quote() escapes a string the way Python's json.dumps(ensure_ascii=False) does
// (\" \\ \b \f \n \r \t, other control characters as \u00xx), so that an independent writer can
// produce the same bytes.
#pragma once

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"

LOWBIT_NAMESPACE_BEGIN
namespace detail {
namespace json {  // in detail: a user's `json` (nlohmann's, say) must not meet this one

enum class kind { null, boolean, number, string, array, object };

/// One JSON value. Objects keep their members in file order.
struct value {
  json::kind kind = json::kind::null;
  bool flag = false;          ///< boolean
  std::string text;           ///< string (unescaped), or number (as written)
  std::vector<value> items;   ///< array
  std::vector<std::pair<std::string, value>> members;  ///< object

  /// The member named key, or nullptr.
  const value* find(const std::string& key) const noexcept {
    for (const auto& m : members)
      if (m.first == key) return &m.second;
    return nullptr;
  }
};

inline const char* kind_name(kind k) noexcept {
  switch (k) {
    case kind::null: return "null";
    case kind::boolean: return "a boolean";
    case kind::number: return "a number";
    case kind::string: return "a string";
    case kind::array: return "an array";
    case kind::object: return "an object";
  }
  return "?";
}

/// A non-negative integer written without fraction or exponent, below 2^63; -1 otherwise.
inline std::int64_t as_index(const value& v) noexcept {
  if (v.kind != kind::number || v.text.empty() || v.text.size() > 19) return -1;
  std::uint64_t r = 0;  // at most 19 digits: below 10^19 < 2^64, no overflow
  for (char c : v.text) {
    if (c < '0' || c > '9') return -1;
    r = r * 10 + static_cast<std::uint64_t>(c - '0');
  }
  if (r > static_cast<std::uint64_t>(INT64_MAX)) return -1;
  if (v.text.size() > 1 && v.text[0] == '0') return -1;
  return static_cast<std::int64_t>(r);
}

namespace impl {

class parser {
 public:
  parser(const char* p, std::size_t n, const char* what) : p_(p), n_(n), what_(what) {}

  value document() {
    value v = parse(0);
    skip_ws();
    if (i_ != n_) fail("end of the header after the top-level value");
    return v;
  }

 private:
  static constexpr int max_depth = 64;

  [[noreturn]] void fail(const char* expected) const {
    lowbit::detail::fail(what_, ": malformed JSON at byte ", i_, ": expected ", expected);
  }
  void skip_ws() noexcept {
    while (i_ < n_ && (p_[i_] == ' ' || p_[i_] == '\t' || p_[i_] == '\n' || p_[i_] == '\r')) ++i_;
  }
  bool eat(char c) noexcept {
    skip_ws();
    if (i_ < n_ && p_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool literal(const char* word) noexcept {
    const std::size_t len = std::strlen(word);
    if (n_ - i_ >= len && std::memcmp(p_ + i_, word, len) == 0) {
      i_ += len;
      return true;
    }
    return false;
  }

  value parse(int depth) {
    if (depth > max_depth) fail("nesting at most 64 deep");
    skip_ws();
    if (i_ >= n_) fail("a value");
    value v;
    const char c = p_[i_];
    if (c == '{') {
      ++i_;
      v.kind = kind::object;
      if (eat('}')) return v;
      do {
        skip_ws();
        if (i_ >= n_ || p_[i_] != '"') fail("a string key");
        std::string key = string();
        if (v.find(key) != nullptr) lowbit::detail::fail(what_, ": malformed JSON at byte ", i_, ": duplicate key \"", key, "\"");
        if (!eat(':')) fail("':'");
        value member = parse(depth + 1);
        v.members.emplace_back(std::move(key), std::move(member));
      } while (eat(','));
      if (!eat('}')) fail("',' or '}'");
    } else if (c == '[') {
      ++i_;
      v.kind = kind::array;
      if (eat(']')) return v;
      do v.items.push_back(parse(depth + 1));
      while (eat(','));
      if (!eat(']')) fail("',' or ']'");
    } else if (c == '"') {
      v.kind = kind::string;
      v.text = string();
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = kind::number;
      v.text = number();
    } else if (literal("true")) {
      v.kind = kind::boolean;
      v.flag = true;
    } else if (literal("false")) {
      v.kind = kind::boolean;
    } else if (literal("null")) {
      v.kind = kind::null;
    } else {
      fail("a value");
    }
    return v;
  }

  std::string number() {
    const std::size_t start = i_;
    auto digits = [&] {
      const std::size_t s = i_;
      while (i_ < n_ && p_[i_] >= '0' && p_[i_] <= '9') ++i_;
      return i_ - s;
    };
    if (p_[i_] == '-') ++i_;
    if (i_ < n_ && p_[i_] == '0') {
      ++i_;
    } else if (digits() == 0) {
      fail("a digit");
    }
    if (i_ < n_ && p_[i_] == '.') {
      ++i_;
      if (digits() == 0) fail("a digit after '.'");
    }
    if (i_ < n_ && (p_[i_] == 'e' || p_[i_] == 'E')) {
      ++i_;
      if (i_ < n_ && (p_[i_] == '+' || p_[i_] == '-')) ++i_;
      if (digits() == 0) fail("a digit in the exponent");
    }
    return std::string(p_ + start, i_ - start);
  }

  unsigned hex4() {
    if (n_ - i_ < 4) fail("four hex digits");
    unsigned r = 0;
    for (int k = 0; k < 4; ++k, ++i_) {
      const char c = p_[i_];
      r <<= 4;
      if (c >= '0' && c <= '9') r |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') r |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') r |= static_cast<unsigned>(c - 'A' + 10);
      else fail("a hex digit");
    }
    return r;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  // One UTF-8 sequence starting at i_ (checked: shortest form, no surrogates, at most U+10FFFF).
  void copy_utf8(std::string& out) {
    const auto b0 = static_cast<unsigned char>(p_[i_]);
    std::size_t len = 0;
    unsigned cp = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) len = 2, cp = b0 & 0x1Fu;
    else if (b0 >= 0xE0 && b0 <= 0xEF) len = 3, cp = b0 & 0x0Fu;
    else if (b0 >= 0xF0 && b0 <= 0xF4) len = 4, cp = b0 & 0x07u;
    else fail("valid UTF-8");
    if (n_ - i_ < len) fail("valid UTF-8");
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(p_[i_ + k]);
      if ((b & 0xC0u) != 0x80u) fail("valid UTF-8");
      cp = (cp << 6) | (b & 0x3Fu);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
      fail("valid UTF-8");
    out.append(p_ + i_, len);
    i_ += len;
  }

  std::string string() {
    ++i_;  // the opening quote
    std::string out;
    for (;;) {
      if (i_ >= n_) fail("'\"' closing the string");
      const char c = p_[i_];
      if (c == '"') {
        ++i_;
        return out;
      }
      if (static_cast<unsigned char>(c) < 0x20) fail("no control character inside a string");
      if (static_cast<unsigned char>(c) >= 0x80) {
        copy_utf8(out);
        continue;
      }
      ++i_;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= n_) fail("an escape");
      const char e = p_[i_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) fail("a high surrogate before a low one");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (!(n_ - i_ >= 2 && p_[i_] == '\\' && p_[i_ + 1] == 'u')) fail("a low surrogate after a high one");
            i_ += 2;
            const unsigned lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("a low surrogate after a high one");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default: --i_; fail("one of the escapes \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u");
      }
    }
  }

  const char* p_;
  std::size_t n_;
  std::size_t i_ = 0;
  const char* what_;
};

}  // namespace impl

/// Parses a JSON document of n bytes; `what` names the document in error messages.
inline value parse(const char* text, std::size_t n, const char* what = "JSON") {
  return impl::parser(text, n, what).document();
}

/// s as a JSON string literal (quotes included), escaped as Python's json.dumps(ensure_ascii=False).
inline std::string quote(const std::string& s) {
  static const char hex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += "\\u00";
          out += hex[(c >> 4) & 0xF];
          out += hex[c & 0xF];
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace json
}  // namespace detail
LOWBIT_NAMESPACE_END
