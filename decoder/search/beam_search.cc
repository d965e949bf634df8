// Beam search, a line-by-line port of tools/qasr/decode.py's beam_search for
// one utterance. Rows that decode.py keeps only as -inf padding ("dead rows")
// are dropped here; they can never be selected, so the result is the same.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "decoder/search/search.h"

namespace qasr::decoder {
namespace {

struct Row {
  std::vector<int32_t> tokens;
  std::vector<float> log_probs;
  float score = 0.0f;  // float32 running sum, as the PyTorch tensor
};

struct Candidate {
  float score;
  size_t index;  // row * vocab + token
};

}  // namespace

double Hypothesis::confidence() const {
  if (token_log_probs.empty()) return 0.0;
  double sum = 0.0;
  for (float lp : token_log_probs) sum += lp;
  return std::exp(sum / static_cast<double>(token_log_probs.size()));
}

int MaxLength(const SearchOptions& options, size_t encoder_frames) {
  const double len = options.max_len_a * static_cast<double>(encoder_frames) + options.max_len_b;
  if (!(len < 1e6)) return 1000000;
  return std::max(1, static_cast<int>(len));
}

static Status CheckOptions(const SearchOptions& o, int vocab) {
  if (vocab <= kUnkId) {
    return InvalidArgument("vocabulary of " + std::to_string(vocab) + " has no room for EOS");
  }
  if (o.beam < 1 || o.beam > 1024) return InvalidArgument("beam must be in [1, 1024]");
  if (o.nbest < 1) return InvalidArgument("nbest must be at least 1");
  if (!std::isfinite(o.len_pen) || !std::isfinite(o.max_len_a)) {
    return InvalidArgument("len_pen and max_len_a must be finite");
  }
  if (o.loop_max_repeats < 0 || o.loop_max_period < 1 || o.no_repeat_ngram_size < 0) {
    return InvalidArgument("invalid repetition guard settings");
  }
  return Status::Ok();
}

Result<std::vector<Hypothesis>> BeamSearch(StepModel& model, size_t encoder_frames,
                                           const SearchOptions& options, const StepCheck& check) {
  const int vocab_i = model.vocab_size();
  QASR_RETURN_IF_ERROR(CheckOptions(options, vocab_i));
  const auto vocab = static_cast<size_t>(vocab_i);
  const auto k = static_cast<size_t>(options.beam);
  const int max_len = MaxLength(options, encoder_frames);
  QASR_RETURN_IF_ERROR(model.Begin(options.beam));

  std::vector<Row> rows(1);
  std::vector<int32_t> parents{0}, last{kEosId};
  std::vector<float> lprobs;
  std::vector<Candidate> cands;
  std::vector<Hypothesis> finished;
  for (int step = 0; step <= max_len; ++step) {
    if (check) QASR_RETURN_IF_ERROR(check());
    lprobs.assign(rows.size() * vocab, 0.0f);
    QASR_RETURN_IF_ERROR(model.Step(parents, last, lprobs));
    cands.clear();
    for (size_t r = 0; r < rows.size(); ++r) {
      std::span<float> lp(lprobs.data() + r * vocab, vocab);
      ProcessLogProbs(rows[r].tokens, step, max_len, options, lp);
      for (size_t t = 0; t < vocab; ++t) {
        const float s = rows[r].score + lp[t];
        if (s != -std::numeric_limits<float>::infinity()) cands.push_back({s, r * vocab + t});
      }
    }
    const size_t top = std::min(2 * k, cands.size());
    std::partial_sort(cands.begin(), cands.begin() + static_cast<ptrdiff_t>(top), cands.end(),
                      [](const Candidate& a, const Candidate& b) {
                        return a.score > b.score || (a.score == b.score && a.index < b.index);
                      });
    std::vector<Row> next;
    std::vector<int32_t> next_parents, next_last;
    for (size_t j = 0; j < top; ++j) {
      const Candidate& c = cands[j];
      const size_t r = c.index / vocab;
      const auto t = static_cast<int32_t>(c.index % vocab);
      const float lp = lprobs[c.index];
      if (t == kEosId) {
        if (j < k && finished.size() < k) {
          Hypothesis h;
          h.tokens = rows[r].tokens;
          h.token_log_probs = rows[r].log_probs;
          h.token_log_probs.push_back(lp);
          h.log_prob = c.score;
          h.score = options.normalize_scores
                        ? c.score / std::pow(static_cast<double>(step + 1), options.len_pen)
                        : c.score;
          finished.push_back(std::move(h));
        }
        continue;
      }
      if (next.size() < k) {
        Row row = rows[r];
        row.tokens.push_back(t);
        row.log_probs.push_back(lp);
        row.score = c.score;
        next.push_back(std::move(row));
        next_parents.push_back(static_cast<int32_t>(r));
        next_last.push_back(t);
      }
    }
    if (finished.size() >= k || next.empty()) break;
    rows = std::move(next);
    parents = std::move(next_parents);
    last = std::move(next_last);
  }
  std::stable_sort(finished.begin(), finished.end(),
                   [](const Hypothesis& a, const Hypothesis& b) { return a.score > b.score; });
  if (finished.size() > static_cast<size_t>(options.nbest)) {
    finished.resize(static_cast<size_t>(options.nbest));
  }
  return finished;
}

Result<Hypothesis> GreedySearch(StepModel& model, size_t encoder_frames,
                                const SearchOptions& options, const StepCheck& check) {
  const int vocab_i = model.vocab_size();
  QASR_RETURN_IF_ERROR(CheckOptions(options, vocab_i));
  const auto vocab = static_cast<size_t>(vocab_i);
  const int max_len = MaxLength(options, encoder_frames);
  QASR_RETURN_IF_ERROR(model.Begin(1));
  // decode.py's greedy_search masks PAD and early EOS but never forces EOS:
  // it stops at max_len instead. Past max_len nothing is masked by length.
  const int no_limit = std::numeric_limits<int>::max();
  std::vector<float> lp(vocab);
  const int32_t parent = 0;
  int32_t last = kEosId;
  Hypothesis h;
  h.finished = false;
  double sum = 0.0;
  for (int step = 0; step <= max_len; ++step) {
    if (check) QASR_RETURN_IF_ERROR(check());
    QASR_RETURN_IF_ERROR(model.Step({&parent, 1}, {&last, 1}, lp));
    ProcessLogProbs(h.tokens, step, no_limit, options, lp);
    const auto t = static_cast<int32_t>(std::max_element(lp.begin(), lp.end()) - lp.begin());
    if (t == kEosId) {
      h.token_log_probs.push_back(lp[t]);
      sum += lp[t];
      h.finished = true;
      break;
    }
    if (step >= max_len) break;
    h.tokens.push_back(t);
    h.token_log_probs.push_back(lp[t]);
    sum += lp[t];
    last = t;
  }
  h.log_prob = sum;
  const double n = static_cast<double>(h.token_log_probs.size());
  h.score = options.normalize_scores && n > 0 ? sum / std::pow(n, options.len_pen) : sum;
  return h;
}

}  // namespace qasr::decoder
