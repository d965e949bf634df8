#include "decoder/pipeline/transcriber.h"

#include <algorithm>

#include "frontend/audio/resample.h"
#include "frontend/audio/stream_reader.h"
#include "frontend/features/cmvn.h"

namespace qasr::decoder {
namespace {

constexpr int kRate = 16000;
constexpr size_t kMinFrames = 8;

class FileAudioSource : public AudioSource {
 public:
  explicit FileAudioSource(frontend::AudioFileStream stream) : stream_(std::move(stream)) {}
  int sample_rate() const override { return stream_.sample_rate(); }
  double duration_s() const override { return stream_.duration_s(); }
  Result<size_t> Read(size_t max_samples, std::vector<float>* out) override {
    return stream_.Read(max_samples, out);
  }

 private:
  frontend::AudioFileStream stream_;
};

}  // namespace

Result<size_t> MemoryAudioSource::Read(size_t max_samples, std::vector<float>* out) {
  const size_t n = std::min(max_samples, samples_.size() - pos_);
  out->insert(out->end(), samples_.begin() + static_cast<ptrdiff_t>(pos_),
              samples_.begin() + static_cast<ptrdiff_t>(pos_ + n));
  pos_ += n;
  return n;
}

Result<std::unique_ptr<AudioSource>> OpenAudioFile(const std::string& path) {
  auto stream = frontend::AudioFileStream::Open(path);
  if (!stream.ok()) return stream.status();
  return std::unique_ptr<AudioSource>(std::make_unique<FileAudioSource>(std::move(*stream)));
}

Result<Transcriber> Transcriber::Create(const Backend& backend, const Tokenizer& tokenizer,
                                        const frontend::Fbank& fbank,
                                        const TranscribeOptions& options) {
  if (options.threads < 1 || options.threads > 1024) {
    return InvalidArgument("threads must be in [1, 1024]");
  }
  if (options.search.beam < 1 || options.search.beam > 1024) {
    return InvalidArgument("beam must be in [1, 1024]");
  }
  if (options.search.nbest < 1 || options.search.nbest > options.search.beam) {
    return InvalidArgument("nbest must be in [1, beam]");
  }
  if (!(options.search.ctc_weight >= 0.0 && options.search.ctc_weight < 1.0) ||
      options.search.ctc_pre_beam < 0) {
    return InvalidArgument("the CTC weight must be in [0, 1) and the pre-beam >= 0");
  }
  if (options.search.ctc_weight > 0.0 && !backend.has_ctc()) {
    return InvalidArgument("the model has no CTC head: set the CTC weight to 0");
  }
  auto probe = Segmenter::Create(options.vad, kRate);
  if (!probe.ok()) return probe.status();
  auto session = backend.NewSession(options.threads);
  if (!session.ok()) return session.status();
  return Transcriber(tokenizer, fbank, std::move(*session), options);
}

Result<SegmentResult> Transcriber::Recognize(std::span<const float> samples,
                                             const StepCheck& check) {
  SegmentResult seg;
  auto feats = fbank_->Compute(samples);
  if (!feats.ok()) return feats.status();
  // Under ~0.1 s (e.g. the tail of a fixed-length cut) holds no word.
  if (feats->num_frames < kMinFrames) return seg;
  frontend::ApplyCmvn(&feats.value());
  QASR_RETURN_IF_ERROR(session_->Encode(feats->data, feats->num_frames));
  const size_t frames = session_->encoder_frames();
  std::vector<Hypothesis> hyps;
  if (options_.search.beam == 1 && options_.search.ctc_weight == 0.0) {
    auto h = GreedySearch(*session_, frames, options_.search, check);
    if (!h.ok()) return h.status();
    hyps.push_back(std::move(*h));
  } else {
    CtcPosteriors ctc;
    if (options_.search.ctc_weight > 0.0) {
      auto c = session_->Ctc();
      if (!c.ok()) return c.status();
      ctc = *c;
    }
    auto r = BeamSearch(*session_, frames, options_.search, check, &ctc);
    if (!r.ok()) return r.status();
    hyps = std::move(*r);
  }
  if (hyps.empty()) return seg;
  const Hypothesis& best = hyps[0];
  for (size_t i = 0; i < best.token_log_probs.size(); ++i) {
    TokenResult t;
    t.id = i < best.tokens.size() ? best.tokens[i] : kEosId;
    t.text = i < best.tokens.size() ? tokenizer_->TokenText(t.id) : "";
    t.log_prob = best.token_log_probs[i];
    seg.tokens.push_back(std::move(t));
  }
  seg.text = tokenizer_->Decode(best.tokens);
  seg.score = best.score;
  seg.log_prob = best.log_prob;
  seg.confidence = best.confidence();
  for (const Hypothesis& h : hyps) {
    seg.nbest.push_back({h.tokens, tokenizer_->Decode(h.tokens), h.score, h.log_prob});
  }
  return seg;
}

Status Transcriber::Run(AudioSource& source, const TranscribeCallbacks& callbacks,
                        std::vector<SegmentResult>* out) {
  const int rate = source.sample_rate();
  auto resampler = frontend::StreamingResampler::Create(rate, kRate);
  if (!resampler.ok()) return resampler.status();
  auto segmenter = Segmenter::Create(options_.vad, kRate);
  if (!segmenter.ok()) return segmenter.status();
  const double total_s = source.duration_s();
  const Segmenter::Emit emit = [&](AudioSegment&& audio) -> Status {
    auto seg = Recognize(audio.samples, callbacks.check);
    if (!seg.ok()) return seg.status();
    seg->start_s = audio.start_s(kRate);
    seg->end_s = audio.end_s(kRate);
    out->push_back(std::move(*seg));
    if (callbacks.segment) callbacks.segment(out->back());
    return Status::Ok();
  };
  std::vector<float> chunk, resampled;
  const auto chunk_samples = static_cast<size_t>(std::max(rate / 2, 1));
  for (;;) {
    if (callbacks.check) QASR_RETURN_IF_ERROR(callbacks.check());
    chunk.clear();
    auto got = source.Read(chunk_samples, &chunk);
    if (!got.ok()) return got.status();
    resampled.clear();
    if (*got == 0) {
      QASR_RETURN_IF_ERROR(resampler->Finish(&resampled));
      QASR_RETURN_IF_ERROR(segmenter->Accept(resampled, emit));
      QASR_RETURN_IF_ERROR(segmenter->Finish(emit));
      break;
    }
    QASR_RETURN_IF_ERROR(resampler->Process(chunk, &resampled));
    QASR_RETURN_IF_ERROR(segmenter->Accept(resampled, emit));
    if (callbacks.progress) {
      callbacks.progress(static_cast<double>(segmenter->samples_accepted()) / kRate, total_s);
    }
  }
  if (callbacks.progress) {
    const double done = static_cast<double>(segmenter->samples_accepted()) / kRate;
    callbacks.progress(done, total_s < 0 ? done : total_s);
  }
  return Status::Ok();
}

}  // namespace qasr::decoder
