// Where qasr.export.engine_fixture wrote the engine's parity data (ctest
// fixture engine.vggtransformer_fixture): $QASR_ENGINE_FIXTURE, or "" when
// unset (the tests that need it skip).
#pragma once

#include <cstdlib>
#include <string>

namespace qasr::engine::testing {

inline std::string EngineFixtureDir() {
  const char* d = std::getenv("QASR_ENGINE_FIXTURE");
  return d != nullptr ? d : "";
}

}  // namespace qasr::engine::testing
