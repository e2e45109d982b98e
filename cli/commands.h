// The `reds` command: its subcommands and the command-line plumbing they share.
//
// Every subcommand takes the arguments that follow its name and the three standard streams, and returns
// the process's exit status. Output goes to `out` only on success, so a failed `reds plan` never leaves a
// partial answer on standard output.
#pragma once

#include <boost/program_options.hpp>
#include <iosfwd>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "reds/status.h"

namespace reds::cli {

// Exit statuses, shared by every subcommand.
inline constexpr int kExitSuccess = 0;
inline constexpr int kExitFailure = 1;     // not the caller's fault: an internal error, unwritable output
inline constexpr int kExitUsageError = 2;  // bad command line or bad input (unreadable, invalid request)

// The exit status of a failed call: internal errors are ours (1), every other code is the input's (2).
int exit_status(ErrorCode code);

struct Streams {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

// A command's command line: its options (shown by --help), its positional arguments and its help text.
// Every command line knows -h/--help.
class CommandLine {
 public:
  // `name` prefixes error messages ("reds plan"); `synopsis` is the usage line without "Usage: ".
  CommandLine(std::string name, std::string synopsis, std::string description);

  boost::program_options::options_description_easy_init add_options();
  // A positional argument taking up to `max_count` words (-1: any number); not listed under options.
  void add_positional(const char* name, int max_count, const boost::program_options::value_semantic* value);

  // The parsed arguments, or nothing after reporting the usage error, followed by the help, on `err`.
  std::optional<boost::program_options::variables_map> parse(const std::vector<std::string>& args,
                                                             std::ostream& err) const;
  void print_help(std::ostream& out) const;
  // "reds plan: <message>" on one line.
  void print_error(std::ostream& err, const std::string& message) const;
  // The message, then the help, on `err`; returns the exit status of a usage error.
  int usage_error(std::ostream& err, const std::string& message) const;
  // "reds plan: invalid_argument at /network/inputs: <message>" on one line; returns the exit status.
  int report(std::ostream& err, const Error& error) const;

 private:
  std::string name_;
  std::string synopsis_;
  std::string description_;
  boost::program_options::options_description options_;
  boost::program_options::options_description positional_options_;
  boost::program_options::positional_options_description positional_;
};

// Prints `text` and a newline on `out`; a closed or full standard output is a failure (reported, exit 1),
// not a silent success.
int print_output(const CommandLine& command_line, Streams streams, const std::string& text);

// The whole of a file, or of `in` when `path` is "-".
Result<std::string> read_input(const std::string& path, std::istream& in);

// {0.25, 0.5, 0.75} -> "0.25,0.5,0.75" (for default values shown by --help).
std::string join_fractions(const std::vector<double>& fractions);

// "0.25,0.5,0.75" -> {0.25, 0.5, 0.75}; an error naming `option` for a word that is not a number. The
// range is the caller's to check.
Result<std::vector<double>> parse_fractions(const std::string& text, const std::string& option);

// Rows of "name  text" with the texts aligned, each row prefixed by `indent`, joined by newlines.
std::string two_columns(const std::vector<std::pair<std::string, std::string>>& rows,
                        const std::string& indent);

struct Command {
  const char* name;
  const char* summary;  // one line for the command list of `reds --help`
  int (*run)(const std::vector<std::string>& args, Streams streams);
};

// `reds plan FILE|-`: plans a request of the plan contract and prints the response.
int run_plan(const std::vector<std::string>& args, Streams streams);

// `reds example NAME` / `reds example --list`: the request for a bundled architecture.
int run_example(const std::vector<std::string>& args, Streams streams);

// The subcommands, in the order `reds --help` lists them.
const std::vector<Command>& commands();

}  // namespace reds::cli
