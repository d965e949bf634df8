#include "decoder/tokenizer/tokenizer.h"

#include <sentencepiece_processor.h>

#include <string_view>

namespace qasr::decoder {

Tokenizer::Tokenizer(std::unique_ptr<sentencepiece::SentencePieceProcessor> sp)
    : sp_(std::move(sp)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Result<Tokenizer> Tokenizer::Create(std::span<const uint8_t> model_bytes, int expected_vocab) {
  if (model_bytes.empty()) return DataLoss("the model holds no SentencePiece tokenizer");
  auto sp = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const std::string_view bytes(reinterpret_cast<const char*>(model_bytes.data()),
                               model_bytes.size());
  const auto status = sp->LoadFromSerializedProto(bytes);
  if (!status.ok()) {
    return DataLoss("the model's SentencePiece tokenizer is invalid: " +
                    std::string(status.message()));
  }
  if (expected_vocab > 0 && sp->GetPieceSize() != expected_vocab) {
    return DataLoss("the SentencePiece tokenizer has " + std::to_string(sp->GetPieceSize()) +
                    " pieces but the model's vocabulary has " + std::to_string(expected_vocab));
  }
  return Tokenizer(std::move(sp));
}

int Tokenizer::vocab_size() const { return sp_->GetPieceSize(); }

std::string Tokenizer::Decode(std::span<const int32_t> ids) const {
  std::vector<int> keep;
  keep.reserve(ids.size());
  for (int32_t id : ids) {
    if (id >= 0 && id < sp_->GetPieceSize() && !sp_->IsControl(id)) keep.push_back(id);
  }
  std::string text;
  if (!sp_->Decode(keep, &text).ok()) return {};
  return text;
}

std::string Tokenizer::Piece(int32_t id) const {
  if (id < 0 || id >= sp_->GetPieceSize()) return {};
  return sp_->IdToPiece(id);
}

std::string Tokenizer::TokenText(int32_t id) const {
  if (id < 0 || id >= sp_->GetPieceSize() || sp_->IsControl(id)) return {};
  if (sp_->IsUnknown(id)) return " \xE2\x81\x87 ";
  std::string piece = sp_->IdToPiece(id);
  std::string out;
  static constexpr std::string_view kSpace = "\xE2\x96\x81";  // U+2581
  for (size_t i = 0; i < piece.size();) {
    if (piece.compare(i, kSpace.size(), kSpace) == 0) {
      out += ' ';
      i += kSpace.size();
    } else {
      out += piece[i++];
    }
  }
  return out;
}

std::vector<int32_t> Tokenizer::Encode(const std::string& text) const {
  std::vector<int> ids;
  if (!sp_->Encode(text, &ids).ok()) return {};
  return {ids.begin(), ids.end()};
}

}  // namespace qasr::decoder
