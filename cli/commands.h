// The `reds` command: its subcommands and the command-line plumbing they share.
//
// Every subcommand takes the arguments that follow its name and the three standard streams, and returns
// the process's exit status. Output goes to `out` (or to the -o file) only on success, so a failed
// `reds plan` never leaves a partial answer behind.
//
// Errors, the same in every subcommand:
//   a bad value       one line, "reds plan: --seed -1: must be at least 0", naming the option and the
//                     value as typed; exit 2
//   a bad command line (unknown option, missing argument) one line and "Try 'reds plan --help'."; exit 2
//   bad input         one line, "reds plan: invalid_argument at /levels/0: ..."; exit 2
//   our failure       one line; exit 1
#pragma once

#include <boost/program_options.hpp>
#include <cstdint>
#include <iosfwd>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "reds/contract.h"
#include "reds/network.h"
#include "reds/status.h"

namespace reds::cli {

// Exit statuses, shared by every subcommand.
inline constexpr int kExitSuccess = 0;
inline constexpr int kExitFailure = 1;  // not the caller's fault: an internal error, a closed standard output
inline constexpr int kExitUsageError = 2;  // bad command line or bad input (unreadable, invalid request)

// The exit status of a failed call: internal errors are ours (1), every other code is the input's (2).
int exit_status(ErrorCode code);

struct Streams {
  std::istream& in;
  std::ostream& out;
  std::ostream& err;
};

// True when `err` is the process's standard error and that is a terminal: progress is shown only there.
bool is_terminal(const std::ostream& err);

// A command's command line: its options (shown by --help), its positional arguments and its help text.
// Every command line knows -h/--help. Numbers are declared as text (`number_option`) and read with the
// typed readers below, so that a bad value is reported as the user typed it.
class CommandLine {
 public:
  // `name` prefixes error messages ("reds plan"); `synopsis` is the usage line without "Usage: ".
  CommandLine(std::string name, std::string synopsis, std::string description);

  boost::program_options::options_description_easy_init add_options();
  // Options that are accepted but not listed by --help (the old names of renamed options).
  boost::program_options::options_description_easy_init add_hidden_options();
  // A positional argument taking up to `max_count` words (-1: any number); not listed under options.
  // With `missing` set, parse() reports a command line without it as a usage error with that message.
  void add_positional(const char* name, int max_count, const boost::program_options::value_semantic* value,
                      std::string missing = {});
  // An option the command cannot run without: parse() reports its absence with `missing`.
  void require(const char* name, std::string missing);

  // The parsed arguments, or, when the command is done already, its exit status: --help printed the help
  // on `out` (0), or a usage error was reported on `err` (2).
  struct Parsed {
    std::optional<boost::program_options::variables_map> options;
    int exit_status = kExitSuccess;
  };
  Parsed parse(const std::vector<std::string>& args, Streams streams) const;

