#pragma once
// The pure parts of one runner step: the cache-drop verification and the results.json
// run record. No I/O, so both are unit-tested on values; the runner's lifecycle
// coroutine (runner.cpp) does the awaiting and calls these.

#include "platform.hpp"
#include "procstat.hpp"
#include "runner.hpp"
#include "suite.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace virtbench {

// sysbench fileio's file names (test_file.0 ... test_file.N-1, --file-num, default 128).
std::vector<std::string> fileio_files(const Experiment& e);

// fincore's argv giving the resident bytes of each of the experiment's fileio files.
std::vector<std::string> fincore_argv(const Experiment& e);

// Sums fincore's per-file RES column (bytes, one line per file); throws on other text.
std::uint64_t sum_fincore_bytes(const std::string& out);

// The cache drops of one step as recorded, and what did not verify.
struct DropCheck {
  boost::json::array drops;          // results.json "cache_drops"
  std::vector<std::string> warnings; // "<where>: N KiB of the M KiB data set still cached after the drop"
};

// Verifies each drop by what is left of the data set (`data_set_bytes`) in its cache:
// at most 1% (at least 64 KiB) may stay. The cache the platform's own view reads through
// ("guest" with a guest view, else "host") is judged by `own_resident_kib` (fincore on the
// files through the platform); other caches by what the platform measured itself; a cache
// that never holds the data set is recorded but not judged.
DropCheck verify_drops(const std::vector<CacheDrop>& drops, std::uint64_t own_resident_kib, bool has_guest_view,
                       std::uint64_t data_set_bytes);

// What the measured sysbench run gave, for the record's "raw" .. "cpu".
struct MeasuredRun {
  std::string raw; // the raw output's path relative to the run directory
  ExecResult result;
  double measured_s = 0; // host wall time around the run (samplers included)
  std::optional<CpuSplit> host_split;
  std::optional<CpuSplit> guest_split;
  std::size_t host_samples = 0;
  std::string host_sampler_error;
  std::string guest_sampler_error;
  std::optional<CpuSeconds> accounting_before, accounting_after;        // Platform::host_accounting()
  std::map<std::string, CpuSeconds> frozen_before, frozen_after;        // the other platforms' accounting
};

// One step as far as it got: every part present is recorded, in results.json's order.
struct StepOutcome {
  Step step;
  std::string platform;
  std::string experiment;
  std::string started_at;            // utc_now_iso8601_ms() at the step's start
  bool prepared = false;             // the fileio data set was written in this step
  std::string data_set_from;         // or taken over from this (previous) experiment
  std::optional<DropCheck> drops;    // fileio with cache drops
  std::optional<MeasuredRun> measured;
  std::optional<boost::json::object> metrics;
  std::optional<std::string> error;  // the step failed: why
};

// The record "runs" gets for `outcome` (schema virtbench/results/v1).
boost::json::object step_record(const StepOutcome& outcome);

// The record's "cpu": host and guest splits, the platform's CPU seconds (its accounting's
// delta, else the process's own), the frozen platforms' % of one CPU, samples, sampler errors.
boost::json::object cpu_record(const MeasuredRun& m);

} // namespace virtbench
