// lowbit/ptq/static_calibration.hpp: calibrate named tensors for static post-training quantization.
//
//   using calib = lowbit::static_calibration<lowbit::quantizer<lowbit::uint8, lowbit::affine>,
//                                            lowbit::histogram_observer<>, lowbit::entropy_calibrator>;
//   calib c;
//   c.add("fc1.input");  c.add("fc2.input");          // one observer per tensor
//   for (batch : calibration_set) { ...; c.observe("fc1.input", x1); c.observe("fc2.input", x2); }
//   c.freeze();                                        // the calibrator chooses every range
//   lowbit::qparams p = c.qparams("fc1.input");
//
// Errors: adding a name twice, observing or asking for a name never added, observing after
// freeze(), asking for qparams before it, and freezing while a name has seen no data.
#pragma once

#include <Eigen/Core>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "lowbit/calibrators/calibrator.hpp"
#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/qparams.hpp"

LOWBIT_NAMESPACE_BEGIN

template <class Quantizer, class Observer, class Calibrator>
class static_calibration {
 public:
  explicit static_calibration(Quantizer q = Quantizer{}, Calibrator c = Calibrator{})
      : quantizer_(std::move(q)), calibrator_(std::move(c)) {}

  /// Registers a tensor, observed by a copy of `prototype` (e.g. a per-channel observer).
  void add(const std::string& name, Observer prototype = Observer{}) {
    if (frozen_) detail::fail("static_calibration: add(\"", name, "\") after freeze()");
    if (!entries_.emplace(name, entry{std::move(prototype), {}}).second)
      detail::fail("static_calibration: tensor \"", name, "\" was already added");
    order_.push_back(name);
  }

  template <class Derived>
  void observe(const std::string& name, const Eigen::DenseBase<Derived>& x) {
    writable(name).observer.observe(x);
  }
  void observe(const std::string& name, const float* data, const std::vector<index_t>& shape) {
    writable(name).observer.observe(data, shape);
  }

  /// Chooses every tensor's qparams; observing ends here.
  void freeze() {
    if (frozen_) return;
    for (const std::string& name : order_) {
      entry& e = entries_.at(name);
      if (e.observer.batches() == 0)
        detail::fail("static_calibration: tensor \"", name, "\" was added but never observed");
    }
    for (const std::string& name : order_) {
      entry& e = entries_.at(name);
      e.params = calibrate(quantizer_, e.observer, calibrator_);
    }
    frozen_ = true;
  }

  bool frozen() const noexcept { return frozen_; }
  const std::vector<std::string>& names() const noexcept { return order_; }

  const lowbit::qparams& qparams(const std::string& name) const {
    if (!frozen_) detail::fail("static_calibration: qparams(\"", name, "\") before freeze()");
    return find(name).params;
  }
  const Observer& observer(const std::string& name) const { return find(name).observer; }
  const Quantizer& quantizer() const noexcept { return quantizer_; }

 private:
  struct entry {
    Observer observer;
    lowbit::qparams params;
  };

  const entry& find(const std::string& name) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) detail::fail("static_calibration: no tensor named \"", name, "\"");
    return it->second;
  }
  entry& writable(const std::string& name) {
    if (frozen_) detail::fail("static_calibration: observe(\"", name, "\") after freeze()");
    return const_cast<entry&>(find(name));
  }

  Quantizer quantizer_;
  Calibrator calibrator_;
  std::map<std::string, entry> entries_;
  std::vector<std::string> order_;
  bool frozen_ = false;
};

LOWBIT_NAMESPACE_END
