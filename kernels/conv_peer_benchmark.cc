// Our convolution against oneDNN's at the CNNs' layer shapes: forward,
// backward data and backward weights, each shape and pass as two rows next
// to each other (ours, then oneDNN), so that on a shared machine the pair
// sees the same load.
//
//   bazel build -c opt //kernels:conv_peer_benchmark
//   taskset -c 0,1 bazel-bin/kernels/conv_peer_benchmark --benchmark_repetitions=5
//
// Ours: the method ChooseConvMethods picks for the shape, channel-major
// (C, B, H, W) tensors, TBB's default threads. Forward includes the bias
// and the ReLU (fused in ours, a post-op in oneDNN); backward weights is
// the weight gradient only, in both.
// oneDNN: Debian's libdnnl 2.6.3 (OpenMP: OMP_NUM_THREADS, default all
// CPUs), convolution_auto, every memory format left to the library
// (format_tag::any) so its JIT kernels run on their preferred blocked
// layouts; buffers are made once outside the timed loop. That is the peer
// at its best: a network on oneDNN would also pay reorders at its edges.
// GFLOP/s counts the convolution's multiply-adds (x2).
#include <algorithm>
#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

#include "benchmark/benchmark.h"
#include "dnnl.hpp"
#include "kernels/conv.h"

