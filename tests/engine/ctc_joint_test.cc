// The CTC head and joint CTC/attention search against the Python reference
// (tools/qasr/ctc_head.py, decode.py): the fixture's fp32 model has a random
// CTC head; the engine's CTC log-posteriors must match PyTorch's, and
// decoder::BeamSearch over an engine Session with them must find
// decode.py's joint hypotheses. Data: qasr.export.engine_fixture.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "decoder/search/search.h"
#include "engine/runtime/session.h"
#include "engine_fixture.h"
#include "npy_reader.h"

namespace qasr::engine {
namespace {

using testing::NpyArray;
using testing::ReadNpy;

std::string Dir() { return testing::EngineFixtureDir(); }

float MaxDiff(std::span<const float> a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  float m = 0.0f;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

class SessionStepModel : public decoder::StepModel {
 public:
  explicit SessionStepModel(Session& s) : s_(s) {}
  int vocab_size() const override { return s_.model().vocab_size(); }
  Status Begin(int max_rows) override { return s_.BeginDecode(max_rows); }
  Status Step(std::span<const int32_t> parents, std::span<const int32_t> tokens,
              std::span<float> log_probs) override {
    return s_.Step(parents, tokens, log_probs);
  }

 private:
  Session& s_;
};

TEST(CtcHead, LogPosteriorsMatchPyTorch) {
  if (Dir().empty()) GTEST_SKIP() << "QASR_ENGINE_FIXTURE not set";
  auto model = Model::Load(Dir() + "/fp32.qasr");
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  ASSERT_TRUE((*model)->weights().has_ctc);
  const size_t classes = static_cast<size_t>((*model)->vocab_size()) + 1;
  const NpyArray fa = ReadNpy(Dir() + "/feats_a.npy"), fb = ReadNpy(Dir() + "/feats_bpad.npy");
  const auto j = nlohmann::json::parse(std::ifstream(Dir() + "/ctc_joint.json"));
  const size_t frames_a = j["utterances"][0]["frames"], frames_b = j["utterances"][1]["frames"];
  const size_t dim = (*model)->feature_dim();
  for (int threads : {1, 2}) {
    Session s(*model, threads);
    EXPECT_EQ(s.CtcLogProbs().status().code(), StatusCode::kInvalidArgument);  // before Encode
    ASSERT_TRUE(s.Encode(fa.data, frames_a).ok());
    auto a = s.CtcLogProbs();
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    EXPECT_EQ(a->size(), s.encoder_valid_frames() * classes);
    EXPECT_LE(MaxDiff(*a, ReadNpy(Dir() + "/fp32.ctc_logp_a.npy").data), 1e-4f);
    // Padded inside a batch: only the valid frames.
    ASSERT_TRUE(s.Encode(fb.data, frames_a, frames_b).ok());
    auto bpad = s.CtcLogProbs();
    ASSERT_TRUE(bpad.ok());
    EXPECT_LE(MaxDiff(*bpad, ReadNpy(Dir() + "/fp32.ctc_logp_bpad.npy").data), 1e-4f);
    ASSERT_TRUE(s.Encode({fb.data.data(), frames_b * dim}, frames_b).ok());
    auto b = s.CtcLogProbs();
    ASSERT_TRUE(b.ok());
    EXPECT_LE(MaxDiff(*b, ReadNpy(Dir() + "/fp32.ctc_logp_b.npy").data), 1e-4f);
  }
  // A model without a head says so.
  auto plain = Model::Load(Dir() + "/odd.qasr");
  ASSERT_TRUE(plain.ok());
  Session s(*plain);
  EXPECT_FALSE(s.has_ctc());
  EXPECT_EQ(s.CtcLogProbs().status().code(), StatusCode::kInvalidArgument);
}

TEST(CtcHead, JointSearchMatchesDecodePy) {
  if (Dir().empty()) GTEST_SKIP() << "QASR_ENGINE_FIXTURE not set";
  auto model = Model::Load(Dir() + "/fp32.qasr");
  ASSERT_TRUE(model.ok());
  const auto j = nlohmann::json::parse(std::ifstream(Dir() + "/ctc_joint.json"));
  const size_t dim = (*model)->feature_dim(), classes = j["classes"];
  ASSERT_GE(j["searches"].size(), 4u);
  for (const auto& search : j["searches"]) {
    const std::string name = search["utterance"];
    SCOPED_TRACE(name + " weight " + std::to_string(search["ctc_weight"].get<double>()));
    const auto& utt = j["utterances"][name == "a" ? 0 : 1];
    const NpyArray f = ReadNpy(Dir() + "/" + utt["features"].get<std::string>());
    const size_t frames = utt["frames"];
    Session s(*model);
    ASSERT_TRUE(s.Encode({f.data.data(), frames * dim}, frames).ok());
    auto lp = s.CtcLogProbs();
    ASSERT_TRUE(lp.ok());
    const auto& o = search["options"];
    decoder::SearchOptions opt;
    opt.beam = o["beam"];
    opt.nbest = o["nbest"];
    opt.max_len_a = o["max_len_a"];
    opt.max_len_b = o["max_len_b"];
    opt.min_len = o["min_len"];
    opt.len_pen = o["len_pen"];
    opt.normalize_scores = o["normalize_scores"];
    opt.ctc_weight = o["ctc_weight"];
    opt.ctc_pre_beam = o["ctc_pre_beam"];
    SessionStepModel step(s);
    const decoder::CtcPosteriors ctc{*lp, s.encoder_valid_frames(), classes};
    auto hyps = decoder::BeamSearch(step, s.encoder_valid_frames(), opt, {}, &ctc);
    ASSERT_TRUE(hyps.ok()) << hyps.status().ToString();
    ASSERT_FALSE(hyps->empty());
    // Engine and PyTorch log-probs differ by ~1e-6 (at most 1e-4 in the
    // parity test); the fixture's decisions are at least min_margin apart.
    EXPECT_GT(search["min_margin"].get<double>(), 2e-4);
    EXPECT_EQ((*hyps)[0].tokens, search["tokens"].get<std::vector<int32_t>>());
    EXPECT_NEAR((*hyps)[0].score, search["score"].get<double>(), 1e-4);
    EXPECT_NEAR((*hyps)[0].log_prob, search["log_prob"].get<double>(), 1e-4);
  }
}

}  // namespace
}  // namespace qasr::engine
