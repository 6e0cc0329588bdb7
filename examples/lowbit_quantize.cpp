// lowbit-quantize: quantize the weight matrices of a safetensors or GGUF file and write the result
// as safetensors (lowbit's packed weights, readable with lowbit::safetensors::read_packed) or GGUF
// (Q4_0 / Q4_1 / Q8_0 blocks that llama.cpp reads). See --help.
#include <fnmatch.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "lowbit/io/gguf.hpp"
#include "lowbit/io/safetensors.hpp"
#include "lowbit/lowbit.hpp"

namespace {

using namespace lowbit;

const char* const usage = R"(Usage: lowbit-quantize [OPTION]... INPUT OUTPUT
Quantize the weight matrices of INPUT (safetensors or GGUF) and write OUTPUT.

OUTPUT's format follows its extension (.safetensors or .gguf) unless --to is given.
A tensor is quantized if it has two dimensions, at least --min-elements values, and
a float type (F32, F16, BF16; GGUF Q4_0 / Q4_1 / Q8_0 inputs are dequantized first);
every other tensor is copied unchanged (safetensors) or as F32 (GGUF).

  -m, --method=METHOD     rtn (round to nearest, default), gptq (needs --calibration),
                          awq (needs --calibration; see AWQ below), nf4 or fp4
                          (bitsandbytes' 4-bit formats: blocks of 64, double
                          quantization of the block scales; --bits, --scheme and --group
                          do not apply)
  -b, --bits=N            8, 4 (default), 3 or 2 (3-bit codes are stored in 4 bits)
  -s, --scheme=SCHEME     symmetric (default) or affine
  -g, --group=N           group size along the inputs, a multiple of 4 (default 32);
                          0 for one scale per output row
  -c, --calibration=FILE  safetensors file holding, for each weight W [out, in] to
                          quantize with gptq or awq, its layer's inputs [rows, in] under
                          W's name
  -o, --override=PATTERN:SPEC
                          for tensors whose name matches the shell PATTERN, use SPEC:
                          "keep" (do not quantize) or comma-separated method=, bits=,
                          scheme=, group= settings; the last matching override wins;
                          may be repeated
      --min-elements=N    quantize tensors of at least N values (default 1024)
      --to=FORMAT         safetensors or gguf
      --report=FILE       write the per-tensor report as Markdown to FILE
      --csv=FILE          write the per-tensor report as CSV to FILE
  -q, --quiet             no progress bar and no report on standard output
  -h, --help              display this help and exit
      --version           output version information and exit

GGUF output holds llama.cpp's block formats: --bits=4 --scheme=symmetric --group=32
(Q4_0), --bits=4 --scheme=affine --group=32 (Q4_1) or --bits=8 --group=32 (Q8_0),
quantized as ggml's reference code does; other settings are an error there.

AWQ scales each input channel j of W by s[j] (chosen on the calibration inputs) and
stores the quantized W diag(s) under W's name and s as an F32 tensor named
"W.awq_scales". The layer then computes with inputs divided by s: fold 1 / s into
the operation before it (a norm's weight, the previous layer's rows). The report's
SQNR compares W with the effective weights Q(W diag(s)) diag(1 / s).

Examples:
  lowbit-quantize model.safetensors model-int4.safetensors
  lowbit-quantize -b 2 -s affine -g 64 -o '*.attn.*:bits=4' in.safetensors out.safetensors
  lowbit-quantize -m gptq -c calib.safetensors in.safetensors out.safetensors
  lowbit-quantize -m awq -c calib.safetensors in.safetensors out.safetensors
  lowbit-quantize -m nf4 in.safetensors out-nf4.safetensors
  lowbit-quantize -b 4 -g 32 model-f32.gguf model-q4_0.gguf

Exit status: 0 on success, 1 on bad input or a failure (the message says which),
2 on a usage error.
)";

struct spec {
  std::string method = "rtn";
  int bits = 4;
  bool affine = false;
  index_t group = 32;
  bool keep = false;
};

