// SentencePiece trains a model from a few lines in memory and round-trips text.
#include <gtest/gtest.h>
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <string>
#include <vector>

namespace {

class VectorIterator : public sentencepiece::SentenceIterator {
 public:
  explicit VectorIterator(std::vector<std::string> lines) : lines_(std::move(lines)) {}
  bool done() const override { return i_ >= lines_.size(); }
  void Next() override { ++i_; }
  const std::string& value() const override { return lines_[i_]; }
  sentencepiece::util::Status status() const override { return {}; }

 private:
  std::vector<std::string> lines_;
  size_t i_ = 0;
};

TEST(SentencePieceSmoke, TrainEncodeDecode) {
  std::vector<std::string> lines;
  const char* base[] = {
      "the quick brown fox jumps over the lazy dog", "speech recognition on small devices",
      "quantized weights make models small and fast", "a transformer with convolutional context"};
  for (int rep = 0; rep < 50; ++rep)
    for (const char* s : base) lines.emplace_back(s);
  VectorIterator it(lines);
  std::string proto;
  const auto train = sentencepiece::SentencePieceTrainer::Train(
      "--model_type=unigram --vocab_size=40 --hard_vocab_limit=false --bos_id=-1 --pad_id=1 "
      "--eos_id=2 --unk_id=3 --minloglevel=2",
      &it, &proto);
  ASSERT_TRUE(train.ok()) << train.ToString();

  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.LoadFromSerializedProto(proto).ok());
  EXPECT_EQ(sp.eos_id(), 2);
  std::vector<int> ids;
  const std::string text = "quick speech on small models";
  ASSERT_TRUE(sp.Encode(text, &ids).ok());
  EXPECT_GT(ids.size(), 1u);
  std::string back;
  ASSERT_TRUE(sp.Decode(ids, &back).ok());
  EXPECT_EQ(back, text);
}

}  // namespace
