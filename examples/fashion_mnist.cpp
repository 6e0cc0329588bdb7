// The end-to-end demo: a float MLP trained on Fashion-MNIST, then quantized every way lowbit offers,
// each measured on the full 10,000-image test set for accuracy, size and speed.
//
//   fashion_mnist [dataset-dir]     (default /usr/share/datasets/fashion-mnist, Debian's
//                                    dataset-fashion-mnist)
//
// Trained models are cached beside the executable (LOWBIT_DEMO_CACHE overrides the directory), so
// a second run goes straight to the measurements. The table is printed and written as Markdown
// and CSV beside the cache.
#include <lowbit/lowbit.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#if LOWBIT_PEER_OPENBLAS
#include <cblas.h>
#endif

#include "demo/idx.hpp"
#include "demo/mlp.hpp"
#include "demo/qat.hpp"

// How this translation unit (and Eigen in it) was compiled: the demo's Eigen row runs at that width.
#if defined(__AVX512F__)
#define LOWBIT_DEMO_EIGEN_ISA "AVX-512 build"
#elif defined(__AVX2__)
#define LOWBIT_DEMO_EIGEN_ISA "AVX2 build"
#elif defined(__ARM_NEON)
#define LOWBIT_DEMO_EIGEN_ISA "NEON build"
#else
#define LOWBIT_DEMO_EIGEN_ISA "SSE2 build, no -march"
#endif

