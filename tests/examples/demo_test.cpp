// The demo's pieces: the IDX loader on good, truncated and corrupt files, and a small deterministic
// training run on real Fashion-MNIST in which QAT int2 must beat round-to-nearest int2.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "demo/idx.hpp"
#include "demo/mlp.hpp"
#include "demo/qat.hpp"
#include "lowbit/lowbit.hpp"
#include "support/errors.hpp"

namespace {

using lowbit::row_matrix;
using lowbit_test::error_of;

std::string temp_path(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/lowbit_demo_test_" + name;
}

void write_gzip(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(f);
}

std::vector<std::uint8_t> idx_images(std::uint32_t count, std::uint32_t rows, std::uint32_t cols, std::size_t pixels) {
  std::vector<std::uint8_t> b = {0, 0, 8, 3};
  for (std::uint32_t v : {count, rows, cols})
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<std::uint8_t>(v >> s));
  for (std::size_t i = 0; i < pixels; ++i) b.push_back(static_cast<std::uint8_t>(i * 7));
  return b;
}

TEST(idx_loader, reads_a_valid_file) {
  const std::string p = temp_path("ok.gz");
  write_gzip(p, idx_images(3, 2, 2, 12));
  const row_matrix x = demo::parse_images(demo::read_gzip(p), "ok");
  EXPECT_EQ(x.rows(), 3);
  EXPECT_EQ(x.cols(), 4);
  EXPECT_FLOAT_EQ(x(1, 0), static_cast<float>(4 * 7) / 255.f);
  std::remove(p.c_str());
}

