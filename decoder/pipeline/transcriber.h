// The recognition pipeline behind the public API: audio (any rate, streamed)
// -> 16 kHz -> VAD segments -> per segment fbank + CMVN -> encoder -> search
// -> detokenised text with timestamps, token log-probs and n-best lists.
// Thread safety: a Transcriber (it owns one BackendSession) is used by one
// thread at a time; the Backend, Tokenizer and Fbank it borrows are shared.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "decoder/pipeline/backend.h"
#include "decoder/pipeline/vad.h"
#include "decoder/search/search.h"
#include "decoder/tokenizer/tokenizer.h"
#include "frontend/features/fbank.h"

namespace qasr::decoder {

struct TranscribeOptions {
  SearchOptions search;
  VadOptions vad;
  int threads = 1;
};

struct TokenResult {
  int32_t id = 0;
  std::string text;  // what the token adds to the text ("▁" as a space)
  float log_prob = 0.0f;
};

struct NBestEntry {
  std::vector<int32_t> ids;
  std::string text;
  double score = 0.0;
  double log_prob = 0.0;
};

struct SegmentResult {
  double start_s = 0.0, end_s = 0.0;
  std::string text;
  std::vector<TokenResult> tokens;  // the best hypothesis, then EOS
  double score = 0.0, log_prob = 0.0, confidence = 0.0;
  std::vector<NBestEntry> nbest;  // best first; nbest[0] is the best hypothesis
};

// A mono audio stream at its own rate, int16 scale.
class AudioSource {
 public:
  virtual ~AudioSource() = default;
  virtual int sample_rate() const = 0;
  virtual double duration_s() const = 0;  // < 0: unknown
  virtual Result<size_t> Read(size_t max_samples, std::vector<float>* out) = 0;
};

// Wraps samples held in memory (not copied; they must outlive the source).
class MemoryAudioSource : public AudioSource {
 public:
  MemoryAudioSource(std::span<const float> samples, int rate) : samples_(samples), rate_(rate) {}
  int sample_rate() const override { return rate_; }
  double duration_s() const override { return static_cast<double>(samples_.size()) / rate_; }
  Result<size_t> Read(size_t max_samples, std::vector<float>* out) override;

 private:
  std::span<const float> samples_;
  int rate_;
  size_t pos_ = 0;
};

// Streams a file from disk (flat memory).
Result<std::unique_ptr<AudioSource>> OpenAudioFile(const std::string& path);

struct TranscribeCallbacks {
  // Seconds of input consumed so far and the total (< 0 when unknown).
  std::function<void(double processed_s, double total_s)> progress;
  // Polled between audio chunks and before every decoder step; a non-OK
  // Status (Cancelled) stops the run.
  StepCheck check;
  std::function<void(const SegmentResult&)> segment;
};

class Transcriber {
 public:
  static Result<Transcriber> Create(const Backend& backend, const Tokenizer& tokenizer,
                                    const frontend::Fbank& fbank, const TranscribeOptions& options);

  // Transcribes a whole recording, appending its segments to `out` (also on
  // failure: the segments finished before it).
  Status Run(AudioSource& source, const TranscribeCallbacks& callbacks,
             std::vector<SegmentResult>* out);
  // One segment of 16 kHz int16-scale samples.
  Result<SegmentResult> Recognize(std::span<const float> samples, const StepCheck& check);

 private:
  Transcriber(const Tokenizer& tokenizer, const frontend::Fbank& fbank,
              std::unique_ptr<BackendSession> session, const TranscribeOptions& options)
      : tokenizer_(&tokenizer), fbank_(&fbank), session_(std::move(session)), options_(options) {}
  const Tokenizer* tokenizer_;
  const frontend::Fbank* fbank_;
  std::unique_ptr<BackendSession> session_;
  TranscribeOptions options_;
};

}  // namespace qasr::decoder
