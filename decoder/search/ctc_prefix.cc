#include "decoder/search/ctc_prefix.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "decoder/search/step_model.h"

namespace qasr::decoder {

double LogAddExp(double a, double b) {
  const double d = std::fabs(a - b);
  // Beyond 40 nats, log1p(exp(-d)) < 4.3e-18: below half an ulp of any
  // |max| >= 0.04, so skipping it changes at most the last bit.
  if (d > 40.0) return std::max(a, b);
  // log(1 + z) rather than log1p(z): a third of the time, and an absolute
  // error of at most 1.2e-16 (one rounding of 1 + z).
  return std::max(a, b) + std::log(1.0 + std::exp(-d));
}

Result<CtcPrefixScorer> CtcPrefixScorer::Create(const CtcPosteriors& p, int vocab) {
  if (vocab <= kEosId) return InvalidArgument("CTC: vocabulary has no room for EOS");
  if (p.frames == 0) return InvalidArgument("CTC: no frames");
  if (p.classes != static_cast<size_t>(vocab) + 1)
    return InvalidArgument("CTC: " + std::to_string(p.classes) + " classes for a vocabulary of " +
                           std::to_string(vocab) + " (+ blank)");
  if (p.log_probs.size() / p.classes != p.frames || p.log_probs.size() % p.classes != 0)
    return InvalidArgument("CTC: table size does not match frames x classes");
  for (float v : p.log_probs)
    if (!(v <= 0.0f) || !std::isfinite(v))
      return DataLoss("CTC: log-posteriors must be finite and <= 0");
  std::vector<double> probs(p.log_probs.size());
  for (size_t t = 0; t < p.frames; ++t)
    for (size_t c = 0; c < p.classes; ++c)
      probs[c * p.frames + t] = std::exp(static_cast<double>(p.log_probs[t * p.classes + c]));
  return CtcPrefixScorer(p, std::move(probs));
}

CtcPrefixScorer::State CtcPrefixScorer::Empty() const {
  State s;
  s.rn.assign(frames_, kCtcNeg);
  s.rb.resize(frames_);
  const size_t blank = p_.classes - 1;
  double sum = 0.0;
  for (size_t t = 0; t < frames_; ++t) {
    sum += x(t, blank);
    s.rb[t] = sum;
  }
  s.sum.resize(frames_);
  for (size_t t = 0; t < frames_; ++t) s.sum[t] = LogAddExp(s.rn[t], s.rb[t]);
  return s;
}

namespace {

// sum a[t] b[t] in 8 interleaved partial sums (vectorisable, a fixed order).
double Dot(const double* a, const double* b, size_t n) {
  double acc[8] = {};
  size_t t = 0;
  for (; t + 8 <= n; t += 8)
    for (size_t j = 0; j < 8; ++j) acc[j] += a[t + j] * b[t + j];
  for (; t < n; ++t) acc[t % 8] += a[t] * b[t];
  return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

}  // namespace

// psi(g + c) = lae over t of (phi[t-1] + x[t][c]), where the t = 0 term is
// x[0][c] for the empty g and absent otherwise: with M = max phi and
// P[t] = exp(phi[t-1] - M), psi = M + log(sum_t P[t] exp(x[t][c])), a dot
// product with a column of exp(x) (equal to the recursion's lae chain up to
// rounding, ~1e-15, apart from the terms the window below leaves out).
void CtcPrefixScorer::Scores(const State& prefix, int32_t last, std::span<const int32_t> tokens,
                             std::span<double> scores) const {
  const size_t frames = frames_;
  // phi for c != last (sum) and for c == last (rb), shifted by one frame:
  // entry t is phi[t - 1], entry 0 the empty prefix's start term.
  const auto shifted = [&](const std::vector<double>& phi) {
    std::vector<double> out(frames);
    out[0] = last < 0 ? 0.0 : kCtcNeg;
    std::copy(phi.begin(), phi.end() - 1, out.begin() + 1);
    return out;
  };
  // The weights exp(phi - M) over the frames where phi is within kWindow
  // nats of M; terms outside are below exp(-150) = 7e-66 of the largest
  // weight, and the window is short where the posteriors are peaky (phi
  // falls by the blank's log-probability every frame past the prefix).
  struct Weights {
    double m = 0.0;
    size_t begin = 0, end = 0;
    std::vector<double> w;
  };
  const auto weights = [&](const std::vector<double>& phi, Weights* out) {
    constexpr double kWindow = 150.0;
    out->m = *std::max_element(phi.begin(), phi.end());
    size_t b = 0, e = frames;
    while (phi[b] < out->m - kWindow) ++b;
    while (phi[e - 1] < out->m - kWindow) --e;
    out->begin = b;
    out->end = e;
    out->w.resize(frames);
    for (size_t t = b; t < e; ++t) out->w[t] = std::exp(phi[t] - out->m);
  };
  Weights w_sum, w_rb;
  weights(shifted(prefix.sum), &w_sum);
  bool have_rb = false;
  const double final_score = prefix.sum[frames - 1];
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int32_t c = tokens[i];
    if (c == kEosId) {
      scores[i] = final_score;
      continue;
    }
    // A repeated label needs a blank between the two: only the paths of g
    // that end in blank continue into c.
    if (c == last && !have_rb) {
      weights(shifted(prefix.rb), &w_rb);
      have_rb = true;
    }
    const Weights& w = c == last ? w_rb : w_sum;
    const double dot =
        Dot(w.w.data() + w.begin, probs_.data() + static_cast<size_t>(c) * frames + w.begin,
            w.end - w.begin);
    scores[i] = dot > 0.0 ? std::max(kCtcNeg, w.m + std::log(dot)) : kCtcNeg;
  }
}

CtcPrefixScorer::State CtcPrefixScorer::Extend(const State& prefix, int32_t last, int32_t c) const {
  const size_t frames = frames_, blank = p_.classes - 1, col = static_cast<size_t>(c);
  const std::vector<double>& phi = c == last ? prefix.rb : prefix.sum;
  State s;
  s.rn.resize(frames);
  s.rb.resize(frames);
  s.sum.resize(frames);
  double rn = last < 0 ? x(0, col) : kCtcNeg, rb = kCtcNeg;
  for (size_t t = 0; t < frames; ++t) {
    if (t > 0) {
      const double next_rn = LogAddExp(rn, phi[t - 1]) + x(t, col);
      rb = LogAddExp(rb, rn) + x(t, blank);
      rn = next_rn;
    }
    s.rn[t] = rn;
    s.rb[t] = rb;
    s.sum[t] = LogAddExp(rn, rb);
  }
  return s;
}

}  // namespace qasr::decoder
