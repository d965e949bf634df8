// The decoder's view of a model: one incremental decoder step over a set of
// hypotheses. The search owns hypotheses; the model owns their caches.
//
// Protocol: Begin(max_rows) once per utterance (after the encoder ran), then
// Step() once per output position. At step 0 there is one row, token EOS (the
// start symbol), parent 0. At step s > 0, row i extends row parents[i] of the
// previous call (the model reorders/duplicates its caches accordingly) with
// tokens[i]. Rows never exceed max_rows; a step may have fewer rows than the
// previous one (finished hypotheses are dropped). Step writes log-probabilities
// (log-softmax of the output layer), row-major [rows x vocab_size()].
// Thread safety: one search at a time per StepModel.
#pragma once

#include <cstdint>
#include <span>

#include "kernels/base/status.h"

namespace qasr::decoder {

inline constexpr int32_t kBosId = 0;
inline constexpr int32_t kPadId = 1;
inline constexpr int32_t kEosId = 2;
inline constexpr int32_t kUnkId = 3;

class StepModel {
 public:
  virtual ~StepModel() = default;
  virtual int vocab_size() const = 0;
  virtual Status Begin(int max_rows) = 0;
  virtual Status Step(std::span<const int32_t> parents, std::span<const int32_t> tokens,
                      std::span<float> log_probs) = 0;
};

}  // namespace qasr::decoder
