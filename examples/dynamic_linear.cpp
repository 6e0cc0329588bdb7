// A dynamic quantized Linear layer built from a float Eigen weight matrix: how far its output is
// from the float layer, and how fast it runs beside float Eigen (and OpenBLAS when it was found).
#include <lowbit/lowbit.hpp>

#include <chrono>
#include <cstdio>
#include <functional>
#include <random>
#include <vector>

#if LOWBIT_PEER_OPENBLAS
#include <cblas.h>
#endif

namespace {

double median_ms(const std::function<void()>& f, int reps = 15) {
  std::vector<double> t;
  f();  // warm-up
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main() {
  const int batch = 64, in = 1024, out = 1024;
  std::mt19937 gen(3);
  std::normal_distribution<float> normal(0.f, 1.f);
  lowbit::row_matrix w(out, in), x(batch, in);
  for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = normal(gen) * 0.03f;
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = normal(gen);
  std::vector<float> bias(out, 0.1f);

  const lowbit::dynamic_linear<> layer(w, bias);  // int8 weights, per-channel scales; uint8 rows
  lowbit::context one;
  one.threads = 1;

  lowbit::row_matrix y = layer.forward(x, {}, one);
  lowbit::row_matrix reference = x * w.transpose();
  reference.rowwise() += Eigen::Map<const Eigen::RowVectorXf>(bias.data(), out);
  const lowbit::error_stats e = lowbit::compare(reference, y);
  std::printf("dynamic int8 Linear %dx%d, batch %d, path %s, 1 thread\n", in, out, batch,
              lowbit::active_path_name().c_str());
  std::printf("  error vs float: SQNR %.1f dB, max |error| %.4f, cosine %.6f\n", e.sqnr_db, e.max_abs, e.cosine);
  std::printf("  weights: %lld bytes (float: %lld)\n", static_cast<long long>(layer.bytes()),
              static_cast<long long>(w.size() * 4));

  const double t_q = median_ms([&] { layer.forward(x.data(), batch, in, y.data(), out, {}, one); });
  const double t_eigen = median_ms([&] { reference.noalias() = x * w.transpose(); });
  const double gops = 2.0 * batch * in * out / 1e6;
  std::printf("  lowbit dynamic Linear %8.3f ms  %6.1f GOPS\n", t_q, gops / t_q);
  std::printf("  Eigen float           %8.3f ms  %6.1f GOPS  (lowbit %.2fx faster)\n", t_eigen,
              gops / t_eigen, t_eigen / t_q);
#if LOWBIT_PEER_OPENBLAS
  openblas_set_num_threads(1);
  const double t_blas = median_ms([&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, out, in, 1.0f, x.data(), in, w.data(), in,
                0.0f, reference.data(), out);
  });
  std::printf("  OpenBLAS sgemm        %8.3f ms  %6.1f GOPS  (lowbit %.2fx faster)\n", t_blas,
              gops / t_blas, t_blas / t_q);
#else
  std::printf("  (OpenBLAS not found at configure time: install libopenblas-dev to compare)\n");
#endif
  return 0;
}
