// StepModels for tests: one reading log-probs recorded by Python, keyed by
// prefix, and one computing them from the prefix with a fixed function.
#pragma once

#include <cmath>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "decoder/search/step_model.h"

namespace qasr::decoder::testing {

// Tracks every row's prefix (tokens after the start EOS) through the
// parents/tokens protocol, checking it, and asks `fill` for the log-probs.
class PrefixStepModel : public StepModel {
 public:
  using Fill = std::function<Status(const std::vector<int32_t>& prefix, std::span<float> out)>;
  PrefixStepModel(int vocab, Fill fill) : vocab_(vocab), fill_(std::move(fill)) {}

  int vocab_size() const override { return vocab_; }
  Status Begin(int max_rows) override {
    max_rows_ = max_rows;
    prefixes_.clear();
    steps_ = 0;
    return Status::Ok();
  }
  Status Step(std::span<const int32_t> parents, std::span<const int32_t> tokens,
              std::span<float> log_probs) override {
    const size_t n = tokens.size();
    if (parents.size() != n || n == 0 || static_cast<int>(n) > max_rows_ ||
        log_probs.size() != n * static_cast<size_t>(vocab_)) {
      return Internal("protocol: bad row count");
    }
    std::vector<std::vector<int32_t>> next(n);
    for (size_t i = 0; i < n; ++i) {
      if (steps_ == 0) {
        if (tokens[i] != kEosId || parents[i] != 0) return Internal("protocol: step 0 not EOS");
        continue;
      }
      if (parents[i] < 0 || static_cast<size_t>(parents[i]) >= prefixes_.size()) {
        return Internal("protocol: parent out of range");
      }
      next[i] = prefixes_[static_cast<size_t>(parents[i])];
      next[i].push_back(tokens[i]);
    }
    prefixes_ = std::move(next);
    ++steps_;
    rows_total_ += n;
    for (size_t i = 0; i < n; ++i) {
      QASR_RETURN_IF_ERROR(
          fill_(prefixes_[i], log_probs.subspan(i * static_cast<size_t>(vocab_), vocab_)));
    }
    return Status::Ok();
  }
  int steps() const { return steps_; }
  size_t rows_total() const { return rows_total_; }

 private:
  int vocab_;
  Fill fill_;
  int max_rows_ = 0;
  int steps_ = 0;
  size_t rows_total_ = 0;
  std::vector<std::vector<int32_t>> prefixes_;
};

// Log-softmax of a pseudo-random function of the prefix (FNV-1a hash); the
// EOS logit grows once the prefix is longer than `eos_after`.
inline Status HashLogProbs(const std::vector<int32_t>& prefix, std::span<float> out, int seed,
                           int eos_after) {
  uint64_t h = 1469598103934665603ull ^ static_cast<uint64_t>(seed);
  for (int32_t t : prefix) h = (h ^ static_cast<uint64_t>(t + 7)) * 1099511628211ull;
  double max = -1e300;
  std::vector<double> x(out.size());
  for (size_t v = 0; v < out.size(); ++v) {
    uint64_t z = h + 0x9E3779B97F4A7C15ull * (v + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    x[v] = static_cast<double>(z >> 11) / 9007199254740992.0 * 6.0;
    if (v == static_cast<size_t>(kEosId) && static_cast<int>(prefix.size()) > eos_after) {
      x[v] += 3.0 * (static_cast<int>(prefix.size()) - eos_after);
    }
    max = std::max(max, x[v]);
  }
  double sum = 0;
  for (double v : x) sum += std::exp(v - max);
  const double lse = max + std::log(sum);
  for (size_t v = 0; v < out.size(); ++v) out[v] = static_cast<float>(x[v] - lse);
  return Status::Ok();
}

}  // namespace qasr::decoder::testing
