// tests/support/golden.hpp: reads the golden files written by tests/golden/*.py.
//
// One record per line: <name> <dtype> <rank> <dims...> <values...>; '#' starts a comment line.
// f32 values are printed with 9 significant digits, so strtof gives back the exact float.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace lowbit_test {

struct golden_record {
  std::string dtype;
  std::vector<std::ptrdiff_t> shape;
  std::vector<float> f32;
  std::vector<std::int64_t> i64;
  std::ptrdiff_t rows() const { return shape.empty() ? 1 : shape[0]; }
  std::ptrdiff_t cols() const {
    std::ptrdiff_t n = 1;
    for (std::size_t i = 1; i < shape.size(); ++i) n *= shape[i];
    return shape.size() <= 1 ? (shape.empty() ? 1 : shape[0]) : n;
  }
};

class golden_file {
 public:
  explicit golden_file(const std::string& name) {
    const std::string path = std::string(LOWBIT_TEST_DATA_DIR) + "/" + name;
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open golden file " + path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream s(line);
      std::string key;
      golden_record r;
      int rank = 0;
      s >> key >> r.dtype >> rank;
      std::size_t count = 1;
      for (int d = 0; d < rank; ++d) {
        std::ptrdiff_t dim = 0;
        s >> dim;
        r.shape.push_back(dim);
        count *= static_cast<std::size_t>(dim);
      }
      std::string token;
      while (s >> token) {
        if (r.dtype == "f32") {
          r.f32.push_back(std::strtof(token.c_str(), nullptr));
        } else {
          r.i64.push_back(std::strtoll(token.c_str(), nullptr, 10));
        }
      }
      const std::size_t got = r.dtype == "f32" ? r.f32.size() : r.i64.size();
      if (got != count) throw std::runtime_error("golden record " + key + " has a wrong value count");
      records_[key] = std::move(r);
    }
  }

  const golden_record& operator[](const std::string& key) const {
    auto it = records_.find(key);
    if (it == records_.end()) throw std::runtime_error("golden record missing: " + key);
    return it->second;
  }
  bool contains(const std::string& key) const { return records_.count(key) != 0; }

 private:
  std::map<std::string, golden_record> records_;
};

}  // namespace lowbit_test
