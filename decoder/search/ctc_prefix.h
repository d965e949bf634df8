// CTC prefix scores for joint CTC/attention beam search (Watanabe et al.
// 2017, "Hybrid CTC/attention architecture for end-to-end speech
// recognition"), exactly as tools/qasr/ctc_head.py computes them
// (docs/ARCHITECTURE.md "Joint CTC/attention search"):
//
// x[t][c] are one utterance's CTC log-posteriors (frames x classes, the last
// class the blank b). A prefix g keeps, per frame t, rn[t] (log-probability
// of the first t+1 frames emitting g and ending in g's last label) and rb[t]
// (the same, ending in blank). In double precision, log domain, with the
// finite sentinel kCtcNeg standing in for log 0 and
// lae(a, b) = max(a, b) + log1p(exp(-|a - b|)):
//   empty prefix: rn[t] = kCtcNeg, rb[t] = x[0][b] + ... + x[t][b], score 0;
//   g + c (c not EOS): rsum[t] = lae(rn_g[t], rb_g[t]), phi[t] = rb_g[t] if c
//     is g's last label else rsum[t]; rn[0] = x[0][c] if g is empty else
//     kCtcNeg; rb[0] = kCtcNeg; psi = rn[0]; for t >= 1:
//     rn[t] = lae(rn[t-1], phi[t-1]) + x[t][c],
//     rb[t] = lae(rb[t-1], rn[t-1]) + x[t][b],
//     psi   = lae(psi, phi[t-1] + x[t][c]);
//     psi is the log-probability that the labelling starts with g + c;
//   g + EOS: lae(rn_g[T-1], rb_g[T-1]), the log-probability of exactly g.
// Scores computes psi without the lae chain, as one dot product per token
// over the frames where phi is within 150 nats of its maximum (ctc_prefix.cc):
// the same value up to ~1e-12 and terms below e^-150 of the largest.
// Thread safety: immutable after Create; the posteriors must outlive it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/base/status.h"

namespace qasr::decoder {

inline constexpr double kCtcNeg = -1e30;

// One utterance's CTC log-posteriors, row-major [frames x classes]; class
// classes - 1 is the blank, classes - 1 the vocabulary size.
struct CtcPosteriors {
  std::span<const float> log_probs;
  size_t frames = 0, classes = 0;
};

// log(exp(a) + exp(b)) as the definition above computes it.
double LogAddExp(double a, double b);

class CtcPrefixScorer {
 public:
  struct State {
    std::vector<double> rn, rb;  // per frame
    std::vector<double> sum;     // lae(rn[t], rb[t]): every extension's phi (but a repeat's)
  };

  // Checks the table (1 <= frames, classes = vocab + 1, as many values) and
  // that every value is finite and <= 0.
  static Result<CtcPrefixScorer> Create(const CtcPosteriors& posteriors, int vocab);

  size_t frames() const { return frames_; }
  // The empty prefix.
  State Empty() const;
  // psi of prefix + c for each c of `tokens` (ids < vocab, EOS allowed) into
  // scores; `last` is the prefix's last token, or -1 for the empty prefix.
  void Scores(const State& prefix, int32_t last, std::span<const int32_t> tokens,
              std::span<double> scores) const;
  // The state of prefix + c (c != EOS).
  State Extend(const State& prefix, int32_t last, int32_t c) const;

 private:
  CtcPrefixScorer(const CtcPosteriors& p, std::vector<double> probs_by_class)
      : p_(p), frames_(p.frames), probs_(std::move(probs_by_class)) {}
  double x(size_t t, size_t c) const { return p_.log_probs[t * p_.classes + c]; }

  CtcPosteriors p_;
  size_t frames_;
  // exp(x) transposed, [classes][frames]: psi is a dot product (ctc_prefix.cc).
  std::vector<double> probs_;
};

}  // namespace qasr::decoder
