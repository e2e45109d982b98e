// examples/plan_over_http.py, the README's Python client, against a running server: what it prints is the
// library's plan, and a refused request exits 1 with the server's explanation.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "server_fixture.h"

namespace reds::server::test {
namespace {

namespace fs = std::filesystem;

const fs::path kRepository = reds::test::source_path("");

struct ClientRun {
  int exit_status = -1;
  std::string out, err;
};

// python3 examples/plan_over_http.py URL REQUEST, its standard error through a file.
ClientRun run_client(int port, const fs::path& request) {
  const fs::path err_file = fs::temp_directory_path() / ("plan_over_http_" + std::to_string(::getpid()));
  const std::string command = "python3 '" + (kRepository / "examples/plan_over_http.py").string() +
                              "' http://127.0.0.1:" + std::to_string(port) + " '" + request.string() +
                              "' 2>'" + err_file.string() + "'";
  ClientRun run;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run " + command);
  char buffer[4096];
  std::size_t count = 0;
  while ((count = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) run.out.append(buffer, count);
  const int status = ::pclose(pipe);
  run.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  run.err = read_file(err_file);
  fs::remove(err_file);
  return run;
}

TEST(PythonClientTest, PrintsTheLibrarysPlanOneLinePerLevel) {
  RunningServer server;
  const fs::path request = kRepository / "examples/tiny_ds_block.json";
  const ClientRun run = run_client(server.port(), request);
  ASSERT_EQ(run.exit_status, 0) << run.err;

  // The expected lines, built from the library's own answer to the same request.
  const json answer = library_answer(read_file(request));
  const json layers = json::parse(read_file(request))["network"]["layers"];
  std::vector<std::string> expected;
  for (std::size_t l = 0; l < answer["levels"].size(); ++l) {
    const json& level = answer["levels"][l];
    std::string widths;
    for (const json& layer : layers) {
      const std::string name = layer["name"];
      widths += (widths.empty() ? "" : " ") + name + "=" + std::to_string(level["widths"][name].get<int>());
    }
    char importance[64];
    std::snprintf(importance, sizeof importance, "%.6g", level["importance"].get<double>());
    expected.push_back("level " + std::to_string(l + 1) + ": optimal, macs " +
                       std::to_string(level["cost"]["macs"].get<long>()) + " of " +
                       std::to_string(level["limits"]["macs"].get<long>()) + ", importance " + importance +
                       " (gap 0), widths " + widths);
  }
  EXPECT_EQ(lines_of(run.out), expected) << run.out;
}

TEST(PythonClientTest, ARefusedRequestExits1WithTheServersMessageAndPointer) {
  RunningServer server;
  const fs::path request =
      fs::temp_directory_path() / ("bad_request_" + std::to_string(::getpid()) + ".json");
  {
    std::ofstream file(request);
    file << R"({"network": {"inputs": 1, "layers": [{"name": "a", "units": 2, "importance": [1, 2, 3]}]},
                "levels": [{"macs": {"max": 1}}]})";
  }
  const ClientRun run = run_client(server.port(), request);
  fs::remove(request);
  EXPECT_EQ(run.exit_status, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err,
            "plan_over_http.py: HTTP 400 invalid_argument: layers[0].importance has 3 numbers, expected 2 "
            "(at /network/layers/0/importance)\n");
}

}  // namespace
}  // namespace reds::server::test
