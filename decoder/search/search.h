// Greedy and beam search with fairseq's SequenceGenerator semantics, exactly
// as tools/qasr/decode.py (docs/vggtransformer.md §5): the decoder starts
// from EOS; PAD is never produced; EOS is forbidden before min_len tokens and
// forced at max_len = max(1, int(max_len_a * encoder_frames + max_len_b)); each
// step ranks the best 2*beam candidates, EOS candidates among the first beam
// are finalised with score sum(log p) / (length incl. EOS)^len_pen, the first
// beam non-EOS candidates continue; the search ends once beam hypotheses are
// final. Running scores are float32 sums, as in PyTorch.
//
// Repetition guards (both off by default, so default results equal
// decode.py's):
//  - no_repeat_ngram_size = n > 0: fairseq's rule, a hypothesis never repeats
//    an n-gram (changes ordinary results, e.g. "the cat and the cat").
//  - loop_max_repeats = r > 0: bans only the token that would extend a loop,
//    i.e. a unit of 1..loop_max_period tokens already repeated r times in a
//    row at the end of the hypothesis. Real speech almost never repeats a unit
//    8 times back to back, so r = 8 (what qasr's API uses) only cuts the
//    degenerate "a a a a ..." loops attention decoders fall into on noise.
// Thread safety: reentrant; the StepModel is used by one search at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "decoder/search/ctc_prefix.h"
#include "decoder/search/step_model.h"
#include "kernels/base/status.h"

namespace qasr::decoder {

// The CTC weight the API and asr-cli use by default for a model with a CTC
// head (tuned on the dev set, docs/MODEL_CARD.md).
inline constexpr double kDefaultCtcWeight = 0.5;

struct SearchOptions {
  int beam = 5;
  int nbest = 1;
  double max_len_a = 0.0;
  int max_len_b = 200;
  int min_len = 1;
  double len_pen = 1.0;
  bool normalize_scores = true;
  int no_repeat_ngram_size = 0;
  int loop_max_repeats = 0;  // 0 = off
  int loop_max_period = 4;
  // Joint CTC/attention search (BeamSearch only): w = ctc_weight in [0, 1),
  // 0 = off (the search above, bit for bit). With w > 0 each row's
  // candidates are its ctc_pre_beam (0: all) tokens of highest
  // attention log-probability (after the masks above; ties to the lower id),
  // ranked by (1 - w) * (attention running sum + log p) + w * the CTC prefix
  // score of the extended prefix (ctc_prefix.h; EOS: the CTC log-probability
  // of the whole hypothesis), in double; ties to the lower row * vocab +
  // token. The walk over the best 2 * beam, EOS finalisation (score = joint
  // / (step + 1)^len_pen) and stopping are the same. Hypothesis::log_prob
  // stays the attention total.
  double ctc_weight = 0.0;
  int ctc_pre_beam = 0;
};

struct Hypothesis {
  std::vector<int32_t> tokens;         // without the start and final EOS
  std::vector<float> token_log_probs;  // one per token, then the final EOS's (if any)
  double score = 0.0;                  // normalised (if enabled) total log-probability
  double log_prob = 0.0;               // total log-probability including EOS
  bool finished = true;                // false: greedy stopped at max_len without EOS
  // exp(mean per-token log-probability incl. EOS), in [0, 1].
  double confidence() const;
};

// Called before every decoder step; a non-OK Status (e.g. Cancelled) aborts
// the search and is returned.
using StepCheck = std::function<Status()>;

// max(1, int(a * frames + b)), as decode.py.
int MaxLength(const SearchOptions& options, size_t encoder_frames);

// The nbest best finished hypotheses, best first (may be empty only if the
// model gives EOS no finite probability at max length). ctc: the
// utterance's CTC posteriors, needed when options.ctc_weight > 0.
Result<std::vector<Hypothesis>> BeamSearch(StepModel& model, size_t encoder_frames,
                                           const SearchOptions& options,
                                           const StepCheck& check = {},
                                           const CtcPosteriors* ctc = nullptr);

// decode.py's greedy_search: argmax each step, stop at EOS or at max_len.
// Honours the repetition guards (decode.py uses beam search for those).
Result<Hypothesis> GreedySearch(StepModel& model, size_t encoder_frames,
                                const SearchOptions& options, const StepCheck& check = {});

// Masks what decode.py's _step_lprobs masks, in place, for one row whose
// hypothesis (without the start EOS) is `prefix`. Exposed for tests.
void ProcessLogProbs(std::span<const int32_t> prefix, int step, int max_len,
                     const SearchOptions& options, std::span<float> log_probs);

}  // namespace qasr::decoder