struct options {
  spec base;
  std::vector<std::pair<std::string, std::string>> overrides;
  std::string calibration, to, report, csv, input, output;
  index_t min_elements = 1024;
  bool quiet = false;
};

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "lowbit-quantize: %s\nTry 'lowbit-quantize --help' for more information.\n", msg.c_str());
  std::exit(2);
}

long parse_int(const std::string& s, const char* what) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno != 0) usage_error(std::string("invalid ") + what + " '" + s + "'");
  return v;
}

void set_field(spec& sp, const std::string& key, const std::string& value) {
  if (key == "method") {
    if (value != "rtn" && value != "gptq" && value != "awq" && value != "nf4" && value != "fp4")
      usage_error("invalid method '" + value + "' (rtn, gptq, awq, nf4 or fp4)");
    sp.method = value;
  } else if (key == "bits") {
    sp.bits = static_cast<int>(parse_int(value, "bits"));
    if (sp.bits != 8 && sp.bits != 4 && sp.bits != 3 && sp.bits != 2) usage_error("invalid bits '" + value + "' (8, 4, 3 or 2)");
  } else if (key == "scheme") {
    if (value != "symmetric" && value != "affine") usage_error("invalid scheme '" + value + "' (symmetric or affine)");
    sp.affine = value == "affine";
  } else if (key == "group") {
    sp.group = parse_int(value, "group size");
    if (sp.group < 0 || sp.group % 4 != 0) usage_error("invalid group size '" + value + "' (0 or a multiple of 4)");
  } else {
    usage_error("unknown setting '" + key + "' (method, bits, scheme, group)");
  }
}

spec apply_override(spec sp, const std::string& text) {
  if (text == "keep") {
    sp.keep = true;
    return sp;
  }
  sp.keep = false;
  std::size_t at = 0;
  while (at <= text.size()) {
    const std::size_t comma = std::min(text.find(',', at), text.size());
    const std::string item = text.substr(at, comma - at);
    const std::size_t eq = item.find('=');
    if (eq == std::string::npos) usage_error("invalid override setting '" + item + "' (expected key=value or keep)");
    set_field(sp, item.substr(0, eq), item.substr(eq + 1));
    at = comma + 1;
  }
  return sp;
}

options parse_args(int argc, char** argv) {
  options o;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string value;
    auto take = [&](const char* longname, const char* shortname) -> bool {
      const std::string l = std::string("--") + longname;
      if (a == l || (shortname && a == shortname)) {
        if (i + 1 >= argc) usage_error("option '" + a + "' requires an argument");
        value = argv[++i];
        return true;
      }
      if (a.rfind(l + "=", 0) == 0) {
        value = a.substr(l.size() + 1);
        return true;
      }
      return false;
    };
    if (a == "-h" || a == "--help") {
      std::fputs(usage, stdout);
      std::exit(0);
    } else if (a == "--version") {
      std::printf("lowbit-quantize (lowbit) %d.%d.%d\n", LOWBIT_VERSION_MAJOR, LOWBIT_VERSION_MINOR, LOWBIT_VERSION_PATCH);
      std::exit(0);
    } else if (a == "-q" || a == "--quiet") {
      o.quiet = true;
    } else if (take("method", "-m")) {
      set_field(o.base, "method", value);
    } else if (take("bits", "-b")) {
      set_field(o.base, "bits", value);
    } else if (take("scheme", "-s")) {
      set_field(o.base, "scheme", value);
    } else if (take("group", "-g")) {
      set_field(o.base, "group", value);
    } else if (take("calibration", "-c")) {
      o.calibration = value;
    } else if (take("override", "-o")) {
      const std::size_t colon = value.rfind(':');
      if (colon == std::string::npos || colon == 0) usage_error("invalid override '" + value + "' (expected PATTERN:SPEC)");
      o.overrides.emplace_back(value.substr(0, colon), value.substr(colon + 1));
      apply_override(o.base, o.overrides.back().second);  // checked now
    } else if (take("min-elements", nullptr)) {
      o.min_elements = parse_int(value, "--min-elements");
    } else if (take("to", nullptr)) {
      if (value != "safetensors" && value != "gguf") usage_error("invalid --to '" + value + "' (safetensors or gguf)");
      o.to = value;
    } else if (take("report", nullptr)) {
      o.report = value;
    } else if (take("csv", nullptr)) {
      o.csv = value;
    } else if (a.size() > 1 && a[0] == '-') {
      usage_error("unrecognized option '" + a + "'");
    } else {
      positional.push_back(a);
    }
  }
  if (positional.size() != 2) usage_error(positional.size() < 2 ? "missing operand" : "extra operand '" + positional[2] + "'");
  o.input = positional[0];
  o.output = positional[1];
  if (o.to.empty()) {
    auto ends = [&](const std::string& s) { return o.output.size() >= s.size() && o.output.compare(o.output.size() - s.size(), s.size(), s) == 0; };
    if (ends(".gguf")) o.to = "gguf";
    else if (ends(".safetensors")) o.to = "safetensors";
    else usage_error("cannot tell OUTPUT's format from its name; use --to");
  }
  return o;
}

