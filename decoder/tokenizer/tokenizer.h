// SentencePiece detokenisation. qasr models are trained with bos 0, pad 1,
// eos 2, unk 3, so SentencePiece ids are the model's token ids; the
// SentencePiece model bytes travel inside the .qasr file.
// Thread safety: immutable after Create; Decode/Piece may be called from any
// number of threads.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kernels/base/status.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace qasr::decoder {

class Tokenizer {
 public:
  // Parses a serialized SentencePiece model; DataLoss if it is not one or
  // its vocabulary size differs from `expected_vocab` (when > 0).
  static Result<Tokenizer> Create(std::span<const uint8_t> model_bytes, int expected_vocab = 0);
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  int vocab_size() const;
  // Text of `ids`; control ids (bos, pad, eos) are skipped, unk is " ⁇ ".
  std::string Decode(std::span<const int32_t> ids) const;
  // The piece of one id ("▁the", "<unk>"); empty for ids out of range.
  std::string Piece(int32_t id) const;
  // The text one token adds (piece with "▁" turned into a space).
  std::string TokenText(int32_t id) const;
  // Encodes text to ids (tests and tools).
  std::vector<int32_t> Encode(const std::string& text) const;

 private:
  explicit Tokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> sp);
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
};

}  // namespace qasr::decoder
