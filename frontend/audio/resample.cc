#include "frontend/audio/resample.h"

#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace qasr::frontend {

struct StreamingResampler::Impl {
  struct Deleter {
    void operator()(soxr* s) const { soxr_delete(s); }
  };
  std::unique_ptr<struct soxr, Deleter> handle;
  double ratio = 1.0;
};

namespace {
constexpr int kMaxRate = 10'000'000;
constexpr size_t kProcessSlack = 256;  // output room beyond the rate ratio per Process() call
constexpr size_t kFlushRoom = 4096;    // output room per flush step in Finish()
}  // namespace

StreamingResampler::StreamingResampler(int in_rate, int out_rate, std::unique_ptr<Impl> impl)
    : in_rate_(in_rate), out_rate_(out_rate), impl_(std::move(impl)) {}
StreamingResampler::StreamingResampler(StreamingResampler&&) noexcept = default;
StreamingResampler& StreamingResampler::operator=(StreamingResampler&&) noexcept = default;
StreamingResampler::~StreamingResampler() = default;

Result<StreamingResampler> StreamingResampler::Create(int in_rate, int out_rate,
                                                      ResampleQuality quality) {
  if (in_rate < 1 || in_rate > kMaxRate || out_rate < 1 || out_rate > kMaxRate) {
    return InvalidArgument("resample: rates must be in [1, 10^7] Hz, got " +
                           std::to_string(in_rate) + " -> " + std::to_string(out_rate));
  }
  if (in_rate == out_rate) return StreamingResampler(in_rate, out_rate, nullptr);
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t q =
      soxr_quality_spec(quality == ResampleQuality::kVeryHigh ? SOXR_VHQ : SOXR_HQ, 0);
  const soxr_runtime_spec_t runtime = soxr_runtime_spec(1);
  soxr_error_t error = nullptr;
  auto impl = std::make_unique<Impl>();
  impl->handle.reset(soxr_create(in_rate, out_rate, 1, &error, &io, &q, &runtime));
  if (error != nullptr || !impl->handle) {
    return Internal(std::string("resample: soxr_create failed: ") + (error ? error : "unknown"));
  }
  impl->ratio = static_cast<double>(out_rate) / in_rate;
  return StreamingResampler(in_rate, out_rate, std::move(impl));
}

Status StreamingResampler::Process(std::span<const float> input, std::vector<float>* out) {
  if (finished_) return InvalidArgument("resample: Process() after Finish()");
  if (!impl_) {
    out->insert(out->end(), input.begin(), input.end());
    return Status::Ok();
  }
  if (input.empty()) return Status::Ok();  // a null input would tell soxr to flush
  size_t consumed = 0;
  do {
    const size_t remaining = input.size() - consumed;
    const size_t room = static_cast<size_t>(std::ceil(remaining * impl_->ratio)) + kProcessSlack;
    const size_t old = out->size();
    out->resize(old + room);
    size_t idone = 0;
    size_t odone = 0;
    const soxr_error_t error = soxr_process(impl_->handle.get(), input.data() + consumed, remaining,
                                            &idone, out->data() + old, room, &odone);
    out->resize(old + odone);
    if (error != nullptr) return Internal(std::string("resample: ") + error);
    consumed += idone;
    if (idone == 0 && odone == 0 && consumed < input.size()) {
      return Internal("resample: soxr made no progress");
    }
  } while (consumed < input.size());
  return Status::Ok();
}

Status StreamingResampler::Finish(std::vector<float>* out) {
  if (finished_) return InvalidArgument("resample: Finish() called twice");
  finished_ = true;
  if (!impl_) return Status::Ok();
  for (;;) {
    const size_t old = out->size();
    out->resize(old + kFlushRoom);
    size_t odone = 0;
    const soxr_error_t error = soxr_process(impl_->handle.get(), nullptr, 0, nullptr,
                                            out->data() + old, kFlushRoom, &odone);
    out->resize(old + odone);
    if (error != nullptr) return Internal(std::string("resample: ") + error);
    if (odone == 0) break;
  }
  return Status::Ok();
}

Result<std::vector<float>> Resample(std::span<const float> input, int in_rate, int out_rate,
                                    ResampleQuality quality) {
  auto resampler = StreamingResampler::Create(in_rate, out_rate, quality);
  if (!resampler.ok()) return resampler.status();
  std::vector<float> out;
  // Room for Process()'s and Finish()'s output windows: the vector is never
  // reallocated (and copied) on the way.
  out.reserve(static_cast<size_t>(std::ceil(input.size() * (double(out_rate) / in_rate))) +
              kProcessSlack + kFlushRoom);
  QASR_RETURN_IF_ERROR(resampler->Process(input, &out));
  QASR_RETURN_IF_ERROR(resampler->Finish(&out));
  return out;
}

}  // namespace qasr::frontend
