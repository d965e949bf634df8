// The C++ API's Model and Recognizer over decoder/pipeline.
#include <cmath>

#include "decoder/api/internal.h"
#include "engine/format/model_file.h"
#include "frontend/audio/decode.h"
#include "qasr/version.h"

namespace qasr {
namespace {

void SetError(Error* error, const Error& e) {
  if (error != nullptr) *error = e;
}

Token ToToken(const decoder::TokenResult& t) { return {t.id, t.text, t.log_prob}; }

Segment ToSegment(const decoder::SegmentResult& s) {
  Segment out;
  out.start_s = s.start_s;
  out.end_s = s.end_s;
  out.text = s.text;
  for (const auto& t : s.tokens) out.tokens.push_back(ToToken(t));
  out.score = s.score;
  out.log_prob = s.log_prob;
  out.confidence = s.confidence;
  for (const auto& n : s.nbest) out.nbest.push_back({n.text, n.ids, n.score, n.log_prob});
  return out;
}

// [-1, 1] float samples read as int16-scale chunks without a full copy.
class ScaledSource : public decoder::AudioSource {
 public:
  ScaledSource(const float* samples, size_t count, int rate)
      : samples_(samples), count_(count), rate_(rate) {}
  int sample_rate() const override { return rate_; }
  double duration_s() const override { return static_cast<double>(count_) / rate_; }
  Result<size_t> Read(size_t max_samples, std::vector<float>* out) override {
    const size_t n = std::min(max_samples, count_ - pos_);
    for (size_t i = 0; i < n; ++i) {
      const float x = samples_[pos_ + i];
      if (!std::isfinite(x)) {
        return InvalidArgument("sample " + std::to_string(pos_ + i) + " is not finite");
      }
      out->push_back(x * frontend::kInt16Scale);
    }
    pos_ += n;
    return n;
  }

 private:
  const float* samples_;
  size_t count_;
  int rate_;
  size_t pos_ = 0;
};

}  // namespace

Error ToError(const Status& status) {
  return {static_cast<ErrorCode>(static_cast<int>(status.code())), status.message()};
}

std::string Transcript::text() const {
  std::string out;
  for (const Segment& s : segments) {
    if (s.text.empty()) continue;
    if (!out.empty()) out += ' ';
    out += s.text;
  }
  return out;
}

const char* VersionString() { return "qasr " QASR_VERSION_STRING; }

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;
int Model::vocab_size() const { return impl_->backend->vocab_size(); }
const std::string& Model::path() const { return impl_->path; }
const std::string& Model::metadata() const { return impl_->metadata; }

std::shared_ptr<const Model> MakeModel(std::string path, std::string metadata,
                                       std::unique_ptr<decoder::Backend> backend,
                                       decoder::Tokenizer tokenizer, Error* error) {
  if (backend->vocab_size() != tokenizer.vocab_size()) {
    SetError(error, ToError(DataLoss("'" + path + "': the tokenizer has " +
                                     std::to_string(tokenizer.vocab_size()) +
                                     " pieces but the model's vocabulary has " +
                                     std::to_string(backend->vocab_size()))));
    return nullptr;
  }
  auto fbank = frontend::Fbank::Create();
  if (!fbank.ok()) {
    SetError(error, ToError(fbank.status()));
    return nullptr;
  }
  SetError(error, {});
  return std::make_shared<const Model>(
      std::make_unique<Model::Impl>(std::move(path), std::move(metadata), std::move(backend),
                                    std::move(tokenizer), std::move(*fbank)));
}

std::shared_ptr<const Model> Model::Load(const std::string& path, const ModelOptions& options,
                                         Error* error) {
  if (options.threads < 1 || options.threads > 1024) {
    SetError(error, ToError(InvalidArgument("threads must be in [1, 1024]")));
    return nullptr;
  }
  engine::LoadOptions load;
  load.verify_checksum = options.verify_checksum;
  load.threads = options.threads;
  auto file = engine::ModelFile::Open(path, load);
  if (!file.ok()) {
    SetError(error, ToError(file.status()));
    return nullptr;
  }
  auto tokenizer = decoder::Tokenizer::Create(file->spm_model(), file->config().vocab_size);
  if (!tokenizer.ok()) {
    SetError(error, ToError(Status(tokenizer.status().code(),
                                   "'" + path + "': " + tokenizer.status().message())));
    return nullptr;
  }
  // The file was just validated (and checksummed if asked): skip it there.
  auto backend = decoder::LoadEngineBackend(path, options.threads, false);
  if (!backend.ok()) {
    SetError(error, ToError(backend.status()));
    return nullptr;
  }
  return MakeModel(path, std::string(file->metadata()), std::move(*backend), std::move(*tokenizer),
                   error);
}

struct __attribute__((visibility("hidden"))) Recognizer::Impl {
  Impl(std::shared_ptr<const Model> m, const RecognizerOptions& o, decoder::Transcriber t)
      : model(std::move(m)), options(o), transcriber(std::move(t)) {}
  std::shared_ptr<const Model> model;
  RecognizerOptions options;
  decoder::Transcriber transcriber;
  std::atomic<bool> cancel{false};

