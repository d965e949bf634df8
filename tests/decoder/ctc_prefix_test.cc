// The CTC prefix scorer against brute force over every alignment, and the
// joint CTC/attention search's behaviour beyond parity (search_parity_test
// checks it against decode.py).
#include "decoder/search/ctc_prefix.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "decoder/search/search.h"
#include "tests/decoder/fake_step_model.h"

namespace qasr::decoder {
namespace {

using testing::PrefixStepModel;

// Random log-softmax rows [frames x classes].
std::vector<float> RandomPosteriors(size_t frames, size_t classes, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, scale);
  std::vector<float> out(frames * classes);
  for (size_t t = 0; t < frames; ++t) {
    float* row = out.data() + t * classes;
    double sum = 0.0;
    for (size_t c = 0; c < classes; ++c) {
      row[c] = n(rng);
      sum += std::exp(static_cast<double>(row[c]));
    }
    const auto log_sum = static_cast<float>(std::log(sum));
    for (size_t c = 0; c < classes; ++c) row[c] -= log_sum;
  }
  return out;
}

// Probability of every collapsed labelling, summed over all alignments.
std::map<std::vector<int32_t>, double> Labellings(const std::vector<float>& x, size_t frames,
                                                  size_t classes) {
  std::map<std::vector<int32_t>, double> out;
  const size_t blank = classes - 1;
  std::vector<size_t> path(frames, 0);
  for (;;) {
    double p = 1.0;
    std::vector<int32_t> label;
    size_t prev = blank;
    for (size_t t = 0; t < frames; ++t) {
      p *= std::exp(static_cast<double>(x[t * classes + path[t]]));
      if (path[t] != blank && path[t] != prev) label.push_back(static_cast<int32_t>(path[t]));
      prev = path[t];
    }
    out[label] += p;
    size_t i = 0;
    while (i < frames && ++path[i] == classes) path[i++] = 0;
    if (i == frames) break;
  }
  return out;
}

double PrefixMass(const std::map<std::vector<int32_t>, double>& all,
                  const std::vector<int32_t>& prefix) {
  double sum = 0.0;
  for (const auto& [label, p] : all)
    if (label.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), label.begin()))
      sum += p;
  return sum;
}

TEST(CtcPrefix, MatchesBruteForceOverAlignments) {
  const int vocab = 4;  // tokens 0..3 (EOS = 2 ends a hypothesis), blank = 4
  const size_t classes = vocab + 1;
  for (size_t frames = 1; frames <= 6; ++frames) {
    for (uint32_t seed = 0; seed < 4; ++seed) {
      SCOPED_TRACE("frames " + std::to_string(frames) + " seed " + std::to_string(seed));
      const std::vector<float> x = RandomPosteriors(frames, classes, seed, 1.5f);
      const auto all = Labellings(x, frames, classes);
      auto scorer = CtcPrefixScorer::Create({x, frames, classes}, vocab);
      ASSERT_TRUE(scorer.ok()) << scorer.status().ToString();
      // Every prefix of up to 3 non-EOS tokens, grown one token at a time
      // (repeats included: they need a blank in between).
      struct Node {
        std::vector<int32_t> prefix;
        CtcPrefixScorer::State state;
      };
      std::vector<Node> level{{{}, scorer->Empty()}};
      const std::vector<int32_t> tokens{0, 1, 3, kEosId};
      for (int depth = 0; depth < 3; ++depth) {
        std::vector<Node> next;
        for (const Node& n : level) {
          std::vector<double> psi(tokens.size());
          const int32_t last = n.prefix.empty() ? -1 : n.prefix.back();
          scorer->Scores(n.state, last, tokens, psi);
          for (size_t i = 0; i < tokens.size(); ++i) {
            if (tokens[i] == kEosId) {  // exactly the prefix
              const auto it = all.find(n.prefix);
              const double want = it == all.end() ? 0.0 : it->second;
              EXPECT_NEAR(std::exp(psi[i]), want, 1e-6);  // float rows sum to 1 +- 1e-7
              continue;
            }
            std::vector<int32_t> p = n.prefix;
            p.push_back(tokens[i]);
            EXPECT_NEAR(std::exp(psi[i]), PrefixMass(all, p), 1e-6) << "prefix size " << p.size();
            next.push_back({std::move(p), scorer->Extend(n.state, last, tokens[i])});
          }
        }
        level = std::move(next);
      }
    }
  }
}

