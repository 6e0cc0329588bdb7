// Quantizes one weight-like Eigen matrix with several quantizer types and prints, for each, the
// signal-to-quantization-noise ratio and the bytes it takes.
#include <lowbit/lowbit.hpp>

#include <cstdio>
#include <random>

namespace {

template <class Quantizer>
void report(const char* label, const Quantizer& q, const Eigen::MatrixXf& w) {
  const auto t = q.quantize(w);  // qparams from w's own min/max, then packed codes
  const double sqnr = lowbit::sqnr_db(w, t.dequantize());
  const double ratio = static_cast<double>(w.size() * sizeof(float)) / static_cast<double>(t.bytes());
  std::printf("%-34s %8.2f dB %10lld bytes %6.2fx smaller\n", label, sqnr,
              static_cast<long long>(t.bytes()), ratio);
}

}  // namespace

int main() {
  // 512 output channels x 1024 inputs, Gaussian, with a few channels 20x larger: the case where
  // per-channel and per-group scales pay off.
  std::mt19937 gen(7);
  std::normal_distribution<float> normal(0.f, 0.02f);
  Eigen::MatrixXf w(512, 1024);
  for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = normal(gen);
  for (int r = 0; r < 512; r += 97) w.row(r) *= 20.f;

  std::printf("lowbit %d.%d.%d, kernel path: %s\n", LOWBIT_VERSION_MAJOR, LOWBIT_VERSION_MINOR,
              LOWBIT_VERSION_PATCH, lowbit::active_path_name().c_str());
  std::printf("float32 %dx%d: %lld bytes\n\n", 512, 1024, static_cast<long long>(w.size() * 4));
  std::printf("%-34s %11s %16s %17s\n", "quantizer", "SQNR", "size", "compression");

  using namespace lowbit;
  report("int8  symmetric per-tensor", quantizer<int8, symmetric, per_tensor>(), w);
  report("int8  symmetric per-channel", quantizer<int8, symmetric, per_channel>(per_channel(0)), w);
  report("uint8 affine    per-channel", quantizer<uint8, affine, per_channel>(per_channel(0)), w);
  report("int4  symmetric per-tensor", quantizer<int4, symmetric, per_tensor>(), w);
  report("int4  symmetric per-channel", quantizer<int4, symmetric, per_channel>(per_channel(0)), w);
  report("int4  affine    per-group(128)", quantizer<int4, affine, per_group>(per_group(1, 128)), w);
  report("int4  affine    per-group(32)", quantizer<int4, affine, per_group>(per_group(1, 32)), w);
  report("int2  affine    per-channel", quantizer<int2, affine, per_channel>(per_channel(0)), w);
  report("int2  affine    per-group(32)", quantizer<int2, affine, per_group>(per_group(1, 32)), w);
  return 0;
}
