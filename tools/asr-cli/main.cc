// asr-cli: the command-line face of qasr. Subcommands live in cmd_*.cc.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <vector>

#include "qasr/version.h"
#include "tools/asr-cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"qasr: low-bit transformer speech recognition on CPUs"};
  app.set_version_flag("--version", std::string("asr-cli (qasr) ") + QASR_VERSION_STRING);
  app.require_subcommand(0, 1);

  const std::vector<qasr::cli::Command> commands = {
      qasr::cli::AddSelfcheckCommand(app),
      qasr::cli::AddFeaturesCommand(app),
      qasr::cli::AddInspectCommand(app),
      qasr::cli::AddTranscribeCommand(app),
  };

  CLI11_PARSE(app, argc, argv);
  for (const auto& command : commands) {
    if (command.app->parsed()) return command.run();
  }
  std::fputs(app.help().c_str(), stdout);
  return 0;
}
