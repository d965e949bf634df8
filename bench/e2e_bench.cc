// bench_e2e: one end-to-end transcription with the qasr engine, timed:
// audio file -> frontend (decode, resample, fbank, CMVN) -> encoder -> beam
// search (decoder::BeamSearch: fairseq semantics, cached incremental decoder
// steps) -> token ids.
// Prints one JSON object (times in seconds; CPU time of the whole process
// over the same interval, because the bench machine is shared). bench/e2e
// runs it in a separate process per case (peak RSS) next to PyTorch.
//
// usage: bench_e2e --model M.qasr --audio A.wav [--threads 1] [--beam 5]
//                  [--min-len 1] [--max-len 200] [--repeat 1]
// --min-len N --max-len N forces exactly N + 1 decoder steps (EOS is banned
// before step N and forced at step N), which makes random-weight models do
// the same work as PyTorch's decode.py with BeamConfig(min_len=N, max_len_b=N).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "decoder/search/search.h"
#include "engine/runtime/session.h"
#include "frontend/frontend.h"

namespace qasr::bench {
namespace {

struct Args {
  std::string model, audio;
  int threads = 1, beam = 5, min_len = 1, max_len = 200, repeat = 1;
  double ctc_weight = 0.0;  // > 0: joint CTC/attention search (the model needs a CTC head)
};

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double CpuNow() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// The engine session as the decoder's StepModel (buffers sized for the
// whole search up front, so Step never reallocates).
class SessionStepModel : public decoder::StepModel {
 public:
  SessionStepModel(engine::Session& session, int max_steps)
      : session_(session), max_steps_(max_steps) {}
  int vocab_size() const override { return session_.model().vocab_size(); }
  Status Begin(int max_rows) override { return session_.BeginDecode(max_rows, max_steps_); }
  Status Step(std::span<const int32_t> parents, std::span<const int32_t> tokens,
              std::span<float> log_probs) override {
    ++steps;
    return session_.Step(parents, tokens, log_probs);
  }
  int steps = 0;

 private:
  engine::Session& session_;
  int max_steps_;
};

struct SearchResult {
  std::vector<int32_t> tokens;
  int steps = 0;
};

// decoder::BeamSearch (fairseq semantics, as tools/qasr/decode.py) with
// max_len_a = 0, so max_len = max_len_b for every clip.
Result<SearchResult> Search(engine::Session& s, int beam, int min_len, int max_len,
                            double ctc_weight) {
  decoder::SearchOptions o;
  o.beam = beam;
  o.min_len = min_len;
  o.max_len_a = 0.0;
  o.max_len_b = max_len;
  o.ctc_weight = ctc_weight;
  decoder::CtcPosteriors ctc;
  if (ctc_weight > 0.0) {  // the CTC head's cost is part of the search
    auto lp = s.CtcLogProbs();
    if (!lp.ok()) return lp.status();
    ctc = {*lp, s.encoder_valid_frames(), static_cast<size_t>(s.model().vocab_size()) + 1};
  }
  SessionStepModel step_model(s, max_len + 2);
  auto hyps = decoder::BeamSearch(step_model, s.encoder_valid_frames(), o, {}, &ctc);
  if (!hyps.ok()) return hyps.status();
  SearchResult r;
  if (!hyps->empty()) r.tokens = hyps->front().tokens;
  r.steps = step_model.steps;
  return r;
}

// A /proc/self/status field in MiB ("VmHWM": peak resident set so far,
// "VmRSS": now); 0 where /proc is missing.
double StatusMb(const char* field) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  double kb = 0;
  const size_t n = std::strlen(field);
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::strncmp(line, field, n) == 0 && line[n] == ':' &&
        std::sscanf(line + n + 1, "%lf", &kb) == 1)
      break;
  std::fclose(f);
  return kb / 1024.0;
}
double PeakRssMb() { return StatusMb("VmHWM"); }

int Fail(const char* what, const Status& st) {
  std::fprintf(stderr, "bench_e2e: %s: %s\n", what, st.ToString().c_str());
  return 1;
}

