// Calibrates a heavy-tailed activation distribution with every calibrator and prints, per
// calibrator, the chosen range, the SQNR of the quantized activations and the share of values the
// range clips.
#include <lowbit/lowbit.hpp>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

namespace {

// Student-t with 3 degrees of freedom: a Gaussian-like body with heavy tails, like the activations
// after a few transformer layers.
lowbit::row_matrix batch(std::mt19937& gen) {
  std::student_t_distribution<float> t(3.0f);
  lowbit::row_matrix x(256, 1024);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = t(gen);
  return x;
}

template <class F, class S, class Calibrator>
void row(const char* name, const lowbit::histogram_observer<>& observer, const Calibrator& calibrator,
         const lowbit::row_matrix& test) {
  const lowbit::quantizer<F, S> q;
  const lowbit::range r = calibrator.choose(q, observer);
  const lowbit::qparams p = q.qparams_for(r);
  const lowbit::row_matrix back = q.quantize(test, p).dequantize();
  // The range the qparams actually represent.
  const float lo = static_cast<float>(F::qmin - p.zero_point[0]) * p.scale[0];
  const float hi = static_cast<float>(F::qmax - p.zero_point[0]) * p.scale[0];
  const double clipped = ((test.array() < lo) || (test.array() > hi)).cast<double>().mean() * 100.0;
  std::printf("| %-16s | %9.3f | %8.3f | %8.2f | %9.4f |\n", name, lo, hi, lowbit::sqnr_db(test, back), clipped);
}

template <class F, class S>
void table(const lowbit::histogram_observer<>& observer, const lowbit::row_matrix& test) {
  std::printf("\n%s %s\n\n", F::name, S::name);
  std::printf("| %-16s | %9s | %8s | %8s | %9s |\n", "calibrator", "min", "max", "SQNR dB", "clipped %");
  std::printf("|------------------|-----------|----------|----------|-----------|\n");
  row<F, S>("min/max", observer, lowbit::minmax_calibrator{}, test);
  row<F, S>("percentile 99.99", observer, lowbit::percentile_calibrator(99.99), test);
  row<F, S>("percentile 99.9", observer, lowbit::percentile_calibrator(99.9), test);
  row<F, S>("entropy (KL)", observer, lowbit::entropy_calibrator{}, test);
  row<F, S>("MSE", observer, lowbit::mse_calibrator{}, test);
  row<F, S>("L2 (PyTorch)", observer, lowbit::l2_search_calibrator{}, test);
}

}  // namespace

int main() {
  std::mt19937 gen(11);
  lowbit::histogram_observer<> observer;  // 2048 bins, range grows with the data
  for (int b = 0; b < 8; ++b) observer.observe(batch(gen));
  const lowbit::row_matrix test = batch(gen);  // held-out activations
  std::printf("calibrated on %lld batches (%lld values, Student-t, 3 degrees of freedom), observed range [%.2f, %.2f]\n",
              static_cast<long long>(observer.batches()), static_cast<long long>(observer.batches() * 256 * 1024),
              observer.observed_range().min[0], observer.observed_range().max[0]);
  table<lowbit::int8, lowbit::symmetric>(observer, test);
  table<lowbit::uint8, lowbit::affine>(observer, test);
  table<lowbit::int4, lowbit::symmetric>(observer, test);
  return 0;
}
