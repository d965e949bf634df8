// bench_e2e: one end-to-end transcription with the qasr engine, timed:
// audio file -> frontend (decode, resample, fbank, CMVN) -> encoder -> beam
// search (fairseq semantics, cached incremental decoder steps) -> token ids.
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

#include "engine/runtime/session.h"
#include "frontend/frontend.h"

namespace qasr::bench {
namespace {

constexpr int32_t kPad = 1;
constexpr int32_t kEos = 2;

struct Args {
  std::string model, audio;
  int threads = 1, beam = 5, min_len = 1, max_len = 200, repeat = 1;
};

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double CpuNow() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct SearchResult {
  std::vector<int32_t> tokens;
  double score = -std::numeric_limits<double>::infinity();
  int steps = 0;
};

// decode.py's beam_search for one utterance (max_len_a = 0): the best 2*beam
// candidates per step, EOS among the first `beam` finalised with score / len,
// the first `beam` non-EOS continue; done once `beam` are final.
// TODO(e2e): switch to decoder::BeamSearch once branch 'decoder' is merged.
Result<SearchResult> BeamSearch(engine::Session& s, int beam, int min_len, int max_len) {
  const size_t vocab = static_cast<size_t>(s.model().vocab_size());
  const size_t k = static_cast<size_t>(beam);
  if (Status st = s.BeginDecode(beam, max_len + 2); !st.ok()) return st;
  std::vector<std::vector<int32_t>> hyps(1);  // without the start EOS
  std::vector<float> scores(1, 0.0f);
  std::vector<int32_t> parents(1, 0), last(1, kEos);
  std::vector<float> lp(k * vocab);
  std::vector<std::pair<float, size_t>> top;
  std::vector<size_t> idx;
  SearchResult best;
  int finished = 0;
  const float ninf = -std::numeric_limits<float>::infinity();
  for (int step = 0; step <= max_len; ++step) {
    const size_t n = last.size();
    if (Status st = s.Step(parents, last, {lp.data(), n * vocab}); !st.ok()) return st;
    best.steps = step + 1;
    for (size_t r = 0; r < n; ++r) {
      float* row = lp.data() + r * vocab;
      row[kPad] = ninf;
      if (step < min_len) row[kEos] = ninf;
      if (step >= max_len) {
        const float eos = std::isfinite(row[kEos]) ? row[kEos] : 0.0f;
        std::fill(row, row + vocab, ninf);
        row[kEos] = eos;
      }
      for (size_t v = 0; v < vocab; ++v) row[v] += scores[r];
    }
    // Top 2k of the n x vocab candidates (step 0: one row).
    idx.resize(n * vocab);
    std::iota(idx.begin(), idx.end(), size_t{0});
    const size_t want = std::min(2 * k, idx.size());
    std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(want), idx.end(),
                      [&](size_t a, size_t b) { return lp[a] > lp[b]; });
    std::vector<std::vector<int32_t>> next_hyps;
    std::vector<float> next_scores;
    std::vector<int32_t> next_parents, next_last;
    for (size_t j = 0; j < want; ++j) {
      const float sc = lp[idx[j]];
      if (sc == ninf) break;
      const size_t row = idx[j] / vocab;
      const auto tok = static_cast<int32_t>(idx[j] % vocab);
      if (tok == kEos) {
        if (j < k && finished < beam) {
          ++finished;
          const double norm = static_cast<double>(sc) / (step + 1);
          if (norm > best.score) {
            best.score = norm;
            best.tokens = hyps[row];
          }
        }
        continue;
      }
      if (next_last.size() < k) {
        next_hyps.push_back(hyps[row]);
        next_hyps.back().push_back(tok);
        next_scores.push_back(sc);
        next_parents.push_back(static_cast<int32_t>(row));
        next_last.push_back(tok);
      }
    }
    if (finished >= beam || next_last.empty()) break;
    hyps = std::move(next_hyps);
    scores = std::move(next_scores);
    parents = std::move(next_parents);
    last = std::move(next_last);
  }
  return best;
}

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

  engine::Session session(model, a.threads);
  auto fbank = frontend::Fbank::Create();
  if (!fbank.ok()) return Fail("fbank", fbank.status());

  double best_wall = std::numeric_limits<double>::infinity(), best_cpu = 0, feat_s = 0, enc_s = 0,
         dec_s = 0, audio_s = 0;
  size_t frames = 0;
  SearchResult result;
  for (int rep = 0; rep < a.repeat; ++rep) {
    const double w0 = Now(), c0 = CpuNow();
    auto wave = frontend::DecodeFile(a.audio);
    if (!wave.ok()) return Fail("decode", wave.status());
    auto wave16 = frontend::ToFeatureRate(*wave, frontend::ResampleQuality::kHigh);
    if (!wave16.ok()) return Fail("resample", wave16.status());
    auto feats = frontend::ComputeFeatures(*fbank, *wave16);
    if (!feats.ok()) return Fail("features", feats.status());
    const double w1 = Now();
    if (Status st = session.Encode(feats->data, feats->num_frames); !st.ok())
      return Fail("encode", st);
    const double w2 = Now();
    auto r = BeamSearch(session, a.beam, a.min_len, a.max_len);
    if (!r.ok()) return Fail("search", r.status());
    const double w3 = Now(), c3 = CpuNow();
    if (w3 - w0 < best_wall) {
      best_wall = w3 - w0;
      best_cpu = c3 - c0;
      feat_s = w1 - w0;
      enc_s = w2 - w1;
      dec_s = w3 - w2;
      audio_s = wave->duration_s();
      frames = feats->num_frames;
      result = std::move(*r);
    }
  }
  std::printf(
      "{\"wall_s\": %.6f, \"cpu_s\": %.6f, \"features_s\": %.6f, \"encode_s\": %.6f, "
      "\"decode_s\": %.6f, \"load_s\": %.6f, \"load_nocrc_s\": %.6f, \"audio_s\": %.4f, "
      "\"frames\": %zu, \"steps\": %d, \"tokens\": [",
      best_wall, best_cpu, feat_s, enc_s, dec_s, load_s, load_nocrc_s, audio_s, frames,
      result.steps);
  for (size_t i = 0; i < result.tokens.size(); ++i)
    std::printf("%s%d", i ? ", " : "", result.tokens[i]);
  std::printf("]}\n");
  return 0;
}

int Usage() {
  std::fprintf(stderr,
               "usage: bench_e2e --model M.qasr --audio A.wav [--threads 1] [--beam 5] "
               "[--min-len 1] [--max-len 200] [--repeat 1]\n");
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
    } else {
      return qasr::bench::Usage();
    }
  }
  if (a.model.empty() || a.audio.empty() || a.threads < 1 || a.beam < 1 || a.repeat < 1 ||
      a.max_len < 1)
    return qasr::bench::Usage();
  return qasr::bench::Run(a);
}
