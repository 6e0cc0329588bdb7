#include <lowbit/lowbit.hpp>

#include <cstdio>

int main() {
  Eigen::MatrixXf w = Eigen::MatrixXf::Random(8, 64);
  lowbit::quantizer<lowbit::int4, lowbit::symmetric, lowbit::per_channel> q(lowbit::per_channel(0));
  const auto t = q.quantize(w);
  const double sqnr = lowbit::sqnr_db(w, t.dequantize());
  std::printf("lowbit consumer: path %s, int4 SQNR %.1f dB\n", lowbit::active_path_name().c_str(), sqnr);
  return sqnr > 15.0 ? 0 : 1;
}
