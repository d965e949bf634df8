// main() of the benchmark binaries that register their cases at run time
// (names built from shapes): parse Google Benchmark's flags, register, run.
#pragma once

#include <benchmark/benchmark.h>

namespace qasr::bench {

inline int RunBenchmarks(int argc, char** argv, void (*register_all)()) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace qasr::bench
