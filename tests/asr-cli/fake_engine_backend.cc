// LoadEngineBackend for asr-cli-fake: any valid .qasr file "runs" on the
// tests' fake backend, so asr-cli transcribe can be tested end to end before
// the engine runtime exists.
#include "engine/format/model_file.h"
#include "tests/decoder/fake_backend.h"

namespace qasr::decoder {

Result<std::unique_ptr<Backend>> LoadEngineBackend(const std::string& path, int, bool) {
  auto file = engine::ModelFile::Open(path, {.verify_checksum = false});
  if (!file.ok()) return file.status();
  return std::unique_ptr<Backend>(
      std::make_unique<testing::FakeBackend>(file->config().vocab_size));
}

}  // namespace qasr::decoder
