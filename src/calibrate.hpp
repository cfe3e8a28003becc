#pragma once
// `virtbench calibrate`: what A/A runs (the same run repeated, each a separate process)
// say about this host's between-run noise, from their results documents alone.

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <vector>

namespace virtbench {

// One (experiment, platform) over the runs, on its headline metric.
struct CalibrationRow {
  std::string experiment, platform, metric; // metric: catalog path of the headline
  std::size_t runs = 0;                     // runs with at least one measured value
  double mean = 0;                          // mean of the run means
  std::optional<double> cv;                 // stddev of the run means / their mean; two runs or more
  std::optional<double> ratio_mean;         // non-native: mean of (run mean / native run mean of the same run)
  std::optional<double> ratio_cv;           // ... and its between-run CV; two runs or more
};

// Rows in the first run's experiment order, platforms in results order.
std::vector<CalibrationRow> calibration_rows(const std::vector<boost::json::object>& results);

// The table `calibrate` prints, headed by how many runs it came from.
std::string render_calibration(const std::vector<CalibrationRow>& rows, std::size_t runs);

// The runs' suite name and hostname (the first run's), for the closing line.
std::string calibration_suite(const std::vector<boost::json::object>& results);
std::string calibration_host(const std::vector<boost::json::object>& results);

} // namespace virtbench
