// Search behaviour beyond parity: guards, cancellation, validation, greedy.
#include "decoder/search/search.h"

#include <gtest/gtest.h>

#include "tests/decoder/fake_step_model.h"

namespace qasr::decoder {
namespace {

using testing::HashLogProbs;
using testing::PrefixStepModel;

PrefixStepModel HashModel(int vocab, int seed, int eos_after) {
  return PrefixStepModel(vocab, [=](const std::vector<int32_t>& p, std::span<float> out) {
    return HashLogProbs(p, out, seed, eos_after);
  });
}

// Prefers token 5 forever, EOS a distant second: the degenerate loop.
PrefixStepModel LoopModel() {
  return PrefixStepModel(10, [](const std::vector<int32_t>&, std::span<float> out) {
    for (size_t v = 0; v < out.size(); ++v) out[v] = -10.0f - static_cast<float>(v);
    out[5] = -0.1f;
    out[kEosId] = -4.0f;
    return Status::Ok();
  });
}

TEST(Search, LoopGuardDoesNotChangeOrdinaryResults) {
  for (int seed = 0; seed < 30; ++seed) {
    SearchOptions off;
    off.beam = 4;
    off.nbest = 4;
    SearchOptions on = off;
    on.loop_max_repeats = 8;
    auto m1 = HashModel(50, seed, 10);
    auto m2 = HashModel(50, seed, 10);
    auto a = BeamSearch(m1, 100, off);
    auto b = BeamSearch(m2, 100, on);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->size(), b->size());
    for (size_t i = 0; i < a->size(); ++i) {
      EXPECT_EQ((*a)[i].tokens, (*b)[i].tokens);
      EXPECT_EQ((*a)[i].score, (*b)[i].score);
    }
  }
}

TEST(Search, LoopGuardCutsDegenerateLoops) {
  SearchOptions o{.beam = 3, .max_len_b = 60};
  auto m = LoopModel();
  auto plain = BeamSearch(m, 10, o);
  ASSERT_TRUE(plain.ok());
  ASSERT_FALSE(plain->empty());
  o.loop_max_repeats = 8;
  auto guarded = BeamSearch(m, 10, o);
  ASSERT_TRUE(guarded.ok());
  ASSERT_FALSE(guarded->empty());
  const auto& best = (*guarded)[0].tokens;
  int run = 0, longest = 0;
  for (size_t i = 0; i < best.size(); ++i) {
    run = (i > 0 && best[i] == best[i - 1]) ? run + 1 : 1;
    longest = std::max(longest, run);
  }
  EXPECT_LE(longest, 8);
  auto g = GreedySearch(m, 10, o);
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g->finished);
  EXPECT_LE(g->tokens.size(), 8u);
}

TEST(Search, NoRepeatNgram) {
  const SearchOptions o{.beam = 2, .max_len_b = 30, .no_repeat_ngram_size = 2};
  auto m = LoopModel();
  auto r = BeamSearch(m, 10, o);
  ASSERT_TRUE(r.ok());
  const auto& t = (*r)[0].tokens;
  for (size_t i = 0; i + 3 < t.size(); ++i) {
    for (size_t j = i + 1; j + 1 < t.size(); ++j) {
      EXPECT_FALSE(t[i] == t[j] && t[i + 1] == t[j + 1]);
    }
  }
}

TEST(Search, MaxLengthForcesEos) {
  const SearchOptions o{.beam = 3, .max_len_b = 4};
  auto m = LoopModel();
  auto r = BeamSearch(m, 10, o);
  ASSERT_TRUE(r.ok());
  ASSERT_FALSE(r->empty());
  EXPECT_LE((*r)[0].tokens.size(), 4u);
  auto g = GreedySearch(m, 10, o);
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(g->finished);
  EXPECT_EQ(g->tokens.size(), 4u);
}

TEST(Search, CheckCancelsMidUtterance) {
  const SearchOptions o{.beam = 2, .max_len_b = 50};
  auto m = HashModel(30, 1, 40);
  int calls = 0;
  auto r = BeamSearch(m, 10, o, [&] { return ++calls > 3 ? Cancelled("stop") : Status::Ok(); });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
  EXPECT_EQ(m.steps(), 3);
}

TEST(Search, RejectsBadOptions) {
  auto m = LoopModel();
  SearchOptions o;
  o.beam = 0;
  EXPECT_EQ(BeamSearch(m, 10, o).status().code(), StatusCode::kInvalidArgument);
  o.beam = 2;
  o.nbest = 0;
  EXPECT_EQ(BeamSearch(m, 10, o).status().code(), StatusCode::kInvalidArgument);
  PrefixStepModel tiny(3,
                       [](const std::vector<int32_t>&, std::span<float>) { return Status::Ok(); });
  EXPECT_FALSE(GreedySearch(tiny, 10, SearchOptions{}).ok());
}

TEST(Search, ModelErrorsPropagate) {
  PrefixStepModel bad(10, [](const std::vector<int32_t>& p, std::span<float> out) {
    std::fill(out.begin(), out.end(), -2.0f);
    return p.size() >= 2 ? DataLoss("boom") : Status::Ok();
  });
  SearchOptions o;
  o.beam = 2;
  EXPECT_EQ(BeamSearch(bad, 10, o).status().code(), StatusCode::kDataLoss);
}

TEST(Search, ConfidenceAndTokenScores) {
  auto m = HashModel(40, 3, 6);
  SearchOptions o;
  o.beam = 4;
  auto r = BeamSearch(m, 50, o);
  ASSERT_TRUE(r.ok());
  const Hypothesis& h = (*r)[0];
  ASSERT_EQ(h.token_log_probs.size(), h.tokens.size() + 1);
  EXPECT_GT(h.confidence(), 0.0);
  EXPECT_LE(h.confidence(), 1.0);
  EXPECT_NEAR(std::log(h.confidence()), h.score, 1e-5);  // len_pen 1: same quantity
}

TEST(Search, BeamOneEqualsGreedyOnPeakedModel) {
  for (int seed = 0; seed < 10; ++seed) {
    auto m1 = HashModel(30, seed, 5);
    auto m2 = HashModel(30, seed, 5);
    SearchOptions o;
    o.beam = 1;
    auto b = BeamSearch(m1, 40, o);
    auto g = GreedySearch(m2, 40, o);
    ASSERT_TRUE(b.ok() && g.ok());
    ASSERT_FALSE(b->empty());
    EXPECT_EQ((*b)[0].tokens, g->tokens);
  }
}

}  // namespace
}  // namespace qasr::decoder
