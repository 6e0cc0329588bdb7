// examples/demo/mlp.hpp: a small multilayer perceptron trained with Eigen (the demo's float model).
//
// Layers [out, in] with ReLU between them, softmax cross-entropy, SGD with momentum and a cosine
// learning rate, mini-batches drawn in a seeded order: the same seed gives the same model. A
// weight_hook lets quantization-aware training replace each weight by its fake-quantized version
// in the forward pass and route the gradient back (straight-through) in the backward pass.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

#include "lowbit/lowbit.hpp"

namespace demo {

using lowbit::row_matrix;

struct mlp {
  std::vector<row_matrix> w;             ///< w[l]: [out, in]
  std::vector<Eigen::RowVectorXf> b;     ///< b[l]: out values

  static mlp create(const std::vector<int>& sizes, std::uint64_t seed) {
    mlp m;
    std::mt19937_64 gen(seed);
    for (std::size_t l = 0; l + 1 < sizes.size(); ++l) {
      std::normal_distribution<float> he(0.f, std::sqrt(2.0f / static_cast<float>(sizes[l])));
      row_matrix w(sizes[l + 1], sizes[l]);
      for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = he(gen);
      m.w.push_back(std::move(w));
      m.b.push_back(Eigen::RowVectorXf::Zero(sizes[l + 1]));
    }
    return m;
  }

  std::size_t layers() const { return w.size(); }
  std::size_t parameters() const {
    std::size_t n = 0;
    for (std::size_t l = 0; l < w.size(); ++l) n += static_cast<std::size_t>(w[l].size() + b[l].size());
    return n;
  }

  /// Logits with the given weights (defaults to the model's own).
  row_matrix logits(const row_matrix& x, const std::vector<row_matrix>* weights = nullptr) const {
    const std::vector<row_matrix>& ws = weights ? *weights : w;
    row_matrix h = x;
    for (std::size_t l = 0; l < ws.size(); ++l) {
      row_matrix z = h * ws[l].transpose();
      z.rowwise() += b[l];
      if (l + 1 < ws.size()) z = z.cwiseMax(0.0f);
      h = std::move(z);
    }
    return h;
  }

  void save(const std::string& path) const {
    std::ofstream out(path, std::ios::binary);
    const auto n = static_cast<std::uint32_t>(w.size());
    out.write(reinterpret_cast<const char*>(&n), 4);
    for (std::size_t l = 0; l < w.size(); ++l) {
      const std::uint32_t r = static_cast<std::uint32_t>(w[l].rows()), c = static_cast<std::uint32_t>(w[l].cols());
      out.write(reinterpret_cast<const char*>(&r), 4);
      out.write(reinterpret_cast<const char*>(&c), 4);
      out.write(reinterpret_cast<const char*>(w[l].data()), static_cast<std::streamsize>(4 * w[l].size()));
      out.write(reinterpret_cast<const char*>(b[l].data()), static_cast<std::streamsize>(4 * b[l].size()));
    }
  }

  /// Loads a model saved with save(); false if the file is absent or does not fit `sizes`.
  bool load(const std::string& path, const std::vector<int>& sizes) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::uint32_t n = 0;
    in.read(reinterpret_cast<char*>(&n), 4);
    if (!in || n + 1 != sizes.size()) return false;
    mlp m;
    for (std::uint32_t l = 0; l < n; ++l) {
      std::uint32_t r = 0, c = 0;
      in.read(reinterpret_cast<char*>(&r), 4);
      in.read(reinterpret_cast<char*>(&c), 4);
      if (!in || static_cast<int>(r) != sizes[l + 1] || static_cast<int>(c) != sizes[l]) return false;
      row_matrix wl(r, c);
      Eigen::RowVectorXf bl(r);
      in.read(reinterpret_cast<char*>(wl.data()), static_cast<std::streamsize>(4 * wl.size()));
      in.read(reinterpret_cast<char*>(bl.data()), static_cast<std::streamsize>(4 * bl.size()));
      if (!in) return false;
      m.w.push_back(std::move(wl));
      m.b.push_back(std::move(bl));
    }
    *this = std::move(m);
    return true;
  }
};

inline double accuracy(const row_matrix& logits, const std::vector<int>& labels, std::size_t offset = 0) {
  std::size_t right = 0;
  for (Eigen::Index i = 0; i < logits.rows(); ++i) {
    Eigen::Index best = 0;
    logits.row(i).maxCoeff(&best);
    right += static_cast<int>(best) == labels[offset + static_cast<std::size_t>(i)];
  }
  return static_cast<double>(right) / static_cast<double>(logits.rows());
}

/// Replaces weights in the forward pass and maps their gradients back (QAT); optional.
struct weight_hook {
  virtual ~weight_hook() = default;
  virtual row_matrix forward(std::size_t layer, const row_matrix& w) = 0;
  virtual row_matrix backward(std::size_t layer, const row_matrix& grad) = 0;
  /// Called after every optimizer step with the step's learning rate (to update its own parameters).
  virtual void step(float learning_rate) { (void)learning_rate; }
};

