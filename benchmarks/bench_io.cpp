// Loading model files: an fp32 safetensors file from the page cache, beside a plain read(2) of the
// same file into memory (the roofline: what any loader must at least do to own the bytes).
//
//   st_read/<MiB>       read(2) of the whole file into a preallocated buffer
//   st_read_fresh/<MiB> the same into newly allocated memory (what a loader returning copies pays)
//   st_load_copy/<MiB>  safetensors::file::open + matrix() of every tensor (parse, map, copy out)
//   st_load_map/<MiB>   safetensors::file::open + f32_matrix() of every tensor, each value summed
//                       (no copy: the mapping's pages are faulted in and read once)
//   st_save/<MiB>       safetensors::writer of the same tensors and save() (write, rename)
//
// The file (LOWBIT_BENCH_IO_DIR, default /tmp) holds 16 F32 tensors [1024, MiB * 16]; it is written
// once per size, then read once so that the page cache holds it. Counter GB/s: file bytes per second.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "lowbit/io/safetensors.hpp"
#include "lowbit/lowbit.hpp"

namespace {

namespace st = lowbit::safetensors;

std::string bench_dir() {
  const char* d = std::getenv("LOWBIT_BENCH_IO_DIR");
  return d ? d : "/tmp";
}

constexpr int tensors = 16;

st::writer make_writer(long mib) {
  st::writer w;
  const lowbit::index_t cols = mib * 16;  // 1024 x cols floats x 16 tensors = mib MiB
  lowbit::row_matrix m(1024, cols);
  for (lowbit::index_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<float>(i % 1000) * 0.001f;
  for (int t = 0; t < tensors; ++t) w.add("layer" + std::to_string(t) + ".weight", m);
  return w;
}

std::string file_for(long mib) {
  static std::map<long, std::string> made;
  auto it = made.find(mib);
  if (it != made.end()) return it->second;
  const std::string path = bench_dir() + "/lowbit_bench_io_" + std::to_string(mib) + ".safetensors";
  make_writer(mib).save(path);
  return made[mib] = path;
}

std::size_t read_all(const std::string& path, std::vector<char>& buf) {
  const int fd = ::open(path.c_str(), O_RDONLY);
  std::size_t got = 0;
  for (;;) {
    const ssize_t r = ::read(fd, buf.data() + got, buf.size() - got);
    if (r <= 0) break;
    got += static_cast<std::size_t>(r);
  }
  ::close(fd);
  return got;
}

void set_rate(benchmark::State& state, std::size_t bytes) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(bytes));
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(bytes) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void st_read(benchmark::State& state) {
  const std::string path = file_for(state.range(0));
  const st::file f = st::file::open(path);
  std::vector<char> buf(f.size_bytes());
  read_all(path, buf);  // warm the page cache
  for (auto _ : state) benchmark::DoNotOptimize(read_all(path, buf));
  set_rate(state, buf.size());
}

void st_read_fresh(benchmark::State& state) {
  const std::string path = file_for(state.range(0));
  const std::size_t bytes = st::file::open(path).size_bytes();
  for (auto _ : state) {
    std::vector<char> buf(bytes);  // new memory each time, as a loader that returns tensors needs
    benchmark::DoNotOptimize(read_all(path, buf));
  }
  set_rate(state, bytes);
}

void st_load_copy(benchmark::State& state) {
  const std::string path = file_for(state.range(0));
  std::size_t bytes = 0;
  for (auto _ : state) {
    const st::file f = st::file::open(path);
    bytes = f.size_bytes();
    for (const auto& t : f.tensors()) {
      lowbit::row_matrix m = f.matrix(t.name);
      benchmark::DoNotOptimize(m.data());
    }
  }
  set_rate(state, bytes);
}

void st_load_map(benchmark::State& state) {
  const std::string path = file_for(state.range(0));
  std::size_t bytes = 0;
  for (auto _ : state) {
    const st::file f = st::file::open(path);
    bytes = f.size_bytes();
    float s = 0;
    for (const auto& t : f.tensors()) s += f.f32_matrix(t.name).sum();
    benchmark::DoNotOptimize(s);
  }
  set_rate(state, bytes);
}

void st_save(benchmark::State& state) {
  const st::writer w = make_writer(state.range(0));
  const std::string path = bench_dir() + "/lowbit_bench_io_save.safetensors";
  std::size_t bytes = 0;
  for (auto _ : state) {
    w.save(path);
    bytes = static_cast<std::size_t>(tensors) * 1024 * static_cast<std::size_t>(state.range(0)) * 16 * 4;
  }
  std::remove(path.c_str());
  set_rate(state, bytes);
}

}  // namespace

BENCHMARK(st_read)->Arg(16)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(st_read_fresh)->Arg(16)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(st_load_copy)->Arg(16)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(st_load_map)->Arg(16)->Arg(1024)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(st_save)->Arg(16)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
