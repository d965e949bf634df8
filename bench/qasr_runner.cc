// qasr's own kernels as benchmark runners.
#include <random>
#include <vector>

#include "bench/runners.h"
#include "kernels/dense/dense_gemm.h"
#include "kernels/gemm/gemm.h"

namespace qasr::bench {

namespace {

using kernels::GemmKernels;

constexpr size_t kBenchGroup = 128;

class QasrRunner : public Runner {
 public:
  QasrRunner(int bits, bool a8, const GemmShape& s)
      : s_(s), a8_(a8), kernels_(kernels::ChosenGemmKernels()), pool_(s.threads) {
    const kernels::WeightShape ws{bits, s.n, s.k, kBenchGroup};
    const size_t groups = (s.k + kBenchGroup - 1) / kBenchGroup;
    std::mt19937 rng(1);
    std::vector<uint8_t> codes(s.n * s.k), zeros(s.n * groups);
    std::vector<uint16_t> scales(s.n * groups, 0x2000);  // 2^-7
    for (auto& c : codes) c = static_cast<uint8_t>(rng() & ((1u << bits) - 1));
    for (auto& z : zeros) z = static_cast<uint8_t>(1u << (bits - 1));
    packed_ = std::move(*kernels::Pack(ws, codes, scales, zeros));
    x_.resize(s.m * s.k);
    std::normal_distribution<float> normal;
    for (auto& v : x_) v = normal(rng);
    y_.resize(s.m * s.n);
  }

  void Run() override {
    const kernels::PackedWeightsView& w = packed_.view();
    kernels::ThreadPool* pool = s_.threads > 1 ? &pool_ : nullptr;
    if (a8_) {
      (void)kernels::QuantizeActivations(kernels_, x_.data(), s_.k, s_.m, w.layout(), q_, pool);
      (void)kernels::GemmA8(kernels_, q_, w, nullptr, y_.data(), s_.n, pool);
    } else {
      (void)kernels::GemmF32(kernels_, x_.data(), s_.k, s_.m, w, nullptr, y_.data(), s_.n, pool);
    }
  }
  size_t weight_bytes() const override { return packed_.bytes().size(); }

 private:
  GemmShape s_;
  bool a8_;
  const GemmKernels& kernels_;
  kernels::ThreadPool pool_;
  kernels::PackedWeights packed_;
  kernels::QuantizedActivations q_;
  std::vector<float> x_, y_;
};

// The engine's dense fp32 GEMM (fp32 Linear weights, [N][K] in place).
class DenseRunner : public Runner {
 public:
  DenseRunner(const GemmShape& s, bool panels)
      : s_(s), kernels_(kernels::ChosenDenseKernels()), pool_(s.threads), use_panels_(panels) {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    w_.resize(s.n * s.k);
    x_.resize(s.m * s.k);
    for (auto& v : w_) v = normal(rng);
    for (auto& v : x_) v = normal(rng);
    y_.resize(s.m * s.n);
    if (panels) (void)kernels::PackPanels(w_.data(), s.k, s.n, s.k, false, panels_);
  }
  void Run() override {
    kernels::ThreadPool* pool = s_.threads > 1 ? &pool_ : nullptr;
    if (use_panels_) {
      (void)kernels::DenseGemmPanels(kernels_, x_.data(), s_.k, s_.m, panels_, nullptr, y_.data(),
                                     s_.n, pool);
      return;
    }
    (void)kernels::DenseGemm(kernels_, x_.data(), s_.k, s_.m, w_.data(), s_.k, s_.n, s_.k, nullptr,
                             y_.data(), s_.n, s_.threads > 1 ? &pool_ : nullptr);
  }
  size_t weight_bytes() const override { return w_.size() * sizeof(float); }

 private:
  GemmShape s_;
  const kernels::DenseKernels& kernels_;
  kernels::ThreadPool pool_;
  bool use_panels_;
  kernels::DensePanels panels_;
  std::vector<float> w_, x_, y_;
};

}  // namespace

std::unique_ptr<Runner> MakeQasr(const std::string& impl, const GemmShape& s) {
#define QASR_BENCH_FORMAT(name, bits)                                                 \
  if (impl == "qasr_" #name "a8") return std::make_unique<QasrRunner>(bits, true, s); \
  if (impl == "qasr_" #name "f32") return std::make_unique<QasrRunner>(bits, false, s);
  QASR_WEIGHT_FORMATS(QASR_BENCH_FORMAT)
#undef QASR_BENCH_FORMAT
  if (impl == "qasr_f32dense") return std::make_unique<DenseRunner>(s, false);
  if (impl == "qasr_f32panel") return std::make_unique<DenseRunner>(s, true);
  return nullptr;
}

}  // namespace qasr::bench
