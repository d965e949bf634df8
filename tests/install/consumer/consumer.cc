// Uses the installed C++ API: version, error reporting, and (given a model
// and audio) a transcription; exit 0 when everything behaves.
#include <qasr/version.h>

#include <cstdio>
#include <qasr/qasr.hpp>
#include <string>

int main(int argc, char** argv) {
  std::printf("%s (header %s)\n", qasr::VersionString(), QASR_VERSION_STRING);
  qasr::Error e;
  if (qasr::Model::Load("/nonexistent/model.qasr", {}, &e) ||
      e.code != qasr::ErrorCode::kNotFound) {
    std::fprintf(stderr, "expected NotFound, got %d: %s\n", static_cast<int>(e.code),
                 e.message.c_str());
    return 1;
  }
  if (argc < 3) return 0;
  auto model = qasr::Model::Load(argv[1], {}, &e);
  if (!model) {
    std::printf("model: %s\n", e.message.c_str());
    // Before the engine runtime lands, a valid model reports Unimplemented.
    return e.code == qasr::ErrorCode::kUnimplemented ? 0 : 1;
  }
  auto rec = qasr::Recognizer::Create(model, {}, &e);
  qasr::Transcript t;
  if (!rec || !(e = rec->TranscribeFile(argv[2], &t)).ok()) {
    std::fprintf(stderr, "transcribe: %s\n", e.message.c_str());
    return 1;
  }
  std::printf("%zu segment(s): %s\n", t.segments.size(), t.text().c_str());
  return 0;
}
