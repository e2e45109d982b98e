#include "support/command_runner.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

extern char** environ;

namespace reds::test {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary);
  file << text;
}

std::size_t count_lines(const std::string& text) { return std::count(text.begin(), text.end(), '\n'); }

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::istringstream stream(text);
  for (std::string line; std::getline(stream, line);)
    lines.push_back(nlohmann::json::parse(line, nullptr, false));
  return lines;
}

ScratchDirectory::ScratchDirectory() {
  std::string pattern = (fs::temp_directory_path() / "reds_test_XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "cannot make a directory like " << pattern;
    return;
  }
  path_ = pattern;
}

ScratchDirectory::~ScratchDirectory() {
  if (!path_.empty()) fs::remove_all(path_);
}

void CommandTest::SetUp() {
  // The scratch directory comes first: a subclass's SetUp goes on after a failed assertion here, and its
  // files must not land in the working directory.
  std::string pattern = (fs::temp_directory_path() / "reds_cli_test_XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr);
  scratch_ = pattern;
  const char* bin_dir = std::getenv("REDS_BIN_DIR");
  ASSERT_NE(bin_dir, nullptr) << "REDS_BIN_DIR is not set (run the tests with ctest)";
  bin_dir_ = bin_dir;
  reds_ = bin_dir_ / "reds";
  ASSERT_TRUE(fs::exists(reds_)) << reds_ << " does not exist";
}

void CommandTest::TearDown() {
  if (!scratch_.empty()) fs::remove_all(scratch_);
}

fs::path CommandTest::scratch_file(const std::string& name, const std::string& text) {
  const fs::path path = scratch_ / name;
  write_file(path, text);
  return path;
}

void CommandTest::expect_usage_error(const Outcome& result, const std::string& command) {
  EXPECT_EQ(result.exit_status, 2);
  EXPECT_EQ(result.out, "");
  EXPECT_EQ(count_lines(result.err), 2u) << result.err;
  EXPECT_NE(result.err.find("\nTry 'reds " + command + " --help'.\n"), std::string::npos) << result.err;
}

Outcome CommandTest::run(const std::vector<std::string>& args, const std::string& input) {
  return run_program(reds_, args, input);
}

Outcome CommandTest::run_program(const fs::path& program, const std::vector<std::string>& args,
                                 const std::string& input) {
  const fs::path in = scratch_file("stdin", input);
  const fs::path out = scratch_ / "stdout";
  const fs::path err = scratch_ / "stderr";

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, in.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> words = {program.string()};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& word : words) argv.push_back(word.data());
  argv.push_back(nullptr);

  Outcome result;
  pid_t pid = 0;
  const int spawned = posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) {
    ADD_FAILURE() << "posix_spawn failed with error " << spawned;
    return result;
  }
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) {
    ADD_FAILURE() << "waitpid failed";
    return result;
  }
  if (WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
  result.out = read_file(out);
  result.err = read_file(err);
  return result;
}

}  // namespace reds::test