TEST(CtcPrefix, RejectsBadTables) {
  std::vector<float> x = RandomPosteriors(3, 5, 1, 1.0f);
  EXPECT_EQ(CtcPrefixScorer::Create({x, 3, 4}, 4).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CtcPrefixScorer::Create({x, 0, 5}, 4).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(CtcPrefixScorer::Create({x, 2, 5}, 4).status().code(), StatusCode::kInvalidArgument);
  x[7] = std::nanf("");
  EXPECT_EQ(CtcPrefixScorer::Create({x, 3, 5}, 4).status().code(), StatusCode::kDataLoss);
  x[7] = 0.5f;  // a log-probability above 0
  EXPECT_EQ(CtcPrefixScorer::Create({x, 3, 5}, 4).status().code(), StatusCode::kDataLoss);
}

// An attention model with no opinion (every token alike, EOS likely from
// the start) and CTC posteriors spelling 5 7 7 9: the joint search follows
// CTC, repeated label included.
TEST(JointSearch, FollowsAConfidentCtc) {
  const int vocab = 12;
  const size_t classes = vocab + 1, blank = vocab;
  const std::vector<size_t> path{blank, 5, 5, blank, 7, blank, blank, 7, 9, 9, blank};
  const size_t frames = path.size();
  std::vector<float> x(frames * classes, std::log(0.01f / static_cast<float>(classes - 1)));
  for (size_t t = 0; t < frames; ++t) x[t * classes + path[t]] = std::log(0.99f);
  PrefixStepModel flat(vocab, [](const std::vector<int32_t>&, std::span<float> out) {
    for (float& v : out) v = -std::log(12.0f);
    return Status::Ok();
  });
  SearchOptions o{.beam = 4, .max_len_b = 20};
  auto plain = BeamSearch(flat, frames, o);
  ASSERT_TRUE(plain.ok());
  ASSERT_FALSE(plain->empty());
  EXPECT_NE((*plain)[0].tokens, (std::vector<int32_t>{5, 7, 7, 9}));
  o.ctc_weight = 0.5;
  o.ctc_pre_beam = vocab;  // flat attention: its pre-beam would be ids 0..7 (ties to the lower id)
  const CtcPosteriors ctc{x, frames, classes};
  auto joint = BeamSearch(flat, frames, o, {}, &ctc);
  ASSERT_TRUE(joint.ok()) << joint.status().ToString();
  ASSERT_FALSE(joint->empty());
  EXPECT_EQ((*joint)[0].tokens, (std::vector<int32_t>{5, 7, 7, 9}));
  // log_prob stays the attention total: 5 tokens + EOS at log(1/12).
  EXPECT_NEAR((*joint)[0].log_prob, 5 * -std::log(12.0), 1e-4);
}

// A vanishing CTC weight with every token in the pre-beam ranks as the
// attention-only search does.
TEST(JointSearch, TinyWeightIsTheAttentionSearch) {
  for (int seed = 0; seed < 20; ++seed) {
    const int vocab = 30;
    PrefixStepModel m1(vocab, [=](const std::vector<int32_t>& p, std::span<float> out) {
      return testing::HashLogProbs(p, out, seed, 6);
    });
    PrefixStepModel m2 = m1;
    SearchOptions o{.beam = 4, .nbest = 4};
    auto plain = BeamSearch(m1, 20, o);
    const std::vector<float> x = RandomPosteriors(20, vocab + 1, static_cast<uint32_t>(seed), 2.0f);
    const CtcPosteriors ctc{x, 20, static_cast<size_t>(vocab) + 1};
    o.ctc_weight = 1e-12;
    o.ctc_pre_beam = vocab;
    auto joint = BeamSearch(m2, 20, o, {}, &ctc);
    ASSERT_TRUE(plain.ok() && joint.ok());
    ASSERT_EQ(plain->size(), joint->size());
    for (size_t i = 0; i < plain->size(); ++i) {
      EXPECT_EQ((*plain)[i].tokens, (*joint)[i].tokens) << "seed " << seed << " hyp " << i;
      EXPECT_NEAR((*plain)[i].score, (*joint)[i].score, 1e-6);
    }
  }
}

TEST(JointSearch, RejectsBadSettings) {
  PrefixStepModel m(10, [](const std::vector<int32_t>& p, std::span<float> out) {
    return testing::HashLogProbs(p, out, 1, 4);
  });
  const std::vector<float> x = RandomPosteriors(8, 11, 3, 1.0f);
  const CtcPosteriors ctc{x, 8, 11};
  SearchOptions o{.beam = 3};
  o.ctc_weight = 0.3;
  EXPECT_EQ(BeamSearch(m, 8, o).status().code(), StatusCode::kInvalidArgument);  // no table
  o.ctc_weight = 1.0;
  EXPECT_EQ(BeamSearch(m, 8, o, {}, &ctc).status().code(), StatusCode::kInvalidArgument);
  o.ctc_weight = std::nan("");
  EXPECT_EQ(BeamSearch(m, 8, o, {}, &ctc).status().code(), StatusCode::kInvalidArgument);
  o.ctc_weight = 0.3;
  o.ctc_pre_beam = -1;
  EXPECT_EQ(BeamSearch(m, 8, o, {}, &ctc).status().code(), StatusCode::kInvalidArgument);
  o.ctc_pre_beam = 0;
  const CtcPosteriors wrong{x, 8, 10};
  EXPECT_EQ(BeamSearch(m, 8, o, {}, &wrong).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(BeamSearch(m, 8, o, {}, &ctc).ok());
}

}  // namespace
}  // namespace qasr::decoder
