// lowbit/lowbit.hpp: the umbrella header most users include.
//
// ---------------------------------------------------------------------------------------------
// The words lowbit uses, once
//
//   format       the integer codes: int8, uint8, int8_narrow, int4, uint4, int2, uint2, or any
//                integer_format<Bits, Signed, QMin, QMax> (core/format.hpp)
//   scheme       symmetric (zero point fixed by the format), symmetric_absmax (the same with the
//                block formats' scale max|x| / qmax) or affine (chosen from the range)
//   granularity  which elements share one (scale, zero point): per_tensor, per_channel(axis),
//                per_group(axis, size) (core/granularity.hpp)
//   slot         one (scale, zero point) position: 1 per tensor, one per channel or group
//   range        observed [min, max] per slot; qparams: scale and zero point per slot
//   rounding     reciprocal_multiply (PyTorch) or true_divide (ONNX), both half to even
//   quantizer    format + scheme + granularity + rounding: the one route from a range to qparams
//                (qparams_for) and from floats to codes (quantize, code) (tensor/quantizer.hpp)
//   quantized_tensor  owned packed codes + shape + granularity + qparams
//   observer     collects statistics batch by batch; calibrator: chooses a range from them
//   kernel path  the instruction set kernels run on: scalar, simd, avx2, avxvnni, avx512,
//                avx512vnni, neondot (runtime/path.hpp); context: threads + path for one call
//   activations<F>   the GEMM's left operand: M x K 8-bit codes with per-tensor or per-row qparams
//   packed_weights   the GEMM's right operand: int8 symmetric [N, K] laid out for a path's kernel
//   output stage     what the GEMM makes of its int32 sums: int32, float (+ bias, clamp), requantized
//   packed_lowbit_weights<F>  2/4/8-bit weights [N, K] in groups along K with fp16 scales (and a
//                zero point or minimum per group), the sub-byte GEMM's right operand; lowbit_gemm
//                computes int8 activations x them, lowbit_linear is its layer
//   (the GEMMs' own words, MR, NR, KR, panel, tile, group, are in kernels/gemm_contract.hpp and
//   kernels/lowbit_gemm_contract.hpp)
//
// The data path, from a float tensor to a float output:
//
//   float x --observe--> range --quantizer.qparams_for--> qparams --quantizer.quantize--> quantized_tensor
//        (observer + calibrator choose the range over many batches for static quantization)
//
//   quantized_tensor<uint8> x --activations<uint8>--.
//                                                    gemm(on the context's path) --output stage--> float y
//   float W --quantizer<int8, symmetric>--> quantized_tensor<int8> --packed_weights--'          (or codes for
//                                                                                                the next layer)
//
// dynamic_linear does the x side for every call (per-row qparams from the batch); static_linear
// uses calibrated qparams and can hand requantized codes to the next layer.
//
// ---------------------------------------------------------------------------------------------
// The folders are floors; each includes only from its own floor and those below it (checked by
// the test lowbit_layers):
//
//   config.hpp, core/, detail/   value types (formats, schemes, granularities, qparams, shapes, errors)
//   runtime/                     CPU features, kernel paths and their fallback chain, threads, context
//   kernels/                     one header per operation and path, behind the one dispatch table
//   tensor/                      the quantizer, quantized tensors and the engine that runs the kernels on them
//   gemm/, observers/, metrics/  the int8 GEMM and its operands; observers; error measures
//   calibrators/, io/            how a range is chosen from what observers saw; file and block formats
//   ptq/, qat/                   Linear layers, static calibration; fake quantization, LSQ
#pragma once

#include "lowbit/config.hpp"
#include "lowbit/core/error.hpp"
#include "lowbit/core/format.hpp"
#include "lowbit/core/granularity.hpp"
#include "lowbit/core/half.hpp"
#include "lowbit/core/qparams.hpp"
#include "lowbit/core/scheme.hpp"
#include "lowbit/core/shape.hpp"
#include "lowbit/runtime/context.hpp"
#include "lowbit/runtime/cpu_features.hpp"
#include "lowbit/runtime/path.hpp"
#include "lowbit/runtime/thread_pool.hpp"
#include "lowbit/kernels/elementwise.hpp"
#include "lowbit/kernels/gemm.hpp"
#include "lowbit/kernels/histogram.hpp"
#include "lowbit/kernels/lowbit_gemm.hpp"
#include "lowbit/tensor/float4_tensor.hpp"
#include "lowbit/tensor/quantized_tensor.hpp"
#include "lowbit/tensor/quantizer.hpp"
#include "lowbit/gemm/activations.hpp"
#include "lowbit/gemm/gemm.hpp"
#include "lowbit/gemm/lowbit_gemm.hpp"
#include "lowbit/gemm/output.hpp"
#include "lowbit/gemm/packed_lowbit_weights.hpp"
#include "lowbit/gemm/packed_weights.hpp"
#include "lowbit/gemm/reference.hpp"
#include "lowbit/metrics/metrics.hpp"
#include "lowbit/observers/histogram.hpp"
#include "lowbit/observers/minmax.hpp"
#include "lowbit/observers/observer.hpp"
#include "lowbit/observers/tensor_observer.hpp"
#include "lowbit/calibrators/calibrator.hpp"
#include "lowbit/calibrators/entropy.hpp"
#include "lowbit/calibrators/l2_search.hpp"
#include "lowbit/calibrators/mse.hpp"
#include "lowbit/calibrators/percentile.hpp"
#include "lowbit/calibrators/weight_search.hpp"
#include "lowbit/io/ggml_blocks.hpp"
#include "lowbit/io/gguf.hpp"
#include "lowbit/io/safetensors.hpp"
#include "lowbit/ptq/awq.hpp"
#include "lowbit/ptq/dynamic_linear.hpp"
#include "lowbit/ptq/float4_linear.hpp"
#include "lowbit/ptq/gptq.hpp"
#include "lowbit/ptq/hessian_observer.hpp"
#include "lowbit/ptq/lowbit_linear.hpp"
#include "lowbit/ptq/mixed_precision.hpp"
#include "lowbit/ptq/smoothquant.hpp"
#include "lowbit/ptq/static_calibration.hpp"
#include "lowbit/ptq/static_linear.hpp"
#include "lowbit/qat/fake_quant.hpp"
#include "lowbit/qat/lsq.hpp"
