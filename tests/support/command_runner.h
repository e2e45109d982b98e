// tests/support/command_runner.h: runs the `reds` command as a separate process, as a user would, and
// captures its exit status and both output streams. The binary is $REDS_BIN_DIR/reds (set by
// tests/CMakeLists.txt).
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace reds::test {

struct Outcome {
  int exit_status = -1;  // -1 when the process did not exit normally (killed by a signal)
  std::string out;
  std::string err;
};

std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& text);
std::size_t count_lines(const std::string& text);

// Every line of `text` parsed as JSON (one JSON value a line, as `--json` prints); a line that is not JSON
// gives a discarded value.
std::vector<nlohmann::json> json_lines(const std::string& text);

// A directory of its own under the system's temporary directory, removed with its files when the object
// goes.
class ScratchDirectory {
 public:
  ScratchDirectory();
  ~ScratchDirectory();
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// A fixture with the `reds` binary and a scratch directory removed after each test.
class CommandTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Writes `text` to a file of the scratch directory and returns its path.
  std::filesystem::path scratch_file(const std::string& name, const std::string& text);

  // Runs `reds args...` with `input` on its standard input; standard output and error go to files, so
  // neither can block the other and both are captured whole.
  Outcome run(const std::vector<std::string>& args, const std::string& input = "");
  // The same for any program.
  Outcome run_program(const std::filesystem::path& program, const std::vector<std::string>& args,
                      const std::string& input = "");

  // The command line was refused (exit status 2, nothing on standard output, two lines on standard error:
  // the reason, then the pointer to `reds COMMAND --help`).
  static void expect_usage_error(const Outcome& result, const std::string& command);

  std::filesystem::path bin_dir_;  // $REDS_BIN_DIR
  std::filesystem::path reds_;
  std::filesystem::path scratch_;
};

}  // namespace reds::test
