// The native driver's registry entry.
#include "drivers/native/native.hpp"

#include "driver.hpp"
#include "util/process.hpp"

namespace virtbench::native {

namespace {

std::vector<Check> doctor(const DriverContext&) {
  auto sysbench = program_version("sysbench");
  if (sysbench.empty())
    return {{"sysbench", "fail", "not installed on the host", "run tools/setup (or apt-get install sysbench)"}};
  return {{"sysbench", "ok", sysbench, ""}};
}

} // namespace

const Driver& driver() {
  static const Driver k_driver{
      .name = "native",
      .summary = "sysbench as a plain process on the host: the baseline",
      .options = {OptionSpec::text_option("scratch-dir",
                                          "where fileio's scratch directory is made (default: DATA_DIR/scratch; "
                                          "with --host: the remote directory the run's virtbench-RUN_ID/ is made "
                                          "in, default /var/tmp)",
                                          "", "DIR"),
                  OptionSpec::text_option("sysbench",
                                          "the sysbench to run: a name looked up in PATH or a path (on the --host "
                                          "when given)",
                                          "sysbench", "PATH")},
      .make_platform = make_platform,
      .doctor = doctor,
      .doctor_on_host = {}, // doctor --host checks sysbench there itself
      .commands = {},
      .fingerprint_keys = {"sysbench_sha256"},
      .methodology = {"nothing (a native step runs while the others are frozen)", "the host",
                      "the workload's own CPU seconds"},
      .check_options = {},
      .isolated = false,
  };
  return k_driver;
}

} // namespace virtbench::native