// One input tensor, whatever the file.
struct source_tensor {
  std::string name;
  std::vector<index_t> shape;  // row-major
  bool is_float = false;       // convertible to float
  std::string dtype;
};

struct row {
  std::string name, shape, method;
  double sqnr = 0;
  std::size_t bytes_in = 0, bytes_out = 0;
  bool quantized = false;
};

std::string shape_string(const std::vector<index_t>& s) {
  std::string r;
  for (std::size_t i = 0; i < s.size(); ++i) r += (i ? "x" : "") + std::to_string(s[i]);
  return r.empty() ? "scalar" : r;
}

std::string spec_name(const spec& s) {
  if (s.method == "nf4" || s.method == "fp4") return s.method + " block 64 + double quant";
  const char* format = s.bits == 8   ? (s.affine ? "uint8" : "int8")
                       : s.bits == 4 ? (s.affine ? "uint4" : "int4")
                       : s.bits == 3 ? (s.affine ? "uint3" : "int3")
                                     : (s.affine ? "uint2" : "int2");
  return s.method + " " + format +
         (s.group ? " g" + std::to_string(s.group) : " per row");
}

// AWQ's per-input-channel scales for w quantized as sp (lowbit's quantizer of the same bits,
// scheme and group; min/max ranges).
template <class F, class S>
awq_result<F> awq_as(const row_matrix& w, const spec& sp, const hessian_observer& h) {
  if (sp.group == 0) return awq(quantizer<F, S, per_channel>(per_channel(0)), w, h);
  return awq(quantizer<F, S, per_group>(per_group(1, sp.group)), w, h);
}

struct awq_choice {
  Eigen::VectorXf scales;
  float alpha = 0;
};

// Calls fn(format, scheme) with the lowbit format and scheme sp names (bits, symmetric or affine).
template <class Fn>
auto with_format(const spec& sp, Fn&& fn) {
  return with_weight_format(sp.bits, sp.affine, fn, "lowbit-quantize");
}

awq_choice choose_awq(const row_matrix& w, const spec& sp, const hessian_observer& h) {
  return with_format(sp, [&](auto f, auto s) {
    const auto r = awq_as<decltype(f), decltype(s)>(w, sp, h);
    return awq_choice{r.scales, r.alpha};
  });
}

template <class F, class S>
packed_lowbit_weights<F> quantize_as(const row_matrix& w, const spec& sp, const hessian_observer* h) {
  if (sp.group == 0) {
    const quantizer<F, S, per_channel> q(per_channel(0));
    if (h) {
      gptq_options o;
      o.half_scales = true;
      return packed_lowbit_weights<F>(gptq(q, w, *h, o));
    }
    return pack_lowbit(w, q);
  }
  const quantizer<F, S, per_group> q(per_group(1, sp.group));
  if (h) {
    gptq_options o;
    o.half_scales = true;
    return packed_lowbit_weights<F>(gptq(q, w, *h, o));
  }
  return pack_lowbit(w, q);
}

// Quantizes w as sp and adds it to out; returns the dequantized weights.
template <class F, class S>
row_matrix add_packed(safetensors::writer& out, const std::string& name, const row_matrix& w, const spec& sp, const hessian_observer* h,
                      std::size_t& bytes) {
  const packed_lowbit_weights<F> p = quantize_as<F, S>(w, sp, h);
  safetensors::add(out, name, p);
  bytes = static_cast<std::size_t>(p.payload_bytes());
  return p.dequantize();
}

