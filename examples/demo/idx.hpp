// examples/demo/idx.hpp: reads MNIST-style gzip IDX files (Fashion-MNIST from Debian's dataset-fashion-mnist).
//
// IDX: a big-endian header (magic 0x00000801 for labels, 0x00000803 for images; then the counts
// and dimensions) followed by unsigned bytes. Every failure is a std::runtime_error that says what
// is wrong and, for missing files, which Debian package provides them.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "lowbit/lowbit.hpp"

namespace demo {

inline const char* dataset_package = "dataset-fashion-mnist";
inline const char* default_dataset_dir = "/usr/share/datasets/fashion-mnist";

/// The whole decompressed content of a gzip file.
inline std::vector<std::uint8_t> read_gzip(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr)
    throw std::runtime_error("cannot open " + path + ": install the Debian package " + dataset_package +
                             " (apt-get install " + dataset_package + ")");
  std::vector<std::uint8_t> out;
  std::uint8_t chunk[1 << 16];
  for (;;) {
    const int n = gzread(f, chunk, sizeof chunk);
    if (n < 0) {
      int code = 0;
      const std::string message = gzerror(f, &code);
      gzclose(f);
      throw std::runtime_error(path + " is corrupt (" + message + "); reinstall " + dataset_package);
    }
    if (n == 0) break;
    out.insert(out.end(), chunk, chunk + n);
  }
  int code = 0;
  const std::string message = gzerror(f, &code);
  gzclose(f);
  if (code != Z_OK && code != Z_STREAM_END)
    throw std::runtime_error(path + " is corrupt or truncated (" + message + "); reinstall " + dataset_package);
  return out;
}

inline std::uint32_t big_endian(const std::vector<std::uint8_t>& b, std::size_t at) {
  return (std::uint32_t{b[at]} << 24) | (std::uint32_t{b[at + 1]} << 16) | (std::uint32_t{b[at + 2]} << 8) | b[at + 3];
}

/// Images as rows of pixels scaled to [0, 1].
inline lowbit::row_matrix parse_images(const std::vector<std::uint8_t>& b, const std::string& name) {
  if (b.size() < 16 || big_endian(b, 0) != 0x00000803u)
    throw std::runtime_error(name + " is not an IDX image file (bad header)");
  const std::uint32_t count = big_endian(b, 4), rows = big_endian(b, 8), cols = big_endian(b, 12);
  const std::size_t pixels = static_cast<std::size_t>(count) * rows * cols;
  if (rows == 0 || cols == 0 || b.size() != 16 + pixels)
    throw std::runtime_error(name + " is truncated or has trailing data: header says " + std::to_string(count) + " images of " +
                             std::to_string(rows) + "x" + std::to_string(cols) + ", file has " + std::to_string(b.size() - 16) +
                             " pixel bytes");
  lowbit::row_matrix x(count, static_cast<Eigen::Index>(rows * cols));
  for (std::size_t i = 0; i < pixels; ++i) x.data()[i] = static_cast<float>(b[16 + i]) / 255.0f;
  return x;
}

inline std::vector<int> parse_labels(const std::vector<std::uint8_t>& b, const std::string& name) {
  if (b.size() < 8 || big_endian(b, 0) != 0x00000801u)
    throw std::runtime_error(name + " is not an IDX label file (bad header)");
  const std::uint32_t count = big_endian(b, 4);
  if (b.size() != 8 + static_cast<std::size_t>(count))
    throw std::runtime_error(name + " is truncated or has trailing data: header says " + std::to_string(count) +
                             " labels, file has " + std::to_string(b.size() - 8));
  std::vector<int> y(count);
  for (std::uint32_t i = 0; i < count; ++i) {
    y[i] = b[8 + i];
    if (y[i] > 9) throw std::runtime_error(name + ": label " + std::to_string(y[i]) + " at " + std::to_string(i) + " is not a class 0-9");
  }
  return y;
}

struct dataset {
  lowbit::row_matrix train_x, test_x;
  std::vector<int> train_y, test_y;
};

inline dataset load_fashion_mnist(const std::string& dir = default_dataset_dir) {
  dataset d;
  const auto path = [&](const char* f) { return dir + "/" + f; };
  d.train_x = parse_images(read_gzip(path("train-images-idx3-ubyte.gz")), "train-images-idx3-ubyte.gz");
  d.train_y = parse_labels(read_gzip(path("train-labels-idx1-ubyte.gz")), "train-labels-idx1-ubyte.gz");
  d.test_x = parse_images(read_gzip(path("t10k-images-idx3-ubyte.gz")), "t10k-images-idx3-ubyte.gz");
  d.test_y = parse_labels(read_gzip(path("t10k-labels-idx1-ubyte.gz")), "t10k-labels-idx1-ubyte.gz");
  if (d.train_x.rows() != static_cast<Eigen::Index>(d.train_y.size()) ||
      d.test_x.rows() != static_cast<Eigen::Index>(d.test_y.size()))
    throw std::runtime_error("Fashion-MNIST: image and label counts differ");
  return d;
}

}  // namespace demo
