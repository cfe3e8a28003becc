#pragma once
// What a driver (drivers/<name>/) sees of the core, and what it declares to it: the one
// header a driver includes from src/ besides platform.hpp and the pure parsers
// (procstat.hpp). The core knows a driver only through its Driver entry (registry.hpp).

#include "options.hpp"
#include "platform.hpp"

#include <boost/json/object.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace virtbench {

// One row of `virtbench doctor`.
struct Check {
  std::string name;   // "qemu", "kvm", "docker", "guest image" ...
  std::string status; // "ok", "warn" or "fail"
  std::string detail; // what was found
  std::string fix;    // what to do; empty when ok
};

// What a driver's doctor check and extra commands get.
struct DriverContext {
  std::filesystem::path data_dir;
  HostServices* host = nullptr;
  std::function<void(const std::string&)> log; // progress messages (stderr)
  // For a command given --host: a private 0700 directory for its forwarded sockets; else empty.
  std::filesystem::path runtime_dir;
};

// A command a driver adds (`virtbench image push`), declared without a CLI library: the
// core builds the subcommand from it.
struct DriverCommand {
  std::vector<std::string> path; // {"image", "push"}: a subcommand of an existing one, or a new one
  std::string help;
  std::vector<OptionSpec> options; // with Kind::integer/choice checked like run's options
  std::vector<std::string> flags;  // boolean flags, "force" -> --force
  std::map<std::string, std::string> flag_help;
  // It takes --host ssh://... and --ssh-config: the core connects, and `host` is that host.
  bool takes_host = false;
  // Runs the command; returns the exit code, throws UsageError (2) or Error (1).
  std::function<int(const DriverContext&, const OptionValues&, const std::map<std::string, bool>& flags)> run;
};

// What the methodology section says of a platform (src/methodology.cpp).
struct MethodologyFacts {
  std::string freeze;       // how it is frozen between its steps: "QMP `stop`"
  std::string cache_drop;   // where its fileio's caches are dropped: "the host"
  std::string process_cpu;  // what its "process" CPU figures are: "QEMU's threads"
};

// One driver's entry in the registry.
struct Driver {
  std::string name;    // "qemu": --platform qemu, results.json platforms[].name
  std::string summary; // one line for --help
  std::vector<OptionSpec> options;
  std::function<std::unique_ptr<Platform>(const PlatformOptions&)> make_platform;
  // doctor's rows for this driver; never throws (a failure is a "fail" row).
  std::function<std::vector<Check>(const DriverContext&)> doctor;
  // `doctor --host`'s rows for this driver: ctx.host is the remote host (its commands run
  // there over the SSH connection); never throws. Empty: the driver has none.
  std::function<std::vector<Check>(const DriverContext&)> doctor_on_host;
  std::vector<DriverCommand> commands;
  // Keys of its results.json platform facts that change performance: compare refuses
  // runs that differ in them (unless --allow-mismatch).
  std::vector<std::string> fingerprint_keys;
  MethodologyFacts methodology;
  // Refuses option values this driver cannot run with (empty: fine), before anything
  // starts; may look at other drivers' options (has() first: they may not be built in).
  std::function<std::string(const OptionValues&)> check_options;
  // A VM or a container, with memory of its own: counted against --max-live (native: false).
  bool isolated = true;
};

} // namespace virtbench
