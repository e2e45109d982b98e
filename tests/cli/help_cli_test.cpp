// --help on every program of the build: it prints the program's usage on standard output and exits 0
// without starting any work, and every `reds` subcommand answers it the same way.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "support/command_runner.h"

namespace {

namespace fs = std::filesystem;
using reds::test::Outcome;
using HelpCliTest = reds::test::CommandTest;

// Our own programs (not the test and benchmark drivers, whose --help is GoogleTest's and Google
// Benchmark's) begin their help with "Usage: NAME".
TEST_F(HelpCliTest, EveryProgramAnswersHelpWithoutWorking) {
  std::size_t checked = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(bin_dir_)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || (entry.status().permissions() & fs::perms::owner_exec) == fs::perms::none)
      continue;
    const bool driver = name.ends_with("_tests") || name.ends_with("_bench") || name.ends_with("_fuzzer");
    if (name.ends_with("_fuzzer")) continue;  // libFuzzer's flags are -help=1
    SCOPED_TRACE(name);
    const Outcome help = run_program(entry.path(), {"--help"});
    EXPECT_EQ(help.exit_status, 0) << help.err;
    EXPECT_FALSE(help.out.empty());
    if (!driver) {
      EXPECT_EQ(help.out.rfind("Usage: " + name, 0), 0u) << help.out.substr(0, 200);
      EXPECT_EQ(help.err, "");
    }
    ++checked;
  }
  EXPECT_GE(checked, 2u) << "reds and reds-server at least";
}

TEST_F(HelpCliTest, EverySubcommandAnswersHelp) {
  for (const char* command : {"plan", "example", "run", "request", "profile", "apply", "export", "finetune",
                              "train", "knapsack", "plot"}) {
    SCOPED_TRACE(command);
    for (const char* flag : {"--help", "-h"}) {
      const Outcome help = run({command, flag});
      EXPECT_EQ(help.exit_status, 0);
      EXPECT_EQ(help.err, "");
      EXPECT_EQ(help.out.rfind(std::string("Usage: reds ") + command, 0), 0u) << help.out;
    }
  }
}

// Commands that print an answer offer -o FILE.
TEST_F(HelpCliTest, PrintingCommandsOfferOutputFile) {
  for (const char* command : {"plan", "example", "run", "request", "profile", "apply", "export", "finetune",
                              "train", "knapsack", "plot"}) {
    const Outcome help = run({command, "--help"});
    EXPECT_NE(help.out.find("-o [ --output ] "), std::string::npos) << command << ":\n" << help.out;
  }
}

}  // namespace
