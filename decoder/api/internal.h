// Internals of the public API (include/qasr/qasr.hpp), shared by its C++ and
// C implementations and by tests. Not installed.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "decoder/pipeline/backend.h"
#include "decoder/pipeline/transcriber.h"
#include "decoder/tokenizer/tokenizer.h"
#include "frontend/features/fbank.h"
#include "kernels/base/status.h"
#include "qasr/qasr.hpp"

namespace qasr {

struct __attribute__((visibility("hidden"))) Model::Impl {
  Impl(std::string p, std::string meta, std::unique_ptr<decoder::Backend> b, decoder::Tokenizer t,
       frontend::Fbank f)
      : path(std::move(p)),
        metadata(std::move(meta)),
        backend(std::move(b)),
        tokenizer(std::move(t)),
        fbank(std::move(f)) {}
  std::string path;
  std::string metadata;
  std::unique_ptr<decoder::Backend> backend;
  decoder::Tokenizer tokenizer;
  frontend::Fbank fbank;
};

Error ToError(const Status& status);

// A Model over any backend (tests use fake ones).
std::shared_ptr<const Model> MakeModel(std::string path, std::string metadata,
                                       std::unique_ptr<decoder::Backend> backend,
                                       decoder::Tokenizer tokenizer, Error* error);

}  // namespace qasr
