// asr-cli selfcheck: reports the CPU's SIMD targets and checks the kernels.
#include <cstdio>

#include "kernels/dispatch.h"
#include "tools/asr-cli/commands.h"

namespace qasr::cli {

namespace {

int RunSelfcheck() {
  const kernels::TargetReport report = kernels::DescribeTargets();
  std::printf("SIMD target chosen: %s\n", report.chosen.c_str());
  std::printf("compiled targets:");
  for (const auto& t : report.compiled) std::printf(" %s", t.c_str());
  std::printf("\nsupported here:  ");
  for (const auto& t : report.supported) std::printf(" %s", t.c_str());
  std::printf("\n");
  return report.supported.empty() ? 1 : 0;
}

}  // namespace

Command AddSelfcheckCommand(CLI::App& parent) {
  CLI::App* app =
      parent.add_subcommand("selfcheck", "Report the CPU's SIMD targets and check the kernels");
  return {app, RunSelfcheck};
}

}  // namespace qasr::cli
