// asr-cli: the command-line face of qasr. Subcommands are added as the
// layers under them land; each has --help.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "kernels/dispatch.h"
#include "qasr/version.h"

namespace {

int RunSelfcheck() {
  const qasr::kernels::TargetReport report = qasr::kernels::DescribeTargets();
  std::printf("SIMD target chosen: %s\n", report.chosen.c_str());
  std::printf("compiled targets:");
  for (const auto& t : report.compiled) std::printf(" %s", t.c_str());
  std::printf("\nsupported here:  ");
  for (const auto& t : report.supported) std::printf(" %s", t.c_str());
  std::printf("\n");
  return report.supported.empty() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"qasr: low-bit transformer speech recognition on CPUs"};
  app.set_version_flag("--version", std::string("asr-cli (qasr) ") + QASR_VERSION_STRING);
  app.require_subcommand(0, 1);

  CLI::App* selfcheck =
      app.add_subcommand("selfcheck", "Report the CPU's SIMD targets and check the kernels");

  CLI11_PARSE(app, argc, argv);
  if (selfcheck->parsed()) return RunSelfcheck();
  if (app.get_subcommands().empty()) {
    std::fputs(app.help().c_str(), stdout);
  }
  return 0;
}
