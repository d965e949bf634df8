// Beam search, a line-by-line port of tools/qasr/decode.py's beam_search for
// one utterance. Rows that decode.py keeps only as -inf padding ("dead rows")
// are dropped here; they can never be selected, so the result is the same.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "decoder/search/ctc_prefix.h"
#include "decoder/search/search.h"

namespace qasr::decoder {
namespace {

struct Row {
  std::vector<int32_t> tokens;
  std::vector<float> log_probs;
  float score = 0.0f;          // float32 running sum, as the PyTorch tensor
  CtcPrefixScorer::State ctc;  // joint search only
};

// A candidate of the plain search: its float32 running sum ranks it.
struct Candidate {
  float score;
  size_t index;  // row * vocab + token
  double rank() const { return score; }
  float total() const { return score; }
};

// A joint-search candidate: (1 - w) * attention + w * CTC prefix score.
struct JointCandidate {
  double joint;
  float att;     // the row's float32 running sum + the token's log-prob
  size_t index;  // row * vocab + token
  double rank() const { return joint; }
  float total() const { return att; }
};

// The live hypotheses and what the model needs for its next step.
struct Beam {
  std::vector<Row> rows;
  std::vector<int32_t> parents, last;
};

// One step of either search: puts the best 2k candidates first (rank
// descending, ties to the lower index) and walks them: EOS among the first
// k finalises a hypothesis (score = rank / (step + 1)^len_pen), the first k
// others continue (extend(row, parent) adds search-specific state). False
// once k hypotheses are final or none continues.
template <class Cand, class Extend>
bool Advance(std::vector<Cand>& cands, size_t vocab, size_t k, int step,
             const SearchOptions& options, const std::vector<float>& lprobs, const Extend& extend,
             Beam& beam, std::vector<Hypothesis>& finished) {
  const size_t top = std::min(2 * k, cands.size());
  std::partial_sort(cands.begin(), cands.begin() + static_cast<ptrdiff_t>(top), cands.end(),
                    [](const Cand& a, const Cand& b) {
                      return a.rank() > b.rank() || (a.rank() == b.rank() && a.index < b.index);
                    });
  Beam next;
  for (size_t j = 0; j < top; ++j) {
    const Cand& c = cands[j];
    const size_t r = c.index / vocab;
    const auto t = static_cast<int32_t>(c.index % vocab);
    const float lp = lprobs[c.index];
    const Row& from = beam.rows[r];
    if (t == kEosId) {
      if (j < k && finished.size() < k) {
        Hypothesis h;
        h.tokens = from.tokens;
        h.token_log_probs = from.log_probs;
        h.token_log_probs.push_back(lp);
        h.log_prob = c.total();
        h.score = options.normalize_scores
                      ? c.rank() / std::pow(static_cast<double>(step + 1), options.len_pen)
                      : c.rank();
        finished.push_back(std::move(h));
      }
      continue;
    }
    if (next.rows.size() < k) {
      Row row;
      row.tokens = from.tokens;
      row.tokens.push_back(t);
      row.log_probs = from.log_probs;
      row.log_probs.push_back(lp);
      row.score = c.total();
      extend(row, from);
      next.rows.push_back(std::move(row));
      next.parents.push_back(static_cast<int32_t>(r));
      next.last.push_back(t);
    }
  }
  if (finished.size() >= k || next.rows.empty()) return false;
  beam = std::move(next);
  return true;
}

// The pre-beam of one row: up to n tokens with the highest finite
// log-probabilities, ties to the lower id.
void PreBeam(std::span<const float> lp, size_t n, std::vector<int32_t>* out) {
  out->clear();
  for (size_t t = 0; t < lp.size(); ++t)
    if (lp[t] != -std::numeric_limits<float>::infinity()) out->push_back(static_cast<int32_t>(t));
  if (n >= out->size()) return;  // every finite token (the candidates' order does not matter)
  std::partial_sort(out->begin(), out->begin() + static_cast<ptrdiff_t>(n), out->end(),
                    [&](int32_t a, int32_t b) {
                      return lp[static_cast<size_t>(a)] > lp[static_cast<size_t>(b)] ||
                             (lp[static_cast<size_t>(a)] == lp[static_cast<size_t>(b)] && a < b);
                    });
  out->resize(n);
}

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
  if (!(o.ctc_weight >= 0.0 && o.ctc_weight < 1.0) || o.ctc_pre_beam < 0)
    return InvalidArgument("ctc_weight must be in [0, 1) and ctc_pre_beam >= 0");
  return Status::Ok();
}

// Steps of either search from `beam` until Advance ends it: each step
// masks every row's log-probs (ProcessLogProbs), lets gather(r, row, lp,
// cands) turn row r's into candidates, and walks the best (Advance).
template <class Cand, class Gather, class Extend>
static Result<std::vector<Hypothesis>> RunSearch(StepModel& model, size_t vocab, int max_len,
                                                 const SearchOptions& options,
                                                 const StepCheck& check, Beam beam,
                                                 const Gather& gather, const Extend& extend) {
  const auto k = static_cast<size_t>(options.beam);
  std::vector<float> lprobs;
  std::vector<Cand> cands;
  std::vector<Hypothesis> finished;
  for (int step = 0; step <= max_len; ++step) {
    if (check) QASR_RETURN_IF_ERROR(check());
    lprobs.assign(beam.rows.size() * vocab, 0.0f);
    QASR_RETURN_IF_ERROR(model.Step(beam.parents, beam.last, lprobs));
    cands.clear();
    for (size_t r = 0; r < beam.rows.size(); ++r) {
      std::span<float> lp(lprobs.data() + r * vocab, vocab);
      ProcessLogProbs(beam.rows[r].tokens, step, max_len, options, lp);
      gather(r, beam.rows[r], std::span<const float>(lp), cands);
    }
    if (!Advance(cands, vocab, k, step, options, lprobs, extend, beam, finished)) break;
  }
  std::stable_sort(finished.begin(), finished.end(),
                   [](const Hypothesis& a, const Hypothesis& b) { return a.score > b.score; });
  if (finished.size() > static_cast<size_t>(options.nbest))
    finished.resize(static_cast<size_t>(options.nbest));
  return finished;
}

Result<std::vector<Hypothesis>> BeamSearch(StepModel& model, size_t encoder_frames,
                                           const SearchOptions& options, const StepCheck& check,
                                           const CtcPosteriors* ctc) {
  const int vocab_i = model.vocab_size();
  QASR_RETURN_IF_ERROR(CheckOptions(options, vocab_i));
  const auto vocab = static_cast<size_t>(vocab_i);
  const int max_len = MaxLength(options, encoder_frames);
  Beam start{std::vector<Row>(1), {0}, {kEosId}};
  if (options.ctc_weight <= 0.0) {
    QASR_RETURN_IF_ERROR(model.Begin(options.beam));
    const auto gather = [vocab](size_t r, const Row& row, std::span<const float> lp,
                                std::vector<Candidate>& cands) {
      for (size_t t = 0; t < vocab; ++t) {
        const float s = row.score + lp[t];
        if (s != -std::numeric_limits<float>::infinity()) cands.push_back({s, r * vocab + t});
      }
    };
    return RunSearch<Candidate>(model, vocab, max_len, options, check, std::move(start), gather,
                                [](Row&, const Row&) {});
  }
  // Joint CTC/attention search: each row's candidates are its attention
  // pre-beam, ranked by (1 - w) * attention + w * CTC prefix score
  // (search.h); continuing rows carry their CTC state.
  if (ctc == nullptr) return InvalidArgument("ctc_weight > 0 needs CTC posteriors");
  auto scorer = CtcPrefixScorer::Create(*ctc, vocab_i);
  if (!scorer.ok()) return scorer.status();
  QASR_RETURN_IF_ERROR(model.Begin(options.beam));
  const CtcPrefixScorer& scores = *scorer;
  const size_t pre = options.ctc_pre_beam > 0 ? static_cast<size_t>(options.ctc_pre_beam) : vocab;
  const double w = options.ctc_weight;
  std::vector<int32_t> tokens;
  std::vector<double> psi;
  const auto gather = [&](size_t r, const Row& row, std::span<const float> lp,
                          std::vector<JointCandidate>& cands) {
    PreBeam(lp, pre, &tokens);
    psi.resize(tokens.size());
    scores.Scores(row.ctc, row.tokens.empty() ? -1 : row.tokens.back(), tokens, psi);
    for (size_t i = 0; i < tokens.size(); ++i) {
      const auto t = static_cast<size_t>(tokens[i]);
      const float att = row.score + lp[t];
      cands.push_back({(1.0 - w) * static_cast<double>(att) + w * psi[i], att, r * vocab + t});
    }
  };
  const auto extend = [&](Row& row, const Row& from) {
    row.ctc =
        scores.Extend(from.ctc, from.tokens.empty() ? -1 : from.tokens.back(), row.tokens.back());
  };
  start.rows[0].ctc = scores.Empty();
  return RunSearch<JointCandidate>(model, vocab, max_len, options, check, std::move(start), gather,
                                   extend);
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
