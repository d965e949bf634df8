// Each asr-cli subcommand lives in its own cmd_<name>.cc and registers itself
// on the app here; main.cc only wires them together.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace qasr::cli {

// A registered subcommand: its parsed CLI11 node and the action to run.
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command AddSelfcheckCommand(CLI::App& parent);
Command AddFeaturesCommand(CLI::App& parent);
Command AddInspectCommand(CLI::App& parent);
Command AddTranscribeCommand(CLI::App& parent);

}  // namespace qasr::cli
