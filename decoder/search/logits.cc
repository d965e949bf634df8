// Per-row log-prob masking shared by greedy and beam search (decode.py's
// _step_lprobs) and the repetition guards.
#include <algorithm>
#include <cmath>
#include <limits>

#include "decoder/search/search.h"

namespace qasr::decoder {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

void Ban(std::span<float> log_probs, int32_t token) {
  if (token >= 0 && static_cast<size_t>(token) < log_probs.size()) log_probs[token] = kNegInf;
}

// decode.py's _banned: tokens that would repeat an n-gram of `prefix`.
void BanRepeatedNgrams(std::span<const int32_t> prefix, int n, std::span<float> log_probs) {
  const size_t len = prefix.size();
  const size_t un = static_cast<size_t>(n);
  if (n <= 0 || len < un) return;
  const auto key = prefix.subspan(len - un + 1);  // the last n-1 tokens
  for (size_t i = 0; i + un <= len; ++i) {
    if (std::equal(key.begin(), key.end(), prefix.begin() + static_cast<ptrdiff_t>(i))) {
      Ban(log_probs, prefix[i + un - 1]);
    }
  }
}

// Bans the token that would extend a unit of p tokens already repeated
// `repeats` times at the end of `prefix`, for each period p.
void BanLoops(std::span<const int32_t> prefix, int repeats, int max_period,
              std::span<float> log_probs) {
  const size_t len = prefix.size();
  for (int p = 1; p <= max_period; ++p) {
    const size_t up = static_cast<size_t>(p);
    const size_t span = up * static_cast<size_t>(repeats);
    if (len < span) break;
    bool loop = true;
    for (size_t i = len - span; i + up < len && loop; ++i) loop = prefix[i] == prefix[i + up];
    if (loop) Ban(log_probs, prefix[len - up]);
  }
}

}  // namespace

void ProcessLogProbs(std::span<const int32_t> prefix, int step, int max_len,
                     const SearchOptions& options, std::span<float> log_probs) {
  for (float& v : log_probs) {
    if (std::isnan(v)) v = kNegInf;
  }
  log_probs[kPadId] = kNegInf;
  if (step < options.min_len) log_probs[kEosId] = kNegInf;
  if (step >= max_len) {
    const float eos = log_probs[kEosId];
    std::fill(log_probs.begin(), log_probs.end(), kNegInf);
    log_probs[kEosId] = std::isfinite(eos) ? eos : 0.0f;
    return;
  }
  if (options.no_repeat_ngram_size > 0) {
    BanRepeatedNgrams(prefix, options.no_repeat_ngram_size, log_probs);
  }
  if (options.loop_max_repeats > 0) {
    BanLoops(prefix, options.loop_max_repeats, options.loop_max_period, log_probs);
  }
}

}  // namespace qasr::decoder