namespace {

using lowbit::row_matrix;

const std::vector<int> sizes = {784, 256, 128, 10};
constexpr std::uint64_t seed = 42;
constexpr int fp32_epochs = 8;
constexpr int qat_epochs = 2;
constexpr int batch = 256;  // inference batch

struct result {
  std::string method;
  double accuracy = 0;
  double weight_bytes = 0;
  double seconds = 0;
};

/// Median wall time of running `f` over the test set in batches of 256.
double time_test_set(const row_matrix& x, const std::function<void(const row_matrix&, row_matrix&)>& f) {
  std::vector<row_matrix> batches;
  for (Eigen::Index r = 0; r < x.rows(); r += batch) batches.push_back(x.middleRows(r, std::min<Eigen::Index>(batch, x.rows() - r)));
  row_matrix out;
  std::vector<double> t;
  for (int rep = 0; rep < 5; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    for (const row_matrix& b : batches) f(b, out);
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

double accuracy_of(const row_matrix& x, const std::vector<int>& y, const std::function<void(const row_matrix&, row_matrix&)>& f) {
  std::size_t right = 0;
  row_matrix out;
  for (Eigen::Index r = 0; r < x.rows(); r += batch) {
    const Eigen::Index n = std::min<Eigen::Index>(batch, x.rows() - r);
    f(x.middleRows(r, n), out);
    right += static_cast<std::size_t>(demo::accuracy(out, y, static_cast<std::size_t>(r)) * static_cast<double>(n) + 0.5);
  }
  return static_cast<double>(right) / static_cast<double>(x.rows());
}

double bias_bytes(const demo::mlp& m) {
  double n = 0;
  for (const auto& b : m.b) n += 4.0 * static_cast<double>(b.size());
  return n;
}

// --- weight-only quantization (int4 / int2): packed sub-byte weights, int8 activations per row ---

/// A model of Linear layers (dynamic_linear or lowbit_linear: float in, float out).
template <class Layer>
result layers_row(const char* name, const std::vector<Layer>& layers, double bytes, const demo::dataset& d,
                  const lowbit::context& ctx) {
  const auto f = [&](const row_matrix& x, row_matrix& out) {
    row_matrix h = x;
    for (std::size_t l = 0; l < layers.size(); ++l) {
      // ReLU fused into every layer but the last.
      out = layers[l].forward(h, l + 1 < layers.size() ? lowbit::output_float{}.relu() : lowbit::output_float{}, ctx);
      if (l + 1 < layers.size()) h.swap(out);
    }
  };
  return {name, accuracy_of(d.test_x, d.test_y, f), bytes, time_test_set(d.test_x, f)};
}

/// Where the demo keeps its files, and what saving and reloading models found (printed at the end).
std::string g_cache;
std::vector<std::string> g_saved;
bool g_reload_ok = true;

/// Saves a model's packed weights and biases to a safetensors file, reloads it, and checks that
/// the reloaded layers give the same outputs bit for bit on the whole test set (so the same
/// accuracy): a quantized model survives its file.
template <class F>
void save_and_reload(const char* name, const std::vector<lowbit::lowbit_linear<F>>& layers, const demo::dataset& d,
                     const lowbit::context& ctx) {
  namespace st = lowbit::safetensors;
  std::string slug;
  for (const char* c = name; *c; ++c) slug += std::isalnum(static_cast<unsigned char>(*c)) ? *c : '_';
  const std::string path = g_cache + "/fashion_mnist_" + slug + ".safetensors";
  st::writer w;
  for (std::size_t l = 0; l < layers.size(); ++l) st::add(w, "fc" + std::to_string(l + 1), layers[l].weights());
  w.save(path);
  const st::file f = st::file::open(path);
  std::vector<lowbit::lowbit_linear<F>> back;
  for (std::size_t l = 0; l < layers.size(); ++l) back.emplace_back(st::read_packed<F>(f, "fc" + std::to_string(l + 1)));
  const auto run = [&](const std::vector<lowbit::lowbit_linear<F>>& m) {
    row_matrix h = d.test_x, out;
    for (std::size_t l = 0; l < m.size(); ++l) {
      out = m[l].forward(h, l + 1 < m.size() ? lowbit::output_float{}.relu() : lowbit::output_float{}, ctx);
      if (l + 1 < m.size()) h.swap(out);
    }
    return out;
  };
  const row_matrix a = run(layers), b = run(back);
  const bool same = a.size() == b.size() && std::memcmp(a.data(), b.data(), sizeof(float) * static_cast<std::size_t>(a.size())) == 0;
  const double acc = demo::accuracy(b, d.test_y, 0);
  g_reload_ok = g_reload_ok && same;
  char line[512];
  std::snprintf(line, sizeof line, "%s: saved to %s (%zu bytes), reloaded: %s, accuracy %.2f %%", name, path.c_str(),
                static_cast<std::size_t>(f.size_bytes()), same ? "outputs identical" : "OUTPUTS DIFFER", acc * 100);
  g_saved.push_back(line);
}

/// Round to nearest with the quantizer's ranges; the bytes are the packed payload (codes, fp16
/// scales, offsets) and the float biases.
template <class Q>
result rtn_row(const char* name, const demo::mlp& m, const Q& q, const demo::dataset& d, const lowbit::context& ctx) {
  std::vector<lowbit::lowbit_linear<typename Q::format>> layers;
  double bytes = bias_bytes(m);
  for (std::size_t l = 0; l < m.layers(); ++l) {
    layers.emplace_back(m.w[l], q, m.b[l]);
    bytes += static_cast<double>(layers.back().weights().payload_bytes());
  }
  return layers_row(name, layers, bytes, d, ctx);
}

/// GPTQ (ptq/gptq.hpp) layer by layer on 2048 training images: each layer's Hessian comes from the
/// outputs of the layers already quantized, as GPTQ runs sequentially. Columns in act order (static
/// groups), scales rounded to fp16 before the codes are chosen, so the packed layer holds exactly
/// GPTQ's codes.
template <class Q>
result gptq_row(const char* name, const demo::mlp& m, const Q& q, const demo::dataset& d, const lowbit::context& ctx) {
  using F = typename Q::format;
  std::vector<lowbit::lowbit_linear<F>> layers;
  double bytes = bias_bytes(m);
  row_matrix h = d.train_x.topRows(2048);
  for (std::size_t l = 0; l < m.layers(); ++l) {
    lowbit::hessian_observer obs(m.w[l].cols());
    obs.observe(h);
    lowbit::gptq_options o;
    o.act_order = true;
    o.static_groups = true;
    o.half_scales = true;
    layers.emplace_back(lowbit::packed_lowbit_weights<F>(lowbit::gptq(q, m.w[l], obs, o), m.b[l]));
    bytes += static_cast<double>(layers.back().weights().payload_bytes());
    if (l + 1 < m.layers()) h = layers.back().forward(h, lowbit::output_float{}.relu(), ctx);
  }
  save_and_reload(name, layers, d, ctx);
  return layers_row(name, layers, bytes, d, ctx);
}

/// NF4 / FP4 weights (bitsandbytes' format, tensor/float4_tensor.hpp) in float4_linear: 4 bits per
/// weight plus a float absmax per block of 64 (or 8 bits per block with double quantization),
/// computed in float.
result float4_row(const char* name, const demo::mlp& m, lowbit::float4_kind kind, bool double_quant, const demo::dataset& d,
                   const lowbit::context& ctx) {
  std::vector<lowbit::float4_linear> layers;
  double bytes = bias_bytes(m);
  lowbit::float4_options o;
  o.double_quant = double_quant;
  for (std::size_t l = 0; l < m.layers(); ++l) {
    layers.emplace_back(m.w[l], kind, o, m.b[l]);
    bytes += static_cast<double>(layers.back().weights().bytes());
  }
  return layers_row(name, layers, bytes, d, ctx);
}

/// Mixed precision (ptq/mixed_precision.hpp): each layer's format and group size chosen by its
/// measured output SQNR on 2048 training images to fit `budget` bits per weight; the plan is
/// printed, and the layers run on the sub-byte kernels in the formats it chose, quantized by round
/// to nearest or (with_gptq) by GPTQ layer by layer as gptq_row does.
result mixed_row(const demo::mlp& m, double budget, bool with_gptq, const demo::dataset& d, const lowbit::context& ctx) {
  using namespace lowbit;
  std::vector<hessian_observer> obs;
  row_matrix h = d.train_x.topRows(2048);
  for (std::size_t l = 0; l < m.layers(); ++l) {
    obs.emplace_back(m.w[l].cols());
    obs.back().observe(h);
    row_matrix z = h * m.w[l].transpose();
    z.rowwise() += m.b[l];
    h = z.cwiseMax(0.0f);
  }
  std::vector<planned_layer> layers;
  for (std::size_t l = 0; l < m.layers(); ++l) layers.emplace_back("fc" + std::to_string(l + 1), m.w[l], obs[l]);
  const precision_plan plan = plan_precision(layers, budget);
  if (!with_gptq)
    std::printf("\nmixed-precision plan for %.2f bits/weight (predicted output SQNR per layer and option):\n%s", budget,
                plan.table().c_str());
  using layer_fn = std::function<row_matrix(const row_matrix&, const output_float&)>;
  std::vector<layer_fn> fns;
  double bytes = bias_bytes(m);
  row_matrix hq = d.train_x.topRows(2048);  // GPTQ's inputs: the outputs of the layers already quantized
  for (std::size_t l = 0; l < m.layers(); ++l) {
    const weight_choice& c = plan.layers[l].choice();
    const auto add = [&](auto q) {
      using F = typename decltype(q)::format;
      std::shared_ptr<lowbit_linear<F>> layer;
      if (with_gptq) {
        hessian_observer o(m.w[l].cols());
        o.observe(hq);
        gptq_options go;
        go.act_order = true;
        go.static_groups = true;
        go.half_scales = true;
        layer = std::make_shared<lowbit_linear<F>>(packed_lowbit_weights<F>(gptq(q, m.w[l], o, go), m.b[l]));
      } else {
        layer = std::make_shared<lowbit_linear<F>>(m.w[l], q, m.b[l]);
      }
      bytes += static_cast<double>(layer->weights().payload_bytes());
      fns.push_back([layer, ctx](const row_matrix& x, const output_float& st) { return layer->forward(x, st, ctx); });
    };
    with_weight_format<8, 4, 2>(c.bits, c.affine, [&](auto format, auto scheme) {
      using F = decltype(format);
      using S = decltype(scheme);
      if (c.group > 0) return add(quantizer<F, S, per_group>(per_group(1, c.group)));
      return add(quantizer<F, S, per_channel>(per_channel(0)));
    });
    if (with_gptq && l + 1 < m.layers()) hq = fns.back()(hq, output_float{}.relu());
  }
  const auto f = [&](const row_matrix& x, row_matrix& out) {
    row_matrix hh = x;
    for (std::size_t l = 0; l < fns.size(); ++l) {
      out = fns[l](hh, l + 1 < fns.size() ? output_float{}.relu() : output_float{});
      if (l + 1 < fns.size()) hh.swap(out);
    }
  };
  char name[96];
  std::snprintf(name, sizeof name, with_gptq ? "mixed precision + GPTQ, %.1f bits" : "mixed precision, plan for %.1f bits", budget);
  return {name, accuracy_of(d.test_x, d.test_y, f), bytes, time_test_set(d.test_x, f)};
}

// --- quantization-aware training: LSQ on the weights, per output channel (demo/qat.hpp) -----------

bool load_scales(const std::string& path, std::vector<std::vector<float>>& scales) {
  std::ifstream in(path, std::ios::binary);
  std::uint32_t layers = 0;
  if (!in.read(reinterpret_cast<char*>(&layers), 4)) return false;
  scales.assign(layers, {});
  for (auto& s : scales) {
    std::uint32_t n = 0;
    if (!in.read(reinterpret_cast<char*>(&n), 4)) return false;
    s.resize(n);
    if (!in.read(reinterpret_cast<char*>(s.data()), static_cast<std::streamsize>(4 * n))) return false;
  }
  return true;
}

void save_scales(const std::string& path, const std::vector<std::vector<float>>& scales) {
  std::ofstream out(path, std::ios::binary);
  const auto layers = static_cast<std::uint32_t>(scales.size());
  out.write(reinterpret_cast<const char*>(&layers), 4);
  for (const auto& s : scales) {
    const auto n = static_cast<std::uint32_t>(s.size());
    out.write(reinterpret_cast<const char*>(&n), 4);
    out.write(reinterpret_cast<const char*>(s.data()), static_cast<std::streamsize>(4 * n));
  }
}

/// Fine-tunes a copy of the float model with LSQ fake quantization of the weights (the scales are
/// learned too), then quantizes the fine-tuned weights with the learned scales into sub-byte
/// layers (the biases moved during QAT too). `bytes` gets their storage size.
template <class F>
std::vector<lowbit::lowbit_linear<F>> qat(const demo::mlp& fp32, const demo::dataset& d, const std::string& cache,
                                         double& bytes) {
  demo::mlp net = fp32;
  const std::string path = cache + "/fashion_mnist_qat_" + F::name + ".bin";
  std::vector<std::vector<float>> scales;
  const auto scales_fit = [&] {
    if (scales.size() != net.layers()) return false;
    for (std::size_t l = 0; l < net.layers(); ++l)
      if (static_cast<Eigen::Index>(scales[l].size()) != net.w[l].rows()) return false;
    return true;
  };
  if (!net.load(path, sizes) || !load_scales(path + ".scales", scales) || !scales_fit()) {
    net = fp32;
    demo::lsq_weight_hook<F> hook(net);
    demo::train_options opt;
    opt.epochs = qat_epochs;
    opt.learning_rate = 0.01f;
    opt.seed = seed + 1;
    demo::train(net, d.train_x, d.train_y, opt, &hook, demo::progress_bar(std::string("QAT ") + F::name, opt.epochs));
    scales.clear();
    for (const auto& l : hook.layers) scales.push_back(l.scale);
    net.save(path);
    save_scales(path + ".scales", scales);
  }
  bytes = bias_bytes(net);
  const lowbit::quantizer<F, lowbit::symmetric, lowbit::per_channel> q(lowbit::per_channel(0));
  std::vector<lowbit::lowbit_linear<F>> layers;
  for (std::size_t l = 0; l < net.layers(); ++l) {
    for (float& s : scales[l]) s = std::max(s, lowbit::scale_eps);  // as the LSQ forward clamps it
    // The packed weights keep fp16 scales: quantize with the learned scales rounded to fp16.
    const lowbit::qparams p = lowbit::half_scales(lowbit::qparams(scales[l], std::vector<std::int32_t>(scales[l].size(), 0)));
    layers.emplace_back(lowbit::packed_lowbit_weights<F>(q.quantize(net.w[l], p), net.b[l]));
    bytes += static_cast<double>(layers.back().weights().payload_bytes());
  }
  return layers;
}

// --- int8 static PTQ: calibrated uint8 activations between layers ------------------------------

template <class Calibrator>
struct static_model {
  std::vector<lowbit::static_linear<>> layers;
  std::vector<lowbit::qparams> inputs;
  double bytes = 0;

  static_model(const demo::mlp& m, const row_matrix& calibration) {
    using calib = lowbit::static_calibration<lowbit::quantizer<lowbit::uint8, lowbit::affine>,
                                             lowbit::histogram_observer<>, Calibrator>;
    calib c;
    for (std::size_t l = 0; l < m.layers(); ++l) c.add("layer" + std::to_string(l));
    row_matrix h = calibration;  // float activations of the float model
    for (std::size_t l = 0; l < m.layers(); ++l) {
      c.observe("layer" + std::to_string(l), h);
      row_matrix z = h * m.w[l].transpose();
      z.rowwise() += m.b[l];
      h = l + 1 < m.layers() ? row_matrix(z.cwiseMax(0.0f)) : z;
    }
    c.freeze();
    bytes = bias_bytes(m);
    for (std::size_t l = 0; l < m.layers(); ++l) {
      const lowbit::qparams& p = c.qparams("layer" + std::to_string(l));
      inputs.push_back(p);
      layers.emplace_back(m.w[l], m.b[l], p);
      bytes += static_cast<double>(layers.back().weights().payload_bytes());
    }
  }

  void forward(const row_matrix& x, row_matrix& out, const lowbit::context& ctx) const {
    // uint8 in, ReLU, uint8 out for the next layer: each layer's output is the next one's input.
    auto h = layers[0].quantize_input(x, ctx);
    for (std::size_t l = 0; l + 1 < layers.size(); ++l) {
      const lowbit::qparams& next = inputs[l + 1];
      h = layers[l].forward(h, lowbit::output_float{}.relu().requantize<lowbit::uint8>(next.scale[0], next.zero_point[0]), ctx);
    }
    out = layers.back().forward(h, {}, ctx);
  }
};

template <class Calibrator>
result static_row(const char* name, const demo::mlp& m, const demo::dataset& d, const lowbit::context& ctx) {
  static_model<Calibrator> s(m, d.train_x.topRows(2048));
  const auto f = [&](const row_matrix& x, row_matrix& out) { s.forward(x, out, ctx); };
  return {name, accuracy_of(d.test_x, d.test_y, f), s.bytes, time_test_set(d.test_x, f)};
}

template <class WeightQuantizer>
result dynamic_row(const char* name, const demo::mlp& m, const demo::dataset& d, const lowbit::context& ctx) {
  std::vector<lowbit::dynamic_linear<WeightQuantizer>> layers;
  double bytes = bias_bytes(m);
  for (std::size_t l = 0; l < m.layers(); ++l) {
    layers.emplace_back(m.w[l], m.b[l]);
    bytes += static_cast<double>(layers.back().weights().payload_bytes());
  }
  return layers_row(name, layers, bytes, d, ctx);
}

result float_row(const char* name, const demo::mlp& m, const std::vector<row_matrix>& weights, double bytes,
                 const demo::dataset& d) {
  const auto f = [&](const row_matrix& x, row_matrix& out) { out = m.logits(x, &weights); };
  return {name, accuracy_of(d.test_x, d.test_y, f), bytes, time_test_set(d.test_x, f)};
}

#if LOWBIT_PEER_OPENBLAS
/// The float model on OpenBLAS's sgemm (1 thread): the fastest fp32 a user of this machine has.
result openblas_row(const char* name, const demo::mlp& m, double bytes, const demo::dataset& d) {
  openblas_set_num_threads(1);
  const auto f = [&](const row_matrix& x, row_matrix& out) {
    row_matrix h = x;
    for (std::size_t l = 0; l < m.layers(); ++l) {
      const auto n = static_cast<int>(m.w[l].rows()), k = static_cast<int>(m.w[l].cols()), rows = static_cast<int>(h.rows());
      out.resize(h.rows(), n);
      for (int r = 0; r < rows; ++r) out.row(r) = m.b[l];
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n, k, 1.0f, h.data(), k, m.w[l].data(), k, 1.0f,
                  out.data(), n);
      if (l + 1 < m.layers()) {
        out = out.cwiseMax(0.0f);
        h.swap(out);
      }
    }
  };
  return {name, accuracy_of(d.test_x, d.test_y, f), bytes, time_test_set(d.test_x, f)};
}
#endif

std::string cache_dir(const char* argv0) {
  if (const char* env = std::getenv("LOWBIT_DEMO_CACHE")) return env;
  std::string self = argv0;
  const auto slash = self.find_last_of('/');
  return slash == std::string::npos ? "." : self.substr(0, slash);
}

}  // namespace

int main(int argc, char** argv) {
  demo::dataset d;
  try {
    d = demo::load_fashion_mnist(argc > 1 ? argv[1] : demo::default_dataset_dir);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fashion_mnist: %s\n", e.what());
    return 2;
  }
  const std::string cache = cache_dir(argv[0]);
  g_cache = cache;
  std::printf("Fashion-MNIST: %lld training and %lld test images; lowbit path %s\n",
              static_cast<long long>(d.train_x.rows()), static_cast<long long>(d.test_x.rows()),
              lowbit::active_path_name().c_str());

  demo::mlp fp32;
  const std::string model_path = cache + "/fashion_mnist_fp32.bin";
  if (fp32.load(model_path, sizes)) {
    std::printf("float model loaded from %s\n", model_path.c_str());
  } else {
    fp32 = demo::mlp::create(sizes, seed);
    demo::train_options opt;
    opt.epochs = fp32_epochs;
    opt.seed = seed;
    demo::train(fp32, d.train_x, d.train_y, opt, nullptr, demo::progress_bar("float 784-256-128-10", opt.epochs));
    fp32.save(model_path);
  }

  const lowbit::context one = lowbit::context{}.with_threads(1);  // every row on one thread, like Eigen here
  std::vector<result> rows;
  const double fp32_bytes = 4.0 * static_cast<double>(fp32.parameters());
#if LOWBIT_PEER_OPENBLAS
  rows.push_back(openblas_row("fp32 (OpenBLAS sgemm)", fp32, fp32_bytes, d));
#endif
  rows.push_back(float_row("fp32 (Eigen, " LOWBIT_DEMO_EIGEN_ISA ")", fp32, fp32.w, fp32_bytes, d));
  rows.push_back(dynamic_row<lowbit::quantizer<lowbit::int8, lowbit::symmetric>>("int8 dynamic PTQ, per-tensor weights", fp32, d, one));
  rows.push_back(dynamic_row<lowbit::quantizer<lowbit::int8, lowbit::symmetric, lowbit::per_channel>>(
      "int8 dynamic PTQ, per-channel weights", fp32, d, one));
  rows.push_back(static_row<lowbit::minmax_calibrator>("int8 static PTQ, min/max", fp32, d, one));
  rows.push_back(static_row<lowbit::percentile_calibrator>("int8 static PTQ, percentile 99.99", fp32, d, one));
  rows.push_back(static_row<lowbit::entropy_calibrator>("int8 static PTQ, entropy", fp32, d, one));
  rows.push_back(static_row<lowbit::mse_calibrator>("int8 static PTQ, MSE", fp32, d, one));
  rows.push_back(static_row<lowbit::l2_search_calibrator>("int8 static PTQ, L2 (PyTorch)", fp32, d, one));
  {
    using namespace lowbit;
    rows.push_back(rtn_row("int4 weights RTN, per-channel", fp32, quantizer<int4, symmetric, per_channel>(per_channel(0)), d, one));
    rows.push_back(rtn_row("int4 weights RTN, per-group 32", fp32, quantizer<int4, affine, per_group>(per_group(1, 32)), d, one));
    rows.push_back(rtn_row("int3 weights RTN, per-channel", fp32, quantizer<int3, symmetric, per_channel>(per_channel(0)), d, one));
    rows.push_back(rtn_row("int2 weights RTN, per-channel", fp32, quantizer<int2, symmetric, per_channel>(per_channel(0)), d, one));
    rows.push_back(rtn_row("int2 weights RTN, per-group 32", fp32, quantizer<int2, affine, per_group>(per_group(1, 32)), d, one));
    rows.push_back(gptq_row("int4 weights GPTQ, per-channel", fp32, quantizer<int4, symmetric, per_channel>(per_channel(0)), d, one));
    rows.push_back(gptq_row("int4 weights GPTQ, per-group 32", fp32, quantizer<int4, affine, per_group>(per_group(1, 32)), d, one));
    rows.push_back(gptq_row("int3 weights GPTQ, per-channel", fp32, quantizer<int3, symmetric, per_channel>(per_channel(0)), d, one));
    rows.push_back(gptq_row("int2 weights GPTQ, per-channel", fp32, quantizer<int2, symmetric, per_channel>(per_channel(0)), d, one));
    rows.push_back(gptq_row("int2 weights GPTQ, per-group 32", fp32, quantizer<int2, affine, per_group>(per_group(1, 32)), d, one));
    rows.push_back(float4_row("NF4 weights, block 64 (float compute)", fp32, float4_kind::nf4, false, d, one));
    rows.push_back(float4_row("NF4 + double quant (float compute)", fp32, float4_kind::nf4, true, d, one));
    rows.push_back(float4_row("FP4 weights, block 64 (float compute)", fp32, float4_kind::fp4, false, d, one));
    rows.push_back(mixed_row(fp32, 3.0, false, d, one));
    rows.push_back(mixed_row(fp32, 3.0, true, d, one));
    double bytes = 0;
    const auto q4 = qat<int4>(fp32, d, cache, bytes);
    rows.push_back(layers_row("int4 weights QAT (LSQ), per-channel", q4, bytes, d, one));
    save_and_reload("int4 weights QAT (LSQ), per-channel", q4, d, one);
    const auto q2 = qat<int2>(fp32, d, cache, bytes);
    rows.push_back(layers_row("int2 weights QAT (LSQ), per-channel", q2, bytes, d, one));
  }

  const result& base = rows.front();
  double int8_seconds = 0;  // the int8 dynamic layer with per-channel weights: the speed-up of low-bit over int8
  for (const result& r : rows)
    if (r.method == "int8 dynamic PTQ, per-channel weights") int8_seconds = r.seconds;
  std::string md = "| method | accuracy | retention | weight bytes | compression | test-set time | speed-up | vs int8 |\n"
                   "|---|---:|---:|---:|---:|---:|---:|---:|\n";
  std::string csv = "method,accuracy,retention,weight_bytes,compression,seconds,speedup,vs_int8\n";
  std::printf("\n%-38s %9s %10s %13s %12s %11s %9s %8s\n", "method", "accuracy", "retention", "weight bytes", "compression",
              "time (s)", "speed-up", "vs int8");
  for (const result& r : rows) {
    const double retention = r.accuracy / base.accuracy * 100.0, ratio = base.weight_bytes / r.weight_bytes,
                 speedup = base.seconds / r.seconds, vs_int8 = int8_seconds / r.seconds;
    std::printf("%-38s %8.2f%% %9.2f%% %13.0f %11.2fx %11.4f %8.2fx %7.2fx\n", r.method.c_str(), r.accuracy * 100, retention,
                r.weight_bytes, ratio, r.seconds, speedup, vs_int8);
    char line[512];
    std::snprintf(line, sizeof line, "| %s | %.2f %% | %.2f %% | %.0f | %.2fx | %.4f s | %.2fx | %.2fx |\n", r.method.c_str(),
                  r.accuracy * 100, retention, r.weight_bytes, ratio, r.seconds, speedup, vs_int8);
    md += line;
    std::snprintf(line, sizeof line, "%s,%.4f,%.4f,%.0f,%.3f,%.5f,%.3f,%.3f\n", r.method.c_str(), r.accuracy, retention / 100,
                  r.weight_bytes, ratio, r.seconds, speedup, vs_int8);
    csv += line;
  }
  std::printf("\n(test set: %lld images at batch %d, 1 thread; speed-up against the first row; int4 / int2 rows "
              "compute on lowbit's sub-byte kernels with int8 activations quantized per row)\n",
              static_cast<long long>(d.test_x.rows()), batch);
  std::printf("\nsaved and reloaded (lowbit::safetensors):\n");
  for (const std::string& line : g_saved) std::printf("  %s\n", line.c_str());
  std::ofstream(cache + "/fashion_mnist_results.md") << md;
  std::ofstream(cache + "/fashion_mnist_results.csv") << csv;
  std::printf("table written to %s/fashion_mnist_results.{md,csv}\n", cache.c_str());
  if (!g_reload_ok) std::fprintf(stderr, "fashion_mnist: a reloaded model computes differently\n");
  return g_reload_ok ? 0 : 1;
}