  void print_help(std::ostream& out) const;
  // "reds plan: <message>" on one line.
  void print_error(std::ostream& err, const std::string& message) const;
  // The message and "Try 'reds plan --help'." on `err`; returns the exit status of a usage error.
  int usage_error(std::ostream& err, const std::string& message) const;
  // The message, then the whole help (for `reds` alone, whose help is the list of commands).
  int usage_error_with_help(std::ostream& err, const std::string& message) const;
  // "reds plan: invalid_argument at /network/inputs: <message>" on one line; returns the exit status.
  // A bad option value (an error whose message starts with "--") is printed without its code.
  int report(std::ostream& err, const Error& error) const;
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::string synopsis_;
  std::string description_;
  boost::program_options::options_description options_;
  boost::program_options::options_description hidden_options_;
  boost::program_options::options_description positional_options_;
  boost::program_options::positional_options_description positional_;
  std::vector<std::pair<std::string, std::string>> required_;  // name, message when missing
};

// A number option's declaration: its value is kept as typed (see above).
boost::program_options::typed_value<std::string>* number_option(const char* value_name,
                                                                const std::string& default_value = {});

// Typed values of options. An error is one line naming the option and quoting the value as typed:
// "--batch-size 0: must be at least 1". The option must have a value (a default, or be checked present).
Result<std::int64_t> integer_value(const boost::program_options::variables_map& options,
                                   const std::string& name,
                                   std::int64_t min = std::numeric_limits<std::int64_t>::min(),
                                   std::int64_t max = std::numeric_limits<std::int64_t>::max());
// A finite number in [min, max].
Result<double> number_value(const boost::program_options::variables_map& options, const std::string& name,
                            double min, double max = std::numeric_limits<double>::infinity());
// "0.25,0.5,0.75": at least one and at most `max_count` numbers, none smaller than the one before, each
// in (0, 1] (level fractions) or any non-negative number (points of a run, past its end allowed).
enum class FractionRange { positive_to_one, non_negative };
Result<std::vector<double>> fractions_value(const boost::program_options::variables_map& options,
                                            const std::string& name, std::size_t max_count,
                                            FractionRange range = FractionRange::positive_to_one);
// "0.485,0.456,0.406": one or more finite numbers, each positive when `positive` is set.
Result<std::vector<double>> numbers_value(const boost::program_options::variables_map& options,
                                          const std::string& name, bool positive);
// The plan contract's limit on a request's levels.
inline constexpr std::size_t kMaxLevels = 64;

// --strategy and --objective, by their contract names.
Result<Strategy> strategy_value(const boost::program_options::variables_map& options);
Result<Objective> objective_value(const boost::program_options::variables_map& options);

// An option value error: invalid_argument with the message "--NAME VALUE: reason".
Error value_error(const std::string& name, const std::string& value, const std::string& reason);

// Prints `text` and a newline on `out`, or, when the parsed options hold -o/--output, writes them to that
// file instead: to a temporary file beside it, renamed over it once complete, so that a failure never
// leaves a partial file. A closed or full standard output (exit 1) or an unwritable FILE (exit 2, the path
// is the caller's) is reported, never a silent success.
int write_output(const CommandLine& command_line, Streams streams,
                 const boost::program_options::variables_map& options, const std::string& text);
// Prints `text` and a newline on `out`.
int print_output(const CommandLine& command_line, Streams streams, const std::string& text);
// The help line of -o/--output for commands that print their answer.
inline constexpr const char* kOutputHelp =
    "write to FILE (replaced only once complete) instead of standard output";

// The whole of a file, or of `in` when `path` is "-".
Result<std::string> read_input(const std::string& path, std::istream& in);

// The plan response (a `reds plan` answer) in a file, or in `in` when `path` is "-": reds/json.h's
// parse_plan_result, its messages prefixed with the file ("'plan.json': missing field 'order' in response").
Result<PlanResult> read_plan(const std::string& path, std::istream& in);

// {0.25, 0.5, 0.75} -> "0.25,0.5,0.75" (for default values shown by --help).
std::string join_fractions(const std::vector<double>& fractions);

// 7081563 -> "7,081,563".
std::string thousands(std::int64_t value);

// Rows of "name  text" with the texts aligned, each row prefixed by `indent`, joined by newlines.
std::string two_columns(const std::vector<std::pair<std::string, std::string>>& rows,
                        const std::string& indent);

// "label [##########..........] 51%" rewritten in place on a terminal's standard error; nothing
// elsewhere. At most a few updates a second reach the terminal.
class ProgressBar {
 public:
  ProgressBar(std::ostream& err, bool enabled) : err_(err), enabled_(enabled) {}
  void show(const std::string& label, std::int64_t done, std::int64_t total);
  // Erases the bar, leaving the cursor at the start of the line.
  void clear();

 private:
  std::ostream& err_;
  bool enabled_;
  std::int64_t shown_percent_ = -1;
  std::string shown_label_;
};

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