row_matrix quantize_safetensors(safetensors::writer& out, const std::string& name, const row_matrix& w, const spec& sp,
                                const hessian_observer* h, std::size_t& bytes) {
  return with_format(sp, [&](auto f, auto s) { return add_packed<decltype(f), decltype(s)>(out, name, w, sp, h, bytes); });
}

row_matrix quantize_gguf(gguf::writer& out, const std::string& name, const row_matrix& w, const spec& sp, std::size_t& bytes) {
  if (sp.group != 32 || (sp.method != "rtn" && sp.method != "awq") || sp.bits == 2 || sp.bits == 3 || (sp.bits == 8 && sp.affine))
    detail::fail("tensor '", name, "': GGUF output holds Q4_0 (bits=4, symmetric), Q4_1 (bits=4, affine) and Q8_0 (bits=8, symmetric), ",
                 "with group=32 and method=rtn or awq; got ", spec_name(sp), sp.affine ? " affine" : "");
  const index_t n = w.rows(), k = w.cols();
  if (sp.bits == 8) {
    const auto b = ggml::quantize_q8_0(w);
    out.add(name, gguf::tensor_type::Q8_0, {static_cast<std::uint64_t>(k), static_cast<std::uint64_t>(n)}, b.data());
    bytes = b.size() * sizeof(b[0]);
    return ggml::dequantize(b.data(), n, k);
  }
  if (sp.affine) {
    const auto b = ggml::quantize_q4_1(w);
    out.add(name, gguf::tensor_type::Q4_1, {static_cast<std::uint64_t>(k), static_cast<std::uint64_t>(n)}, b.data());
    bytes = b.size() * sizeof(b[0]);
    return ggml::dequantize(b.data(), n, k);
  }
  const auto b = ggml::quantize_q4_0(w);
  out.add(name, gguf::tensor_type::Q4_0, {static_cast<std::uint64_t>(k), static_cast<std::uint64_t>(n)}, b.data());
  bytes = b.size() * sizeof(b[0]);
  return ggml::dequantize(b.data(), n, k);
}

void progress(bool show, std::size_t done, std::size_t total, const std::string& name) {
  if (!show) return;
  const int width = 30;
  const int filled = total ? static_cast<int>(width * done / total) : width;
  std::fprintf(stderr, "\r[%s%s] %zu/%zu %-40.40s", std::string(static_cast<std::size_t>(filled), '#').c_str(),
               std::string(static_cast<std::size_t>(width - filled), ' ').c_str(), done, total, name.c_str());
  if (done == total) std::fputc('\n', stderr);
  std::fflush(stderr);
}

std::string fixed(double v, int digits) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

