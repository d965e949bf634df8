// A Backend for pipeline/API tests: the "encoder" keeps only the frame count
// and a checksum of the features; decoder log-probs are a hash of the prefix
// seeded by that checksum, EOS growing likely after ~frames/8 tokens.
#pragma once

#include <atomic>
#include <cstring>

#include "decoder/pipeline/backend.h"
#include "tests/decoder/fake_step_model.h"

namespace qasr::decoder::testing {

class FakeSession : public BackendSession {
 public:
  FakeSession(int vocab, std::atomic<long>* steps)
      : steps_(steps), inner_(vocab, [this](const std::vector<int32_t>& p, std::span<float> out) {
          return HashLogProbs(p, out, seed_, static_cast<int>(frames_ / 8));
        }) {}
  int vocab_size() const override { return inner_.vocab_size(); }
  Status Encode(std::span<const float> feats, size_t frames) override {
    if (feats.size() != frames * 80) return InvalidArgument("feature shape");
    uint32_t h = 0;
    for (size_t i = 0; i < feats.size(); i += 97) {
      uint32_t bits;
      std::memcpy(&bits, &feats[i], 4);
      h = h * 31 + (bits >> 12);
    }
    seed_ = static_cast<int>(h & 0x7fffffff);
    frames_ = (frames + 3) / 4;
    return Status::Ok();
  }
  size_t encoder_frames() const override { return frames_; }
  Status Begin(int max_rows) override { return inner_.Begin(max_rows); }
  Status Step(std::span<const int32_t> parents, std::span<const int32_t> tokens,
              std::span<float> log_probs) override {
    if (steps_ != nullptr) steps_->fetch_add(1);
    return inner_.Step(parents, tokens, log_probs);
  }

 private:
  std::atomic<long>* steps_;
  PrefixStepModel inner_;
  int seed_ = 0;
  size_t frames_ = 0;
};

class FakeBackend : public Backend {
 public:
  explicit FakeBackend(int vocab, std::atomic<long>* steps = nullptr)
      : vocab_(vocab), steps_(steps) {}
  int vocab_size() const override { return vocab_; }
  Result<std::unique_ptr<BackendSession>> NewSession(int) const override {
    return std::unique_ptr<BackendSession>(std::make_unique<FakeSession>(vocab_, steps_));
  }

 private:
  int vocab_;
  std::atomic<long>* steps_;
};

}  // namespace qasr::decoder::testing
