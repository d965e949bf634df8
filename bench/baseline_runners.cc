// Baselines in the same run: oneDNN matmul (f32, s8) and XNNPACK
// fully-connected (f32, qs8), each with its preferred weight layout prepared
// at setup.
#include <omp.h>
#include <pthreadpool.h>
#include <xnnpack.h>

#include <limits>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <vector>

#include "bench/runners.h"

namespace qasr::bench {

namespace {

using dnnl::memory;

template <typename T>
std::vector<T> Random(size_t n, int lo, int hi) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(d(rng));
  return v;
}

class OneDnnRunner : public Runner {
 public:
  OneDnnRunner(bool s8, const GemmShape& s)
      : threads_(static_cast<int>(s.threads)), eng_(dnnl::engine::kind::cpu, 0), strm_(eng_) {
    // int8: u8 activations x s8 weights, oneDNN's native int8 pairing (s8 x s8
    // adds a per-call compensation pass over the weights).
    const memory::data_type in = s8 ? memory::data_type::u8 : memory::data_type::f32;
    const memory::data_type wt = s8 ? memory::data_type::s8 : memory::data_type::f32;
    const memory::data_type out = s8 ? memory::data_type::s32 : memory::data_type::f32;
    const memory::dim m = static_cast<memory::dim>(s.m), n = static_cast<memory::dim>(s.n),
                      k = static_cast<memory::dim>(s.k);
    memory::desc ad({m, k}, in, memory::format_tag::ab);
    memory::desc bd_any({k, n}, wt, memory::format_tag::any);
    memory::desc bd_plain({k, n}, wt, memory::format_tag::ab);
    memory::desc cd({m, n}, out, memory::format_tag::ab);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(ad, bd_any, cd), eng_);
    mm_ = dnnl::matmul(pd);
    a_ = memory(ad, eng_);
    c_ = memory(cd, eng_);
    b_ = memory(pd.weights_desc(), eng_);
    memory plain(bd_plain, eng_);
    const size_t elems = s.k * s.n;
    if (s8) {  // 7-bit weights: without VNNI oneDNN's u8*s8 pairs saturate
      auto w = Random<int8_t>(elems, -63, 63);
      std::copy(w.begin(), w.end(), static_cast<int8_t*>(plain.get_data_handle()));
      auto x = Random<uint8_t>(s.m * s.k, 0, 255);
      std::copy(x.begin(), x.end(), static_cast<uint8_t*>(a_.get_data_handle()));
    } else {
      auto w = Random<float>(elems, -8, 8);
      std::copy(w.begin(), w.end(), static_cast<float*>(plain.get_data_handle()));
      auto x = Random<float>(s.m * s.k, -8, 8);
      std::copy(x.begin(), x.end(), static_cast<float*>(a_.get_data_handle()));
    }
    dnnl::reorder(plain, b_).execute(strm_, plain, b_);
    strm_.wait();
    weight_bytes_ = elems * (s8 ? 1 : 4);
  }
  void Run() override {
    omp_set_num_threads(threads_);
    mm_.execute(strm_, {{DNNL_ARG_SRC, a_}, {DNNL_ARG_WEIGHTS, b_}, {DNNL_ARG_DST, c_}});
    strm_.wait();
  }
  size_t weight_bytes() const override { return weight_bytes_; }

 private:
  int threads_;
  dnnl::engine eng_;
  dnnl::stream strm_;
  dnnl::matmul mm_;
  memory a_, b_, c_;
  size_t weight_bytes_ = 0;
};

struct PoolDeleter {
  void operator()(pthreadpool_t p) const { pthreadpool_destroy(p); }
};
struct OpDeleter {
  void operator()(xnn_operator_t op) const { xnn_delete_operator(op); }
};

class XnnRunner : public Runner {
 public:
  XnnRunner(bool qs8, const GemmShape& s) {
    (void)xnn_initialize(nullptr);
    if (s.threads > 1) pool_.reset(pthreadpool_create(s.threads));
    const size_t extra = XNN_EXTRA_BYTES;
    xnn_operator_t op = nullptr;
    if (qs8) {
      auto w = Random<int8_t>(s.n * s.k, -127, 127);
      std::vector<int32_t> bias(s.n, 0);
      xi8_ = Random<int8_t>(s.m * s.k + extra, -127, 127);
      yi8_.resize(s.m * s.n);
      (void)xnn_create_fully_connected_nc_qs8(s.k, s.n, s.k, s.n, 0, 0.05f, 0.01f, w.data(),
                                              bias.data(), 0, 1.0f, -127, 127, 0, &op);
      op_.reset(op);
      (void)xnn_setup_fully_connected_nc_qs8(op, s.m, xi8_.data(), yi8_.data(), pool_.get());
    } else {
      auto w = Random<float>(s.n * s.k, -8, 8);
      xf_ = Random<float>(s.m * s.k + extra / sizeof(float), -8, 8);
      yf_.resize(s.m * s.n);
      (void)xnn_create_fully_connected_nc_f32(s.k, s.n, s.k, s.n, w.data(), nullptr,
                                              -std::numeric_limits<float>::infinity(),
                                              std::numeric_limits<float>::infinity(), 0, &op);
      op_.reset(op);
      (void)xnn_setup_fully_connected_nc_f32(op, s.m, xf_.data(), yf_.data(), pool_.get());
    }
    weight_bytes_ = s.n * s.k * (qs8 ? 1 : 4);
  }
  void Run() override { (void)xnn_run_operator(op_.get(), pool_.get()); }
  size_t weight_bytes() const override { return weight_bytes_; }
  bool ok() const { return op_ != nullptr; }

 private:
  std::unique_ptr<pthreadpool, PoolDeleter> pool_;
  std::unique_ptr<xnn_operator, OpDeleter> op_;
  std::vector<int8_t> xi8_, yi8_;
  std::vector<float> xf_, yf_;
  size_t weight_bytes_ = 0;
};

}  // namespace

std::unique_ptr<Runner> MakeBaseline(const std::string& impl, const GemmShape& s) {
  if (impl == "onednn_f32") return std::make_unique<OneDnnRunner>(false, s);
  if (impl == "onednn_s8") return std::make_unique<OneDnnRunner>(true, s);
  if (impl == "xnnpack_f32" || impl == "xnnpack_qs8") {
    auto r = std::make_unique<XnnRunner>(impl == "xnnpack_qs8", s);
    if (r->ok()) return r;
  }
  return nullptr;
}

}  // namespace qasr::bench
