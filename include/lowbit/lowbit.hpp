// lowbit/lowbit.hpp: the umbrella header most users include.
#pragma once

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/core/granularity.hpp"
#include "lowbit/core/qparams.hpp"
#include "lowbit/core/quantized_tensor.hpp"
#include "lowbit/core/quantizer.hpp"
#include "lowbit/core/scheme.hpp"
#include "lowbit/kernels/cpu_features.hpp"
#include "lowbit/kernels/isa.hpp"
#include "lowbit/kernels/quantize.hpp"
#include "lowbit/metrics/metrics.hpp"