int Run(const Args& a) {
  // Load time: first without the whole-file CRC (what an app that trusts its
  // file pays), then the default (CRC-32 over the whole file).
  double t0 = Now();
  double load_nocrc_s = 0;
  {
    auto nocrc = engine::Model::Load(a.model, {a.threads, false});
    load_nocrc_s = Now() - t0;
    if (!nocrc.ok()) return Fail("load", nocrc.status());
  }  // unmapped again: only one copy counts in peak RSS
  t0 = Now();
  auto loaded = engine::Model::Load(a.model, {a.threads, true});
  const double load_s = Now() - t0;
  if (!loaded.ok()) return Fail("load", loaded.status());
  std::shared_ptr<const engine::Model> model = *loaded;
  const double rss_load_mb = PeakRssMb();

  engine::Session session(model, a.threads);
  auto fbank = frontend::Fbank::Create();
  if (!fbank.ok()) return Fail("fbank", fbank.status());

  double best_wall = std::numeric_limits<double>::infinity(), best_cpu = 0, feat_s = 0, enc_s = 0,
         dec_s = 0, audio_s = 0;
  // Memory by phase (first repetition): peak up to the end of the encoder,
  // and what stays resident into the search.
  double peak_encode_mb = 0, rss_after_encode_mb = 0;
  size_t frames = 0;
  SearchResult result;
  std::vector<double> rep_encode_s, rep_decode_s;  // every repetition, in order
  for (int rep = 0; rep < a.repeat; ++rep) {
    const double w0 = Now(), c0 = CpuNow();
    double w1 = 0, rep_audio_s = 0;
    size_t rep_frames = 0;
    {  // the audio and features are freed before the search, as in an app
      auto wave = frontend::DecodeFile(a.audio);
      if (!wave.ok()) return Fail("decode", wave.status());
      auto wave16 = frontend::ToFeatureRate(*wave, frontend::ResampleQuality::kHigh);
      if (!wave16.ok()) return Fail("resample", wave16.status());
      auto feats = frontend::ComputeFeatures(*fbank, *wave16);
      if (!feats.ok()) return Fail("features", feats.status());
      w1 = Now();
      if (Status st = session.Encode(feats->data, feats->num_frames); !st.ok())
        return Fail("encode", st);
      rep_audio_s = wave->duration_s();
      rep_frames = feats->num_frames;
    }
    const double w2 = Now();
    if (rep == 0) {
      peak_encode_mb = PeakRssMb();
      rss_after_encode_mb = StatusMb("VmRSS");
    }
    auto r = Search(session, a.beam, a.min_len, a.max_len, a.ctc_weight);
    if (!r.ok()) return Fail("search", r.status());
    const double w3 = Now(), c3 = CpuNow();
    rep_encode_s.push_back(w2 - w1);
    rep_decode_s.push_back(w3 - w2);
    if (w3 - w0 < best_wall) {
      best_wall = w3 - w0;
      best_cpu = c3 - c0;
      feat_s = w1 - w0;
      enc_s = w2 - w1;
      dec_s = w3 - w2;
      audio_s = rep_audio_s;
      frames = rep_frames;
      result = std::move(*r);
    }
  }
  std::printf(
      "{\"wall_s\": %.6f, \"cpu_s\": %.6f, \"features_s\": %.6f, \"encode_s\": %.6f, "
      "\"decode_s\": %.6f, \"load_s\": %.6f, \"load_nocrc_s\": %.6f, \"audio_s\": %.4f, "
      "\"peak_rss_after_load_mb\": %.1f, \"peak_rss_after_encode_mb\": %.1f, "
      "\"rss_after_encode_mb\": %.1f, \"frames\": %zu, \"steps\": %d, \"tokens\": [",
      best_wall, best_cpu, feat_s, enc_s, dec_s, load_s, load_nocrc_s, audio_s, rss_load_mb,
      peak_encode_mb, rss_after_encode_mb, frames, result.steps);
  for (size_t i = 0; i < result.tokens.size(); ++i)
    std::printf("%s%d", i ? ", " : "", result.tokens[i]);
  std::printf("], \"rep_encode_s\": [");
  for (size_t i = 0; i < rep_encode_s.size(); ++i)
    std::printf("%s%.6f", i ? ", " : "", rep_encode_s[i]);
  std::printf("], \"rep_decode_s\": [");
  for (size_t i = 0; i < rep_decode_s.size(); ++i)
    std::printf("%s%.6f", i ? ", " : "", rep_decode_s[i]);
  std::printf("]}\n");
  return 0;
}

int Usage() {
  std::fprintf(stderr,
               "usage: bench_e2e --model M.qasr --audio A.wav [--threads 1] [--beam 5] "
               "[--min-len 1] [--max-len 200] [--repeat 1] [--ctc-weight 0]\n");
  return 2;
}

}  // namespace
}  // namespace qasr::bench

int main(int argc, char** argv) {
  qasr::bench::Args a;
  for (int i = 1; i < argc; ++i) {
    const char* k = argv[i];
    if (i + 1 >= argc) return qasr::bench::Usage();
    const char* v = argv[++i];
    if (!std::strcmp(k, "--model")) {
      a.model = v;
    } else if (!std::strcmp(k, "--audio")) {
      a.audio = v;
    } else if (!std::strcmp(k, "--threads")) {
      a.threads = std::atoi(v);
    } else if (!std::strcmp(k, "--beam")) {
      a.beam = std::atoi(v);
    } else if (!std::strcmp(k, "--min-len")) {
      a.min_len = std::atoi(v);
    } else if (!std::strcmp(k, "--max-len")) {
      a.max_len = std::atoi(v);
    } else if (!std::strcmp(k, "--repeat")) {
      a.repeat = std::atoi(v);
    } else if (!std::strcmp(k, "--ctc-weight")) {
      a.ctc_weight = std::atof(v);
    } else {
      return qasr::bench::Usage();
    }
  }
  if (a.model.empty() || a.audio.empty() || a.threads < 1 || a.beam < 1 || a.repeat < 1 ||
      a.max_len < 1 || !(a.ctc_weight >= 0.0 && a.ctc_weight < 1.0))
    return qasr::bench::Usage();
  return qasr::bench::Run(a);
}