TEST(idx_loader, truncated_and_corrupt_files_are_clear_errors) {
  // Missing: names the Debian package.
  EXPECT_NE(error_of([] { demo::read_gzip(temp_path("missing.gz")); }).find("dataset-fashion-mnist"), std::string::npos);
  // Header counts that do not match the data.
  const std::string short_data = temp_path("short.gz");
  write_gzip(short_data, idx_images(3, 2, 2, 10));
  EXPECT_NE(error_of([&] { demo::parse_images(demo::read_gzip(short_data), "short"); }).find("truncated"), std::string::npos);
  // Not an IDX file.
  const std::string wrong = temp_path("wrong.gz");
  write_gzip(wrong, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
  EXPECT_NE(error_of([&] { demo::parse_images(demo::read_gzip(wrong), "wrong"); }).find("bad header"), std::string::npos);
  EXPECT_NE(error_of([&] { demo::parse_labels(demo::read_gzip(wrong), "wrong"); }).find("bad header"), std::string::npos);
  // A gzip stream cut in the middle.
  const std::string full = temp_path("full.gz"), cut = temp_path("cut.gz");
  write_gzip(full, idx_images(50, 28, 28, 50 * 28 * 28));
  {
    std::ifstream in(full, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(cut, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size() / 2));
  }
  EXPECT_NE(error_of([&] { demo::parse_images(demo::read_gzip(cut), "cut"); }), "(no error)");
  // Garbage after a valid gzip magic.
  const std::string garbage = temp_path("garbage.gz");
  std::ofstream(garbage, std::ios::binary) << std::string("\x1f\x8b\x08\x00", 4) << std::string(200, '\x5a');
  EXPECT_NE(error_of([&] { demo::read_gzip(garbage); }).find("corrupt"), std::string::npos);
  // A label outside 0-9.
  const std::string labels = temp_path("labels.gz");
  write_gzip(labels, {0, 0, 8, 1, 0, 0, 0, 2, 3, 12});
  EXPECT_NE(error_of([&] { demo::parse_labels(demo::read_gzip(labels), "labels"); }).find("not a class"), std::string::npos);
  for (const std::string& f : {short_data, wrong, full, cut, garbage, labels}) std::remove(f.c_str());
}

// The float model, RTN int2 and QAT int2 on a few hundred real images, deterministically.
TEST(demo_training, qat_int2_beats_round_to_nearest_int2) {
  demo::dataset d;
  ASSERT_NO_THROW(d = demo::load_fashion_mnist()) << "install dataset-fashion-mnist (the README's test command does)";
  const row_matrix test_x = d.test_x.topRows(1000);
  const std::vector<int> test_y(d.test_y.begin(), d.test_y.begin() + 1000);
  const std::vector<int> sizes = {784, 64, 10};
  demo::mlp net = demo::mlp::create(sizes, 7);
  demo::train_options opt;
  opt.epochs = 8;
  opt.limit = 600;
  opt.seed = 7;
  demo::train(net, d.train_x, d.train_y, opt);
  const double fp32 = demo::accuracy(net.logits(test_x), test_y);
  EXPECT_GT(fp32, 0.65) << "a few hundred images train far above chance (0.10)";
  // Deterministic: the same seed gives the same model.
  demo::mlp again = demo::mlp::create(sizes, 7);
  demo::train(again, d.train_x, d.train_y, opt);
  EXPECT_EQ(again.w[0], net.w[0]);

  using Q = lowbit::quantizer<lowbit::int2, lowbit::symmetric, lowbit::per_channel>;
  const Q q(lowbit::per_channel(0));
  std::vector<row_matrix> rtn;
  for (const row_matrix& w : net.w) rtn.push_back(q.quantize(w).dequantize());
  const double rtn_acc = demo::accuracy(net.logits(test_x, &rtn), test_y);

  // QAT: LSQ per channel, scales initialized from the weight search, a short fine-tune.
  demo::mlp qnet = net;
  demo::lsq_weight_hook<lowbit::int2> h(qnet);
  demo::train_options fine = opt;
  fine.epochs = 6;
  fine.learning_rate = 0.02f;
  demo::train(qnet, d.train_x, d.train_y, fine, &h);
  std::vector<row_matrix> qat;
  for (std::size_t l = 0; l < qnet.layers(); ++l) {
    const lowbit::qparams p(h.layers[l].scale, std::vector<std::int32_t>(h.layers[l].scale.size(), 0));
    qat.push_back(q.quantize(qnet.w[l], p).dequantize());
  }
  const double qat_acc = demo::accuracy(qnet.logits(test_x, &qat), test_y);
  // The fine-tuning itself must help, not only the weight search the scales start from.
  std::vector<row_matrix> searched;
  for (const row_matrix& w : net.w) {
    searched.push_back(q.quantize(w, lowbit::calibrate(q, w, lowbit::weight_search{})).dequantize());
  }
  const double search_acc = demo::accuracy(net.logits(test_x, &searched), test_y);
  std::printf("[ lowbit  ] fp32 %.3f, RTN int2 %.3f, weight-search int2 %.3f, QAT int2 %.3f\n", fp32, rtn_acc,
              search_acc, qat_acc);
  EXPECT_GT(qat_acc, rtn_acc + 0.02);
  EXPECT_GT(qat_acc, search_acc + 0.01);

  // GPTQ (issue 11) on 512 training images, layer by layer on the quantized layers' outputs: on
  // real data it must beat round to nearest clearly, with no training at all.
  std::vector<row_matrix> gq;
  row_matrix hin = d.train_x.topRows(512);
  for (std::size_t l = 0; l < net.layers(); ++l) {
    lowbit::hessian_observer obs(net.w[l].cols());
    obs.observe(hin);
    lowbit::gptq_options o;
    o.act_order = true;
    gq.push_back(lowbit::gptq(q, net.w[l], obs, o).dequantize());
    row_matrix z = hin * gq.back().transpose();
    z.rowwise() += net.b[l];
    hin = z.cwiseMax(0.0f);
  }
  const double gptq_acc = demo::accuracy(net.logits(test_x, &gq), test_y);
  std::printf("[ lowbit  ] GPTQ int2 %.3f\n", gptq_acc);
  EXPECT_GT(gptq_acc, rtn_acc + 0.02);
}

}  // namespace
