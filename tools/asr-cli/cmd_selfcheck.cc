// asr-cli selfcheck: reports the CPU's SIMD targets and checks the kernels.
#include <cstdio>

#include "kernels/dispatch.h"
#include "kernels/gemm/gemm_table.h"
#include "kernels/gemm/selfcheck.h"
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
  if (report.supported.empty()) return 1;
  // Every supported target's kernels against the scalar reference.
  int failures = 0;
  for (const kernels::GemmKernels* table : kernels::SupportedGemmKernels()) {
    const Status status = kernels::SelfCheckKernels(*table);
    std::printf("kernels %-8s %s\n", table->name, status.ok() ? "ok" : status.ToString().c_str());
    failures += status.ok() ? 0 : 1;
  }
  std::printf("kernel selfcheck: %s\n", failures == 0 ? "ok" : "FAILED");
  return failures == 0 ? 0 : 1;
}

}  // namespace

Command AddSelfcheckCommand(CLI::App& parent) {
  CLI::App* app =
      parent.add_subcommand("selfcheck", "Report the CPU's SIMD targets and check the kernels");
  return {app, RunSelfcheck};
}

}  // namespace qasr::cli