int run(const options& o) {
  // Open the input by its magic bytes.
  std::optional<safetensors::file> st_in;
  std::optional<gguf::file> gg_in;
  {
    std::ifstream probe(o.input, std::ios::binary);
    if (!probe) detail::fail(o.input, ": cannot open");
    char magic[4] = {};
    probe.read(magic, 4);
    if (std::memcmp(magic, "GGUF", 4) == 0) gg_in.emplace(gguf::file::open(o.input));
    else st_in.emplace(safetensors::file::open(o.input));
  }
  std::optional<safetensors::file> calib;
  if (!o.calibration.empty()) calib.emplace(safetensors::file::open(o.calibration));

  std::vector<source_tensor> tensors;
  if (st_in) {
    for (const auto& t : st_in->tensors()) {
      const bool f = t.dtype == safetensors::dtype::F32 || t.dtype == safetensors::dtype::F16 || t.dtype == safetensors::dtype::BF16;
      tensors.push_back({t.name, t.shape, f, safetensors::dtype_name(t.dtype)});
    }
  } else {
    for (const auto& t : gg_in->tensors()) {
      std::vector<index_t> shape(t.dims.rbegin(), t.dims.rend());
      gguf::type_traits tr{};
      gguf::traits_of(static_cast<std::uint32_t>(t.type), tr);
      const bool f = t.type == gguf::tensor_type::F32 || t.type == gguf::tensor_type::F16 || t.type == gguf::tensor_type::BF16 ||
                     t.type == gguf::tensor_type::Q4_0 || t.type == gguf::tensor_type::Q4_1 || t.type == gguf::tensor_type::Q8_0;
      tensors.push_back({t.name, shape, f, tr.name});
    }
  }
  auto bytes_in = [&](const std::string& name) -> std::size_t {
    if (st_in) {
      const auto& t = st_in->at(name);
      return t.end - t.begin;
    }
    return static_cast<std::size_t>(gg_in->at(name).bytes);
  };
  auto floats = [&](const std::string& name) -> row_matrix { return st_in ? st_in->matrix(name) : gg_in->to_float(name); };

  safetensors::writer st_out;
  gguf::writer gg_out;
  if (gg_in) {
    for (const auto& [key, v] : gg_in->metadata())
      if (o.to == "gguf") gg_out.set(key, v);
  } else {
    for (const auto& [key, v] : st_in->metadata())
      if (o.to == "safetensors") st_out.set_metadata(key, v);
  }
  const bool show = !o.quiet && isatty(2);
  std::vector<row> report;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const source_tensor& t = tensors[i];
    progress(show, i, tensors.size(), t.name);
    spec sp = o.base;
    for (const auto& [pattern, text] : o.overrides)
      if (fnmatch(pattern.c_str(), t.name.c_str(), 0) == 0) sp = apply_override(o.base, text);
    row r;
    r.name = t.name;
    r.shape = shape_string(t.shape);
    r.bytes_in = bytes_in(t.name);
    index_t numel = 1;
    for (index_t d : t.shape) numel *= d;
    const bool quantize = !sp.keep && t.is_float && t.shape.size() == 2 && numel >= o.min_elements && numel > 0;
    if (!quantize) {
      r.method = sp.keep ? "kept (override)" : "kept";
      if (o.to == "safetensors") {
        if (st_in) {
          const auto& info = st_in->at(t.name);
          st_out.add(t.name, info.dtype, info.shape, st_in->data(info));
        } else {
          const row_matrix m = floats(t.name);
          st_out.add(t.name, safetensors::dtype::F32, t.shape, m.data());
        }
      } else if (gg_in) {
        const auto& info = gg_in->at(t.name);
        gg_out.add(t.name, info.type, info.dims, gg_in->data(info));
      } else {
        if (!t.is_float) detail::fail("tensor '", t.name, "' is ", t.dtype, ", which GGUF output cannot hold");
        const row_matrix m = floats(t.name);
        std::vector<std::uint64_t> dims(t.shape.rbegin(), t.shape.rend());
        gg_out.add(t.name, gguf::tensor_type::F32, dims, m.data());
      }
      r.bytes_out = o.to == "gguf" && !gg_in ? static_cast<std::size_t>(numel) * 4 : r.bytes_in;
      report.push_back(r);
      continue;
    }
    const row_matrix w = floats(t.name);
    std::optional<hessian_observer> h;
    if (sp.method == "gptq" || sp.method == "awq") {
      const safetensors::tensor_info* x = calib ? calib->find(t.name) : nullptr;
      if (x == nullptr) detail::fail("tensor '", t.name, "': ", sp.method, " needs its layer's inputs under that name in --calibration");
      const row_matrix xs = calib->matrix(t.name);
      if (xs.cols() != w.cols())
        detail::fail("tensor '", t.name, "': calibration inputs have ", xs.cols(), " columns, the weights ", w.cols(), " inputs");
      h.emplace(w.cols());
      h->observe(xs);
    }
    row_matrix back;
    std::string note;
    if (sp.method == "nf4" || sp.method == "fp4") {
      if (o.to == "gguf") detail::fail("tensor '", t.name, "': GGUF output cannot hold ", sp.method, " (use safetensors)");
      float4_options fo;
      fo.double_quant = true;
      const float4_tensor q = float4_tensor::quantize(w, sp.method == "nf4" ? float4_kind::nf4 : float4_kind::fp4, fo);
      safetensors::add(st_out, t.name, q);
      r.bytes_out = static_cast<std::size_t>(q.bytes());
      back = q.dequantize();
    } else if (sp.method == "awq") {
      // W diag(s) is stored (rounded to nearest) and s beside it; the layer computes with Q(W diag(s)) diag(1 / s).
      const awq_choice c = choose_awq(w, sp, *h);
      const row_matrix ws = smooth_weights(w, c.scales);
      const std::string sname = t.name + ".awq_scales";
      back = o.to == "gguf" ? quantize_gguf(gg_out, t.name, ws, sp, r.bytes_out) : quantize_safetensors(st_out, t.name, ws, sp, nullptr, r.bytes_out);
      if (o.to == "gguf") gg_out.add(sname, gguf::tensor_type::F32, {static_cast<std::uint64_t>(c.scales.size())}, c.scales.data());
      else st_out.add(sname, safetensors::dtype::F32, {c.scales.size()}, c.scales.data());
      r.bytes_out += static_cast<std::size_t>(c.scales.size()) * sizeof(float);
      back = smooth_inputs(back, c.scales);
      note = " alpha " + fixed(c.alpha, 2);
    } else {
      back = o.to == "gguf" ? quantize_gguf(gg_out, t.name, w, sp, r.bytes_out)
                            : quantize_safetensors(st_out, t.name, w, sp, h ? &*h : nullptr, r.bytes_out);
    }
    r.sqnr = compare(w, back).sqnr_db;
    r.method = spec_name(sp) + (sp.affine && sp.method != "nf4" && sp.method != "fp4" ? " affine" : "") + note;
    r.quantized = true;
    report.push_back(r);
  }
  progress(show, tensors.size(), tensors.size(), "");
  if (o.to == "gguf") gg_out.save(o.output);
  else st_out.save(o.output);

  // The report.
  std::size_t total_in = 0, total_out = 0;
  for (const auto& r : report) total_in += r.bytes_in, total_out += r.bytes_out;
  auto ratio = [](std::size_t a, std::size_t b) { return b ? fixed(static_cast<double>(a) / static_cast<double>(b), 2) + "x" : "-"; };
  std::string md = "| tensor | shape | method | SQNR (dB) | bytes in | bytes out | compression |\n|---|---|---|---:|---:|---:|---:|\n";
  std::string csv = "tensor,shape,method,sqnr_db,bytes_in,bytes_out,compression\n";
  for (const auto& r : report) {
    const std::string sq = r.quantized ? fixed(r.sqnr, 2) : "";
    md += "| " + r.name + " | " + r.shape + " | " + r.method + " | " + sq + " | " + std::to_string(r.bytes_in) + " | " +
          std::to_string(r.bytes_out) + " | " + ratio(r.bytes_in, r.bytes_out) + " |\n";
    csv += "\"" + r.name + "\"," + r.shape + ",\"" + r.method + "\"," + sq + "," + std::to_string(r.bytes_in) + "," +
           std::to_string(r.bytes_out) + "," + (r.bytes_out ? fixed(static_cast<double>(r.bytes_in) / static_cast<double>(r.bytes_out), 4) : "") + "\n";
  }
  md += "| **total** | | | | " + std::to_string(total_in) + " | " + std::to_string(total_out) + " | " + ratio(total_in, total_out) + " |\n";
  auto write = [](const std::string& path, const std::string& text) {
    std::ofstream f(path);
    f << text;
    if (!f) detail::fail("cannot write ", path);
  };
  if (!o.report.empty()) write(o.report, md);
  if (!o.csv.empty()) write(o.csv, csv);
  if (!o.quiet) {
    std::cout << md;
    std::ifstream written(o.output, std::ios::binary | std::ios::ate);
    std::cout << "wrote " << o.output << ": " << static_cast<long long>(written.tellg()) << " bytes; tensor payload " << total_out
              << " bytes, " << ratio(total_in, total_out) << " smaller than the input's " << total_in << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const options o = parse_args(argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "\nlowbit-quantize: %s\n", e.what());
    return 1;
  }
}
