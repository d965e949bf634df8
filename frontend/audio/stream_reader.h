// Chunked decoding of an audio file, for long recordings: memory stays flat
// however long the file is. Samples are exactly what DecodeFile returns (mono,
// channels averaged, int16 scale), delivered a chunk at a time.
// Thread safety: one thread at a time per object.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "frontend/audio/decode.h"

namespace qasr::frontend {

class AudioFileStream {
 public:
  static Result<AudioFileStream> Open(const std::string& path, const DecodeLimits& limits = {});
  AudioFileStream(AudioFileStream&&) noexcept;
  AudioFileStream& operator=(AudioFileStream&&) noexcept;
  ~AudioFileStream();

  int sample_rate() const;
  // Declared duration in seconds, or a negative value when unknown.
  double duration_s() const;
  // Appends up to `max_frames` samples to `out`; returns how many (0 at the end).
  Result<size_t> Read(size_t max_frames, std::vector<float>* out);

 private:
  struct Impl;
  explicit AudioFileStream(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace qasr::frontend