struct train_options {
  int epochs = 6;
  int batch = 128;
  float learning_rate = 0.05f;
  float momentum = 0.9f;
  std::uint64_t seed = 1;
  std::size_t limit = 0;  ///< train on the first `limit` samples only (0: all)
};

/// Trains in place. `progress(epoch, fraction, loss)` is called now and then.
inline void train(mlp& net, const row_matrix& x, const std::vector<int>& y, const train_options& opt,
                  weight_hook* hook = nullptr,
                  const std::function<void(int, double, double)>& progress = {}) {
  const std::size_t n = opt.limit ? std::min<std::size_t>(opt.limit, static_cast<std::size_t>(x.rows()))
                                  : static_cast<std::size_t>(x.rows());
  const std::size_t layers = net.layers();
  std::vector<row_matrix> vw(layers);
  std::vector<Eigen::RowVectorXf> vb(layers);
  for (std::size_t l = 0; l < layers; ++l) {
    vw[l] = row_matrix::Zero(net.w[l].rows(), net.w[l].cols());
    vb[l] = Eigen::RowVectorXf::Zero(net.b[l].size());
  }
  std::mt19937_64 gen(opt.seed);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  const std::size_t steps_per_epoch = (n + static_cast<std::size_t>(opt.batch) - 1) / static_cast<std::size_t>(opt.batch);
  const double total_steps = static_cast<double>(steps_per_epoch) * opt.epochs;
  std::size_t step = 0;
  std::vector<row_matrix> used(layers), z(layers), h(layers + 1);
  for (int epoch = 0; epoch < opt.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), gen);
    double loss_sum = 0;
    for (std::size_t s = 0; s < steps_per_epoch; ++s, ++step) {
      const std::size_t begin = s * static_cast<std::size_t>(opt.batch);
      const std::size_t count = std::min<std::size_t>(static_cast<std::size_t>(opt.batch), n - begin);
      h[0].resize(static_cast<Eigen::Index>(count), x.cols());
      for (std::size_t i = 0; i < count; ++i) h[0].row(static_cast<Eigen::Index>(i)) = x.row(static_cast<Eigen::Index>(order[begin + i]));
      for (std::size_t l = 0; l < layers; ++l) {
        used[l] = hook ? hook->forward(l, net.w[l]) : net.w[l];
        z[l] = h[l] * used[l].transpose();
        z[l].rowwise() += net.b[l];
        h[l + 1] = l + 1 < layers ? row_matrix(z[l].cwiseMax(0.0f)) : z[l];
      }
      // Softmax cross-entropy.
      row_matrix dz = h[layers];
      for (Eigen::Index i = 0; i < dz.rows(); ++i) {
        const float mx = dz.row(i).maxCoeff();
        dz.row(i) = (dz.row(i).array() - mx).exp().matrix();
        const float sum = dz.row(i).sum();
        dz.row(i) /= sum;
        const int label = y[order[begin + static_cast<std::size_t>(i)]];
        loss_sum -= std::log(std::max(dz(i, label), 1e-12f));
        dz(i, label) -= 1.0f;
      }
      dz /= static_cast<float>(count);
      const float lr = static_cast<float>(opt.learning_rate * 0.5 * (1.0 + std::cos(3.14159265358979 * static_cast<double>(step) / total_steps)));
      for (std::size_t l = layers; l-- > 0;) {
        row_matrix dw = dz.transpose() * h[l];
        const Eigen::RowVectorXf db = dz.colwise().sum();
        if (l > 0) {
          row_matrix dh = dz * used[l];
          dz = (z[l - 1].array() > 0.0f).select(dh, 0.0f);
        }
        if (hook) dw = hook->backward(l, dw);
        vw[l] = opt.momentum * vw[l] + dw;
        vb[l] = opt.momentum * vb[l] + db;
        net.w[l] -= lr * vw[l];
        net.b[l] -= lr * vb[l];
      }
      if (hook) hook->step(lr);
      if (progress && (s % 25 == 0 || s + 1 == steps_per_epoch))
        progress(epoch, static_cast<double>(s + 1) / static_cast<double>(steps_per_epoch),
                 loss_sum / static_cast<double>(begin + count));
    }
  }
}

/// A one-line progress bar on stderr: "epoch 2/6 [#########.........] loss 0.412", redrawn in
/// place on a terminal; when stderr is a file or a pipe, one line per finished epoch.
inline std::function<void(int, double, double)> progress_bar(const std::string& label, int epochs) {
  const bool terminal = isatty(fileno(stderr)) != 0;
  return [label, epochs, terminal](int epoch, double fraction, double loss) {
    if (!terminal && fraction < 1.0) return;
    const int width = 30, filled = static_cast<int>(fraction * width);
    std::fprintf(stderr, "%s%s epoch %d/%d [%s%s] loss %.3f", terminal ? "\r" : "", label.c_str(), epoch + 1, epochs,
                 std::string(static_cast<std::size_t>(filled), '#').c_str(),
                 std::string(static_cast<std::size_t>(width - filled), '.').c_str(), loss);
    if (!terminal || (fraction >= 1.0 && epoch + 1 == epochs)) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  };
}

}  // namespace demo