namespace trainbus::kernels {
namespace {

enum class Pass { kForward, kBackwardData, kBackwardWeights };

const char* PassName(Pass p) {
  constexpr const char* kNames[] = {"Forward", "BackwardData",
                                    "BackwardWeights"};
  return kNames[static_cast<int>(p)];
}

double Flops(const ConvShape& s) {
  return 2.0 * static_cast<double>(s.OutSize()) * s.ColRows();
}

void Report(benchmark::State& state, const ConvShape& s) {
  state.SetItemsProcessed(state.iterations() * s.batch);
  state.counters["GFLOP/s"] = benchmark::Counter(
      Flops(s) * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

void Ours(benchmark::State& state, ConvShape s, Pass pass) {
  std::vector<float> in(s.InSize(), 0.5f), w(s.WeightSize(), 0.01f),
      b(s.out_channels, 0.1f), out(s.OutSize(), 0.01f), dw(s.WeightSize()),
      din(s.InSize());
  const ConvMethods m = ChooseConvMethods(s);
  for (auto _ : state) {
    if (pass == Pass::kForward) {
      ConvForward(s, m.forward, in.data(), w.data(), b.data(), true,
                  out.data());
    } else if (pass == Pass::kBackwardData) {
      ConvBackwardData(s, m.backward_data, w.data(), out.data(), din.data());
    } else {
      ConvBackwardWeights(s, m.backward_weights, in.data(), out.data(),
                          dw.data());
    }
    benchmark::ClobberMemory();
  }
  Report(state, s);
  const ConvMethod used = pass == Pass::kForward        ? m.forward
                          : pass == Pass::kBackwardData ? m.backward_data
                                                        : m.backward_weights;
  state.SetLabel(ConvMethodName(used));
}

// oneDNN memory of the primitive's chosen layout, filled with `value`.
dnnl::memory Filled(const dnnl::memory::desc& md, const dnnl::engine& eng,
                    float value) {
  dnnl::memory mem(md, eng);
  float* p = static_cast<float*>(mem.get_data_handle());
  std::fill(p, p + md.get_size() / sizeof(float), value);
  return mem;
}

void OneDnn(benchmark::State& state, ConvShape s, Pass pass) {
  using dnnl::memory;
  using tag = memory::format_tag;
  const auto f32 = memory::data_type::f32;
  const auto i = [](size_t v) { return static_cast<memory::dim>(v); };
  try {
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    dnnl::stream strm(eng);
    const memory::desc src({i(s.batch), i(s.channels), i(s.height),
                            i(s.width)}, f32, tag::any);
    const memory::desc wei({i(s.out_channels), i(s.channels), i(s.kernel),
                            i(s.kernel)}, f32, tag::any);
    const memory::desc bias({i(s.out_channels)}, f32, tag::x);
    const memory::desc dst({i(s.batch), i(s.out_channels), i(s.OutHeight()),
                            i(s.OutWidth())}, f32, tag::any);
    const memory::dims stride{1, 1}, pad{i(s.pad), i(s.pad)};
    dnnl::post_ops relu;
    relu.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(relu);
    const dnnl::convolution_forward::primitive_desc fwd(
        {dnnl::prop_kind::forward_training,
         dnnl::algorithm::convolution_auto, src, wei, bias, dst, stride, pad,
         pad},
        attr, eng);
    dnnl::primitive prim;
    std::unordered_map<int, memory> args;
    if (pass == Pass::kForward) {
      prim = dnnl::convolution_forward(fwd);
      args = {{DNNL_ARG_SRC, Filled(fwd.src_desc(), eng, 0.5f)},
              {DNNL_ARG_WEIGHTS, Filled(fwd.weights_desc(), eng, 0.01f)},
              {DNNL_ARG_BIAS, Filled(fwd.bias_desc(), eng, 0.1f)},
              {DNNL_ARG_DST, Filled(fwd.dst_desc(), eng, 0.0f)}};
    } else if (pass == Pass::kBackwardData) {
      // The backward descriptors take the forward one as a hint.
      const dnnl::convolution_backward_data::desc desc(
          dnnl::algorithm::convolution_auto, src, wei, dst, stride, pad, pad);
      const dnnl::convolution_backward_data::primitive_desc data(desc, eng,
                                                                 fwd);
      prim = dnnl::convolution_backward_data(data);
      args = {{DNNL_ARG_DIFF_DST, Filled(data.diff_dst_desc(), eng, 0.01f)},
              {DNNL_ARG_WEIGHTS, Filled(data.weights_desc(), eng, 0.01f)},
              {DNNL_ARG_DIFF_SRC, Filled(data.diff_src_desc(), eng, 0.0f)}};
    } else {
      const dnnl::convolution_backward_weights::primitive_desc weights(
          {dnnl::algorithm::convolution_auto, src, wei, dst, stride, pad,
           pad},
          eng, fwd);
      prim = dnnl::convolution_backward_weights(weights);
      args = {
          {DNNL_ARG_SRC, Filled(weights.src_desc(), eng, 0.5f)},
          {DNNL_ARG_DIFF_DST, Filled(weights.diff_dst_desc(), eng, 0.01f)},
          {DNNL_ARG_DIFF_WEIGHTS,
           Filled(weights.diff_weights_desc(), eng, 0.0f)}};
    }
    for (auto _ : state) {
      prim.execute(strm, args);
      strm.wait();
    }
    state.SetLabel(fwd.impl_info_str());
  } catch (const dnnl::error& e) {
    state.SkipWithError(e.what());
    return;
  }
  Report(state, s);
}

// The CNNs' layers (B, C, HW, OC, K, P), as in conv_benchmark.cc.
const ConvShape kShapes[] = {
    {64, 1, 28, 28, 8, 5, 0},   {64, 8, 12, 12, 16, 5, 0},
    {64, 1, 28, 28, 16, 5, 0},  {64, 16, 12, 12, 32, 5, 0},
    {64, 1, 28, 28, 32, 3, 1},  {64, 32, 14, 14, 64, 3, 1},
    {1, 1, 28, 28, 8, 5, 0},    {1, 8, 12, 12, 16, 5, 0},
};

std::string ShapeName(const ConvShape& s) {
  return "B:" + std::to_string(s.batch) + "/C:" + std::to_string(s.channels) +
         "/HW:" + std::to_string(s.height) + "/OC:" +
         std::to_string(s.out_channels) + "/K:" + std::to_string(s.kernel) +
         "/P:" + std::to_string(s.pad);
}

// Registered before main: the rows are built from kShapes at run time.
const bool kRegistered = [] {
  for (const ConvShape& s : kShapes) {
    for (Pass p : {Pass::kForward, Pass::kBackwardData,
                   Pass::kBackwardWeights}) {
      const std::string name =
          std::string("BM_Conv") + PassName(p) + "/" + ShapeName(s);
      benchmark::RegisterBenchmark((name + "/ours").c_str(), Ours, s, p)
          ->UseRealTime();
      benchmark::RegisterBenchmark((name + "/onednn").c_str(), OneDnn, s, p)
          ->UseRealTime();
    }
  }
  return true;
}();

}  // namespace
}  // namespace trainbus::kernels

BENCHMARK_MAIN();
