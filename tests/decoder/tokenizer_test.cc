// SentencePiece detokenisation with a model trained by the Python toolkit
// (make_testdata.py: bos 0, pad 1, eos 2, unk 3).
#include "decoder/tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>

#include "decoder/search/step_model.h"

namespace qasr::decoder {
namespace {

std::vector<uint8_t> SpmBytes() {
  const char* dir = std::getenv("QASR_DECODER_TESTDATA");
  std::ifstream in(std::string(dir ? dir : ".") + "/spm40.model", std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

TEST(Tokenizer, RoundTripsAndSkipsControlIds) {
  auto tok = Tokenizer::Create(SpmBytes(), 40);
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ(tok->vocab_size(), 40);
  EXPECT_EQ(tok->Piece(kEosId), "</s>");
  EXPECT_EQ(tok->Piece(kUnkId), "<unk>");
  EXPECT_EQ(tok->Piece(40), "");
  const std::string text = "the cat sat on the mat";
  std::vector<int32_t> ids = tok->Encode(text);
  ASSERT_FALSE(ids.empty());
  EXPECT_EQ(tok->Decode(ids), text);
  std::string joined;
  for (int32_t id : ids) joined += tok->TokenText(id);
  EXPECT_EQ(joined, " " + text);
  ids.insert(ids.begin(), kEosId);
  ids.push_back(kPadId);
  ids.push_back(kBosId);
  ids.push_back(-5);
  ids.push_back(1000);
  EXPECT_EQ(tok->Decode(ids), text);
  EXPECT_EQ(tok->TokenText(kEosId), "");
  EXPECT_EQ(tok->TokenText(kUnkId), " \xE2\x81\x87 ");
}

TEST(Tokenizer, RejectsBadModels) {
  EXPECT_EQ(Tokenizer::Create({}, 40).status().code(), StatusCode::kDataLoss);
  const std::vector<uint8_t> junk = {'q', 'a', 's', 'r', 0, 1, 2};
  EXPECT_EQ(Tokenizer::Create(junk, 40).status().code(), StatusCode::kDataLoss);
  auto wrong = Tokenizer::Create(SpmBytes(), 41);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("41"), std::string::npos);
}

}  // namespace
}  // namespace qasr::decoder
