// LoadEngineBackend for builds whose engine has no runtime yet.
#include "decoder/pipeline/backend.h"

namespace qasr::decoder {

Result<std::unique_ptr<Backend>> LoadEngineBackend(const std::string& path, int, bool) {
  return Unimplemented("cannot run '" + path +
                       "': this build of qasr has no engine runtime (engine/runtime/session.h) "
                       "yet, so models cannot be executed");
}

}  // namespace qasr::decoder