  Error Run(decoder::AudioSource& source, Transcript* out);
};

Error Recognizer::Impl::Run(decoder::AudioSource& source, Transcript* out) {
  std::vector<decoder::SegmentResult> segments;
  decoder::TranscribeCallbacks cb;
  cb.check = [this]() -> Status {
    if (cancel.load(std::memory_order_relaxed) ||
        (options.should_cancel && options.should_cancel())) {
      return Cancelled("transcription cancelled");
    }
    return Status::Ok();
  };
  double consumed = 0;
  cb.progress = [&](double processed, double total) {
    consumed = processed;
    if (options.on_progress) options.on_progress({processed, total, segments.size()});
  };
  if (options.on_segment) {
    cb.segment = [this](const decoder::SegmentResult& s) { options.on_segment(ToSegment(s)); };
  }
  const Status status = transcriber.Run(source, cb, &segments);
  if (status.code() == StatusCode::kCancelled) cancel.store(false);
  out->segments.clear();
  for (const auto& s : segments) out->segments.push_back(ToSegment(s));
  out->duration_s = consumed;
  return ToError(status);
}

Recognizer::Recognizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Recognizer::~Recognizer() = default;

std::unique_ptr<Recognizer> Recognizer::Create(std::shared_ptr<const Model> model,
                                               const RecognizerOptions& o, Error* error) {
  if (!model) {
    SetError(error, ToError(InvalidArgument("no model")));
    return nullptr;
  }
  decoder::TranscribeOptions t;
  t.threads = o.threads;
  t.search.beam = o.beam;
  t.search.nbest = o.nbest;
  t.search.max_len_a = o.max_len_a;
  t.search.max_len_b = o.max_len_b;
  t.search.len_pen = o.len_pen;
  t.search.loop_max_repeats = o.loop_max_repeats;
  t.search.no_repeat_ngram_size = o.no_repeat_ngram_size;
  t.search.ctc_pre_beam = o.ctc_pre_beam;
  t.vad.enabled = o.vad;
  t.vad.max_segment_s = o.max_segment_s;
  t.vad.min_pause_s = o.min_pause_s;
  if (o.loop_max_repeats < 0 || o.no_repeat_ngram_size < 0 || !std::isfinite(o.len_pen) ||
      !std::isfinite(o.max_len_a) || o.max_len_b < 0) {
    SetError(error, ToError(InvalidArgument("invalid search settings")));
    return nullptr;
  }
  const Model::Impl& m = model->impl();
  t.search.ctc_weight =
      o.ctc_weight < 0.0 ? (m.backend->has_ctc() ? decoder::kDefaultCtcWeight : 0.0) : o.ctc_weight;
  auto transcriber = decoder::Transcriber::Create(*m.backend, m.tokenizer, m.fbank, t);
  if (!transcriber.ok()) {
    SetError(error, ToError(transcriber.status()));
    return nullptr;
  }
  SetError(error, {});
  return std::make_unique<Recognizer>(
      std::make_unique<Impl>(std::move(model), o, std::move(*transcriber)));
}

Error Recognizer::TranscribeFile(const std::string& path, Transcript* out) {
  auto source = decoder::OpenAudioFile(path);
  if (!source.ok()) {
    out->segments.clear();
    return ToError(source.status());
  }
  return impl_->Run(**source, out);
}

Error Recognizer::TranscribeEncoded(const uint8_t* data, size_t size, Transcript* out) {
  out->segments.clear();
  if (data == nullptr && size > 0) return ToError(InvalidArgument("null data"));
  auto wave = frontend::DecodeMemory({data, size});
  if (!wave.ok()) return ToError(wave.status());
  decoder::MemoryAudioSource source(wave->samples, wave->sample_rate);
  return impl_->Run(source, out);
}

Error Recognizer::TranscribeSamples(const float* samples, size_t count, int sample_rate,
                                    Transcript* out) {
  out->segments.clear();
  if (samples == nullptr && count > 0) return ToError(InvalidArgument("null samples"));
  if (sample_rate < 1000 || sample_rate > 768000) {
    return ToError(InvalidArgument("sample rate " + std::to_string(sample_rate) +
                                   " Hz is outside [1000, 768000]"));
  }
  ScaledSource source(samples, count, sample_rate);
  return impl_->Run(source, out);
}

void Recognizer::Cancel() { impl_->cancel.store(true); }

}  // namespace qasr
