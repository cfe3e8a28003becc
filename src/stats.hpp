#pragma once
// Descriptive statistics of a sample of measurements.

#include <cstddef>
#include <vector>

namespace virtbench {

struct SampleStats {
  std::size_t n = 0;
  double mean = 0;
  double stddev = 0; // sample standard deviation (n - 1); 0 when n < 2
  double min = 0, max = 0;
};

SampleStats describe_sample(const std::vector<double>& values);

} // namespace virtbench
