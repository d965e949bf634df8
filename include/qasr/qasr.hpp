// qasr C++ API: speech recognition with low-bit transformer models on CPUs.
//
//   auto model = qasr::Model::Load("models/small-w8.qasr", {}, &error);
//   auto rec = qasr::Recognizer::Create(model, {}, &error);
//   qasr::Transcript t;
//   qasr::Error e = rec->TranscribeFile("talk.flac", &t);
//
// Thread safety: a Model is immutable once loaded; share one
// std::shared_ptr<const Model> between any number of threads. A Recognizer
// holds per-utterance state (encoder output, decoder caches): use one per
// thread. Recognizer::Cancel() is the only member that may be called from
// another thread while a Transcribe* call runs. Results are identical however
// many recognizers share a model.
//
// Errors never throw and never abort: functions return an Error (code +
// message) or fill `error`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#ifndef QASR_API
#define QASR_API __attribute__((visibility("default")))
#endif

namespace qasr {

// Same values as the C API's qasr_status.
enum class ErrorCode : int {
  kOk = 0,
  kInvalidArgument = 1,  // bad parameter
  kNotFound = 2,         // missing file
  kDataLoss = 3,         // corrupt model or audio
  kUnimplemented = 4,    // valid but unsupported (codec, no engine runtime)
  kOutOfRange = 5,       // beyond limits (e.g. audio too long)
  kResourceExhausted = 6,
  kCancelled = 7,
  kInternal = 8,
};

struct Error {
  ErrorCode code = ErrorCode::kOk;
  std::string message;
  bool ok() const { return code == ErrorCode::kOk; }
};

struct ModelOptions {
  int threads = 1;              // threads used while loading
  bool verify_checksum = true;  // CRC-32 of the whole file
};

struct Token {
  int32_t id = 0;      // model / SentencePiece id (2 = end of sentence)
  std::string text;    // text the token adds ("▁" shown as a space); empty for EOS
  float log_prob = 0;  // log-probability the search gave it
};

struct Alternative {
  std::string text;
  std::vector<int32_t> ids;
  double score = 0;     // length-normalised log-probability
  double log_prob = 0;  // total log-probability including EOS
};

struct Segment {
  double start_s = 0, end_s = 0;  // position in the input
  std::string text;
  std::vector<Token> tokens;  // best hypothesis; the last one is EOS when it ended
  double score = 0;           // length-normalised log-probability
  double log_prob = 0;
  double confidence = 0;           // exp(mean token log-probability), in [0, 1]
  std::vector<Alternative> nbest;  // best first (nbest[0] is this segment's text)
};

struct Transcript {
  std::vector<Segment> segments;
  double duration_s = 0;  // audio consumed
  // The segments' texts joined by spaces.
  QASR_API std::string text() const;
};

struct Progress {
  double processed_s = 0;  // audio consumed so far
  double total_s = -1;     // total duration, < 0 when unknown (streams)
  size_t segments = 0;     // segments finished so far
};

struct RecognizerOptions {
  int beam = 5;            // 1 = greedy search
  int nbest = 1;           // alternatives per segment, at most beam
  int threads = 1;         // threads for this recognizer's encoder/decoder
  double max_len_a = 0.0;  // max tokens per segment = a * encoder frames + b
  int max_len_b = 200;
  double len_pen = 1.0;
  // Repetition guard: a unit of 1..4 tokens may repeat at most this many
  // times in a row (0 = off). Only degenerate loops are this repetitive.
  int loop_max_repeats = 8;
  int no_repeat_ngram_size = 0;  // fairseq's n-gram blocking (0 = off)
  // Joint CTC/attention search: weight of the CTC prefix score in [0, 1);
  // < 0 picks 0.5 for a model with a CTC head and 0 (attention only) for
  // one without; > 0 with a model without a head is an error.
  double ctc_weight = -1.0;
  int ctc_pre_beam = 0;  // tokens per hypothesis scored by CTC (0: all)
  bool vad = true;       // split at pauses; false: fixed-length cuts only
  double max_segment_s = 20.0;
  double min_pause_s = 0.3;
  // Called after every chunk of audio consumed (about 0.5 s).
  std::function<void(const Progress&)> on_progress;
  // Called as each segment is finished, in order.
  std::function<void(const Segment&)> on_segment;
  // Polled before every decoder step and audio chunk; return true to cancel.
  std::function<bool()> should_cancel;
};

class QASR_API Model {
 public:
  // Loads and validates a .qasr file. nullptr (and `error` set) on failure.
  static std::shared_ptr<const Model> Load(const std::string& path,
                                           const ModelOptions& options = {},
                                           Error* error = nullptr);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  int vocab_size() const;
  const std::string& path() const;
  // The model file's metadata (a JSON object's text).
  const std::string& metadata() const;

  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);
  const Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

class QASR_API Recognizer {
 public:
  static std::unique_ptr<Recognizer> Create(std::shared_ptr<const Model> model,
                                            const RecognizerOptions& options = {},
                                            Error* error = nullptr);
  ~Recognizer();
  Recognizer(const Recognizer&) = delete;
  Recognizer& operator=(const Recognizer&) = delete;

  // Any audio file libsndfile reads (WAV, FLAC, Ogg, MP3, ...), streamed from
  // disk: memory stays flat however long it is. On failure `out` holds the
  // segments finished before it (e.g. on cancellation).
  Error TranscribeFile(const std::string& path, Transcript* out);
  // A whole audio file held in memory (e.g. read from stdin).
  Error TranscribeEncoded(const uint8_t* data, size_t size, Transcript* out);
  // Mono float samples in [-1, 1] at any sample rate.
  Error TranscribeSamples(const float* samples, size_t count, int sample_rate, Transcript* out);

  // Cancels the running (or, if none runs, the next) Transcribe* call, which
  // returns ErrorCode::kCancelled. Safe to call from any thread.
  void Cancel();

  struct Impl;
  explicit Recognizer(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

// "qasr 0.1.0"
QASR_API const char* VersionString();

}  // namespace qasr
