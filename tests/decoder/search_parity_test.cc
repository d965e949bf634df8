// C++ beam, joint CTC/attention and greedy search against
// tools/qasr/decode.py on recorded log-prob tables (search_parity.py):
// identical n-best token sequences and scores within 1e-5.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "decoder/search/search.h"
#include "tests/decoder/fake_step_model.h"

namespace qasr::decoder {

using testing::PrefixStepModel;

namespace {

using Table = std::map<std::vector<int32_t>, std::vector<float>>;

nlohmann::json LoadCases() {
  const char* path = std::getenv("QASR_SEARCH_PARITY");
  if (path == nullptr) return {};
  std::ifstream in(path);
  if (!in) return {};
  return nlohmann::json::parse(in, nullptr, false);
}

PrefixStepModel::Fill TableFill(const Table& table) {
  return [&table](const std::vector<int32_t>& prefix, std::span<float> out) -> Status {
    auto it = table.find(prefix);
    if (it == table.end() || it->second.size() != out.size()) {
      return Internal("prefix of length " + std::to_string(prefix.size()) + " not recorded");
    }
    std::copy(it->second.begin(), it->second.end(), out.begin());
    return Status::Ok();
  };
}

}  // namespace

TEST(SearchParity, MatchesDecodePy) {
  const nlohmann::json doc = LoadCases();
  ASSERT_TRUE(doc.is_object()) << "set QASR_SEARCH_PARITY to search_parity.py's output";
  const auto& cases = doc.at("cases");
  ASSERT_GT(cases.size(), 50u);
  int greedy_cases = 0, joint_cases = 0;
  for (size_t c = 0; c < cases.size(); ++c) {
    const auto& cs = cases[c];
    SCOPED_TRACE("case " + std::to_string(c));
    Table table;
    for (const auto& entry : cs.at("table")) {
      std::vector<float> lp;
      for (const auto& v : entry[1]) lp.push_back(static_cast<float>(v.get<double>()));
      table[entry[0].get<std::vector<int32_t>>()] = std::move(lp);
    }
    const auto& o = cs.at("options");
    SearchOptions options;
    options.beam = o.at("beam");
    options.nbest = o.at("nbest");
    options.max_len_a = o.at("max_len_a");
    options.max_len_b = o.at("max_len_b");
    options.min_len = o.at("min_len");
    options.len_pen = o.at("len_pen");
    options.normalize_scores = o.at("normalize_scores");
    options.no_repeat_ngram_size = o.at("no_repeat_ngram_size");
    const int vocab = cs.at("vocab");
    const size_t frames = cs.at("frames");

    PrefixStepModel model(vocab, TableFill(table));
    auto hyps = BeamSearch(model, frames, options);
    ASSERT_TRUE(hyps.ok()) << hyps.status().ToString();
    const auto& expected = cs.at("nbest");
    ASSERT_EQ(hyps->size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
      const Hypothesis& h = (*hyps)[i];
      EXPECT_EQ(h.tokens, expected[i].at("tokens").get<std::vector<int32_t>>()) << "hyp " << i;
      EXPECT_NEAR(h.score, expected[i].at("score").get<double>(), 1e-5) << "hyp " << i;
      EXPECT_NEAR(h.log_prob, expected[i].at("log_prob").get<double>(), 1e-5) << "hyp " << i;
      ASSERT_EQ(h.token_log_probs.size(), h.tokens.size() + 1);
      double sum = 0;
      for (float lp : h.token_log_probs) sum += lp;
      EXPECT_NEAR(sum, h.log_prob, 1e-4);
    }
    if (!cs.at("joint").is_null()) {
      ++joint_cases;
      const auto& j = cs.at("joint");
      std::vector<float> lp;
      for (const auto& row : j.at("log_probs"))
        for (const auto& v : row) lp.push_back(static_cast<float>(v.get<double>()));
      const CtcPosteriors ctc{lp, frames, static_cast<size_t>(vocab) + 1};
      SearchOptions jo = options;
      jo.ctc_weight = j.at("weight");
      jo.ctc_pre_beam = j.at("pre_beam");
      PrefixStepModel jm(vocab, TableFill(table));
      auto jh = BeamSearch(jm, frames, jo, {}, &ctc);
      ASSERT_TRUE(jh.ok()) << jh.status().ToString();
      const auto& want = j.at("nbest");
      ASSERT_EQ(jh->size(), want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ((*jh)[i].tokens, want[i].at("tokens").get<std::vector<int32_t>>())
            << "joint " << i;
        EXPECT_NEAR((*jh)[i].score, want[i].at("score").get<double>(), 1e-5) << "joint " << i;
        EXPECT_NEAR((*jh)[i].log_prob, want[i].at("log_prob").get<double>(), 1e-5) << "joint " << i;
      }
    }
    if (!cs.at("greedy").is_null() && options.no_repeat_ngram_size == 0) {
      ++greedy_cases;
      PrefixStepModel gm(vocab, TableFill(table));
      auto g = GreedySearch(gm, frames, options);
      ASSERT_TRUE(g.ok()) << g.status().ToString();
      EXPECT_EQ(g->tokens, cs.at("greedy").get<std::vector<int32_t>>());
    }
  }
  EXPECT_GT(greedy_cases, 10);
  EXPECT_GT(joint_cases, 40);
}

}  // namespace qasr::decoder
