// The engine runtime (engine/runtime/session.h) as a decoder Backend.
// Compiled only when the engine has a runtime (decoder/CMakeLists.txt).
#include "decoder/pipeline/backend.h"
#include "engine/runtime/session.h"

namespace qasr::decoder {
namespace {

class EngineSession : public BackendSession {
 public:
  EngineSession(std::shared_ptr<const engine::Model> model, int threads)
      : model_(model), session_(std::move(model), threads) {}
  int vocab_size() const override { return model_->vocab_size(); }
  Status Encode(std::span<const float> feats, size_t frames) override {
    return session_.Encode(feats, frames);
  }
  size_t encoder_frames() const override { return session_.encoder_frames(); }
  Result<CtcPosteriors> Ctc() override {
    auto lp = session_.CtcLogProbs();
    if (!lp.ok()) return lp.status();
    return CtcPosteriors{*lp, session_.encoder_valid_frames(),
                         static_cast<size_t>(model_->vocab_size()) + 1};
  }
  Status Begin(int max_rows) override { return session_.BeginDecode(max_rows); }
  Status Step(std::span<const int32_t> parents, std::span<const int32_t> tokens,
              std::span<float> log_probs) override {
    return session_.Step(parents, tokens, log_probs);
  }

 private:
  std::shared_ptr<const engine::Model> model_;
  engine::Session session_;
};

class EngineBackend : public Backend {
 public:
  explicit EngineBackend(std::shared_ptr<const engine::Model> model) : model_(std::move(model)) {}
  int vocab_size() const override { return model_->vocab_size(); }
  bool has_ctc() const override { return model_->weights().has_ctc; }
  Result<std::unique_ptr<BackendSession>> NewSession(int threads) const override {
    return std::unique_ptr<BackendSession>(std::make_unique<EngineSession>(model_, threads));
  }

 private:
  std::shared_ptr<const engine::Model> model_;
};

}  // namespace

Result<std::unique_ptr<Backend>> LoadEngineBackend(const std::string& path, int threads,
                                                   bool verify_checksum) {
  engine::ModelOptions options;
  options.threads = threads;
  options.verify_checksum = verify_checksum;
  auto model = engine::Model::Load(path, options);
  if (!model.ok()) return model.status();
  return std::unique_ptr<Backend>(std::make_unique<EngineBackend>(std::move(*model)));
}

}  // namespace qasr::decoder
