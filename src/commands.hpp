#pragma once
// Command families of the CLI. Each adds its subcommands to the app and returns what
// to run when one of them was chosen; cli.cpp only parses and maps errors to exit codes.

#include <CLI/CLI.hpp>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace virtbench {

class HostServices; // platform.hpp

struct GlobalOptions {
  std::string data_dir; // --data-dir; empty: default_data_dir()
  std::vector<std::string> argv;
};

// --data-dir, or default_data_dir() (src/cli.cpp)
std::filesystem::path data_dir_of(const GlobalOptions& g);

struct Command {
  CLI::App* subcommand;
  std::function<int()> run; // returns the exit code; throws UsageError (2) or Error (1)
};

// --host ssh://... and --ssh-config, bound to `host` and `ssh_config` (src/cli.cpp).
void add_host_options(CLI::App* app, std::string& host, std::string& ssh_config, const std::string& help);

// --remote-data-dir DIR's check (src/cli.cpp): empty (the remote default) or an absolute
// path on the remote host; UsageError otherwise.
void check_remote_data_dir(const std::string& dir);

// run, calibrate, exec, suites (src/cli.cpp)
std::vector<Command> add_run_commands(CLI::App& app, GlobalOptions& global);
// image build, image list (src/cli_image.cpp)
std::vector<Command> add_image_commands(CLI::App& app, GlobalOptions& global);
// report and compare (src/cli_report.cpp)
std::vector<Command> add_report_commands(CLI::App& app, GlobalOptions& global);
// history (src/cli_history.cpp)
std::vector<Command> add_history_commands(CLI::App& app, GlobalOptions& global);
// the drivers' own commands (image push), from the registry; after add_image_commands. A
// driver's command at a path a core family made already (image push, which the core runs
// with --host) adds its options there and is run by the core through run_driver_command.
std::vector<Command> add_driver_commands(CLI::App& app, GlobalOptions& global);
// Runs the driver's command added at `path` to a core subcommand, on `remote` (nullptr:
// this host) with `runtime_dir` for its forwarded sockets; nullopt when no driver built in
// has one there.
std::optional<int> run_driver_command(const std::vector<std::string>& path, HostServices* remote = nullptr,
                                      const std::filesystem::path& runtime_dir = {});

} // namespace virtbench
