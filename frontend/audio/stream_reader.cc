#include "frontend/audio/stream_reader.h"

#include <sndfile.h>

#include <cmath>

namespace qasr::frontend {

struct AudioFileStream::Impl {
  SNDFILE* file = nullptr;
  SF_INFO info{};
  std::string path;
  DecodeLimits limits;
  size_t delivered = 0;
  std::vector<float> chunk;
  ~Impl() {
    if (file != nullptr) sf_close(file);
  }
};

AudioFileStream::AudioFileStream(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
AudioFileStream::AudioFileStream(AudioFileStream&&) noexcept = default;
AudioFileStream& AudioFileStream::operator=(AudioFileStream&&) noexcept = default;
AudioFileStream::~AudioFileStream() = default;

Result<AudioFileStream> AudioFileStream::Open(const std::string& path, const DecodeLimits& limits) {
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  impl->limits = limits;
  impl->file = sf_open(path.c_str(), SFM_READ, &impl->info);
  const SF_INFO& info = impl->info;
  if (impl->file == nullptr || info.channels < 1 || info.channels > limits.max_channels ||
      info.samplerate < limits.min_sample_rate || info.samplerate > limits.max_sample_rate ||
      (info.frames != SF_COUNT_MAX &&
       static_cast<double>(info.frames) > limits.max_duration_s * info.samplerate)) {
    // The whole-file decoder names the defect precisely (and fails as early).
    auto whole = DecodeFile(path, limits);
    if (!whole.ok()) return whole.status();
    return DataLoss("cannot decode '" + path + "'");
  }
  return AudioFileStream(std::move(impl));
}

int AudioFileStream::sample_rate() const { return impl_->info.samplerate; }

double AudioFileStream::duration_s() const {
  if (impl_->info.frames == SF_COUNT_MAX || impl_->info.frames < 0) return -1.0;
  return static_cast<double>(impl_->info.frames) / impl_->info.samplerate;
}

Result<size_t> AudioFileStream::Read(size_t max_frames, std::vector<float>* out) {
  Impl& s = *impl_;
  const auto channels = static_cast<size_t>(s.info.channels);
  s.chunk.resize(max_frames * channels);
  const sf_count_t got =
      sf_readf_float(s.file, s.chunk.data(), static_cast<sf_count_t>(max_frames));
  if (got < 0 || (got == 0 && sf_error(s.file) != SF_ERR_NO_ERROR)) {
    return DataLoss("'" + s.path + "': decoding failed: " + sf_strerror(s.file));
  }
  const auto frames = static_cast<size_t>(got);
  if (static_cast<double>(s.delivered + frames) > s.limits.max_duration_s * s.info.samplerate) {
    return OutOfRange("'" + s.path + "': audio is longer than the limit of " +
                      std::to_string(s.limits.max_duration_s) + " s");
  }
  for (size_t i = 0; i < frames * channels; ++i) {
    if (!std::isfinite(s.chunk[i])) {
      return DataLoss("'" + s.path + "': non-finite sample (NaN or infinity) at frame " +
                      std::to_string(s.delivered + i / channels));
    }
  }
  const size_t old = out->size();
  out->resize(old + frames);
  float* dst = out->data() + old;
  if (channels == 1) {
    for (size_t f = 0; f < frames; ++f) dst[f] = s.chunk[f] * kInt16Scale;
  } else {
    const float scale = kInt16Scale / static_cast<float>(channels);
    for (size_t f = 0; f < frames; ++f) {
      float sum = 0.0f;
      for (size_t c = 0; c < channels; ++c) sum += s.chunk[f * channels + c];
      dst[f] = sum * scale;
    }
  }
  s.delivered += frames;
  return frames;
}

}  // namespace qasr::frontend
