#pragma once
// Suites: TOML files naming experiments (a sysbench workload and its options), checked
// strictly so a typo is an error that names the file, the key and the fix.

#include "matrix.hpp"
#include "sysbench.hpp"

#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace virtbench {

struct Experiment {
  std::string name;
  Workload workload = Workload::cpu;
  int iterations = 1;
  int warmup = 0; // discarded iterations run first, recorded with "warmup": true
  int time_s = 10;
  // sysbench options other than --time, sorted by name, e.g. {"cpu-max-prime", "2000"}.
  std::vector<std::pair<std::string, std::string>> options;

  // The options as sysbench arguments: "--cpu-max-prime=2000", ..., "--time=10".
  std::vector<std::string> sysbench_args() const;
  // The full command line of a phase ("prepare", "run", "cleanup").
  std::vector<std::string> sysbench_argv(std::string_view phase) const;
  // Value of an option, if set.
  std::optional<std::string> option(std::string_view key) const;
  // Bytes of a fileio data set (--file-total-size; sysbench's default 2G).
  std::uint64_t fileio_bytes() const;
  // What a fileio experiment's prepare writes (number and total size of the files; the
  // test mode, block size, flags and threads only change how they are used), so that
  // consecutive experiments with the same key share one data set. Empty for cpu.
  std::string data_set_key() const;
};

// A driver option set by a suite's [platform.DRIVER] table, for that platform only.
struct SuitePlatformOption {
  std::string platform; // "qemu"
  std::string name;     // "cache-mode"
  std::string value;    // text form; a list option has one entry per value
  std::string where;    // "suite.toml:12: [platform.qemu] " for error messages
};

struct Suite {
  std::string name;
  std::string description;
  std::string source; // file path or "built-in"
  std::vector<Experiment> experiments;
  std::vector<SuitePlatformOption> platform_options; // checked against the drivers' declarations
  Matrix matrix; // [matrix] and [[matrix.points]]: axes and values checked against the drivers'
};

// Parses suite TOML; `source` names the file in error messages. Throws UsageError.
Suite parse_suite(std::string_view toml_text, std::string_view source);

// A built-in suite by name ("quick", "coen241-hw1"), or a suite file by path.
Suite load_suite(std::string_view name_or_path);

// The names of the built-in suites, and the TOML text of one (nullptr if unknown).
std::vector<std::string> builtin_suite_names();
const char* builtin_suite_text(std::string_view name);

// Command-line overrides: --iterations and --time apply to every experiment.
void override_suite(Suite& suite, std::optional<int> iterations, std::optional<int> time_s);

} // namespace virtbench
