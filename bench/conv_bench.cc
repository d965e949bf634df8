// bench_conv: the VGG front end's 3x3 convolutions (stride 1, pad 1, fp32,
// channels last) through the engine's op (im2col + packed-panel GEMM,
// engine/ops/conv2d.h) and through oneDNN's convolution primitive (NHWC,
// weights in oneDNN's preferred layout prepared at setup), same shapes, same
// run. Names: conv/<impl>/T<frames>xF<freq>xC<in>xO<out>/threads:<T>;
// items_per_second = multiply-adds. Shapes: the bundled small model's VGG
// (16 / 32 channels) and the paper-scale model's (64 / 128), 10 s of input.
#include <benchmark/benchmark.h>
#include <omp.h>

#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_main.h"
#include "engine/ops/conv2d.h"
#include "kernels/base/thread_pool.h"

namespace qasr::bench {
namespace {

struct ConvCase {
  size_t t, f, cin, cout;
};
constexpr ConvCase kCases[] = {
    {1000, 80, 1, 16}, {1000, 80, 16, 16}, {500, 40, 16, 32},  {500, 40, 32, 32},    // small
    {1000, 80, 1, 64}, {1000, 80, 64, 64}, {500, 40, 64, 128}, {500, 40, 128, 128},  // paper
};

std::vector<float> Random(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

void BM_Qasr(benchmark::State& state, ConvCase c, size_t threads) {
  const engine::Conv2dShape shape{c.cin, c.cout, 3};
  const auto w = Random(c.cout * c.cin * 9, 1);  // PyTorch (out, in, kh, kw)
  const auto bias = Random(c.cout, 2);
  const engine::LazyPanels panels(engine::PermuteConv2dWeight(w.data(), shape), c.cout, 9 * c.cin);
  engine::LinearWeights lw;
  lw.in = 9 * c.cin;
  lw.out = c.cout;
  lw.panels = &panels;
  lw.bias = bias.data();
  kernels::ThreadPool pool(threads);
  const engine::OpContext ctx{&kernels::ChosenGemmKernels(), &kernels::ChosenDenseKernels(),
                              threads > 1 ? &pool : nullptr};
  const auto x = Random(c.t * c.f * c.cin, 3);
  std::vector<float> y(c.t * c.f * c.cout);
  engine::Conv2dScratch scratch;
  auto run = [&] { return engine::Conv2d(ctx, shape, lw, x.data(), c.t, c.f, y.data(), scratch); };
  if (const Status s = run(); !s.ok()) {
    state.SkipWithError(s.ToString().c_str());
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize(run());
  state.SetItemsProcessed(
      static_cast<int64_t>(state.iterations() * c.t * c.f * c.cin * c.cout * 9));
}

void BM_OneDnn(benchmark::State& state, ConvCase c, size_t threads) {
  using dnnl::memory;
  using tag = memory::format_tag;
  using dt = memory::data_type;
  const dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  const auto t = static_cast<memory::dim>(c.t), f = static_cast<memory::dim>(c.f),
             ci = static_cast<memory::dim>(c.cin), co = static_cast<memory::dim>(c.cout);
  const memory::desc src({1, ci, t, f}, dt::f32, tag::nhwc);
  const memory::desc dst({1, co, t, f}, dt::f32, tag::nhwc);
  const memory::desc wany({co, ci, 3, 3}, dt::f32, tag::any);
  const memory::desc wplain({co, ci, 3, 3}, dt::f32, tag::oihw);
  const memory::desc bd({co}, dt::f32, tag::x);
  const dnnl::convolution_forward::primitive_desc pd(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                      dnnl::algorithm::convolution_direct, src, wany, bd, dst,
                                      {1, 1}, {1, 1}, {1, 1}),
      eng);
  dnnl::convolution_forward conv(pd);
  memory xs(src, eng), ys(dst, eng), ws(pd.weights_desc(), eng), wp(wplain, eng), bs(bd, eng);
  const auto x = Random(c.t * c.f * c.cin, 3), w = Random(c.cout * c.cin * 9, 1),
             b = Random(c.cout, 2);
  std::copy(x.begin(), x.end(), static_cast<float*>(xs.get_data_handle()));
  std::copy(w.begin(), w.end(), static_cast<float*>(wp.get_data_handle()));
  std::copy(b.begin(), b.end(), static_cast<float*>(bs.get_data_handle()));
  dnnl::reorder(wp, ws).execute(strm, wp, ws);
  strm.wait();
  omp_set_num_threads(static_cast<int>(threads));
  auto run = [&] {
    conv.execute(
        strm,
        {{DNNL_ARG_SRC, xs}, {DNNL_ARG_WEIGHTS, ws}, {DNNL_ARG_BIAS, bs}, {DNNL_ARG_DST, ys}});
    strm.wait();
  };
  run();
  for (auto _ : state) run();
  state.SetItemsProcessed(
      static_cast<int64_t>(state.iterations() * c.t * c.f * c.cin * c.cout * 9));
  state.SetLabel(pd.impl_info_str());
}

void RegisterAll() {
  for (const ConvCase& c : kCases)
    for (size_t threads : {1, 2}) {
      const std::string shape = "/T" + std::to_string(c.t) + "xF" + std::to_string(c.f) + "xC" +
                                std::to_string(c.cin) + "xO" + std::to_string(c.cout) +
                                "/threads:" + std::to_string(threads);
      benchmark::RegisterBenchmark(("conv/qasr" + shape).c_str(), BM_Qasr, c, threads)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("conv/onednn" + shape).c_str(), BM_OneDnn, c, threads)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
}

}  // namespace
}  // namespace qasr::bench

int main(int argc, char** argv) {
  return qasr::bench::RunBenchmarks(argc, argv, qasr::bench::RegisterAll);
}
