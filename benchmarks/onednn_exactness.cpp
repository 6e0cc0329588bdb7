// Checks whether oneDNN's u8 x s8 -> s32 matmul on this CPU returns the exact sums, on operands
// whose byte-pair products overflow 16 bits (what vpmaddubsw saturates), and shows lowbit's
// result on the same operands. Built with the benchmarks when oneDNN is found.
#include <dnnl.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "lowbit/lowbit.hpp"

int main() {
  using namespace dnnl;
  using dt = memory::data_type;
  using tag = memory::format_tag;
  const int m = 64, n = 64, k = 256;
  std::vector<std::uint8_t> a(static_cast<std::size_t>(m * k));
  std::vector<std::int8_t> w(static_cast<std::size_t>(n * k));  // [N, K]
  std::mt19937 g(3);
  for (auto& v : a) v = static_cast<std::uint8_t>(200 + g() % 56);
  for (auto& v : w) v = static_cast<std::int8_t>((g() % 2) ? 127 : 100);

  engine eng(engine::kind::cpu, 0);
  stream s(eng);
  const memory::desc amd({m, k}, dt::u8, tag::ab), wmd({k, n}, dt::s8, tag::any), cmd({m, n}, dt::s32, tag::ab);
  const matmul::primitive_desc pd(matmul::desc(amd, wmd, cmd), eng);
  memory wu(memory::desc({k, n}, dt::s8, tag::ba), eng, w.data()), wo(pd.weights_desc(), eng);
  reorder(wu, wo).execute(s, wu, wo);
  std::vector<std::int32_t> c(static_cast<std::size_t>(m * n)), ours(c.size());
  memory am(amd, eng, a.data()), cm(cmd, eng, c.data());
  matmul(pd).execute(s, {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, wo}, {DNNL_ARG_DST, cm}});
  s.wait();

  const auto packed = lowbit::packed_weights::pack(w.data(), n, k, k, {1.0f});
  lowbit::gemm(lowbit::activations<lowbit::uint8>(a.data(), m, k, k, {1.f, 0}), packed, lowbit::output_int32{}, ours.data(), n);

  long wrong_dnnl = 0, wrong_ours = 0;
  long long worst = 0;
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      long long exact = 0;
      for (int t = 0; t < k; ++t) exact += static_cast<long long>(a[i * k + t]) * w[j * k + t];
      const long long e = std::llabs(exact - c[i * n + j]);
      wrong_dnnl += e != 0;
      worst = e > worst ? e : worst;
      wrong_ours += exact != ours[i * n + j];
    }
  }
  std::printf("oneDNN %s (%s): %ld of %d sums wrong, largest error %lld\n", pd.impl_info_str(),
              dnnl_version()->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "other runtime", wrong_dnnl, m * n, worst);
  std::printf("lowbit (%s): %ld of %d sums wrong\n", lowbit::active_path_name().c_str(), wrong_ours, m * n);
  return wrong_ours == 0 ? 0 : 1;
}
