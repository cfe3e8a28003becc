#include "stats.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace virtbench {

SampleStats describe_sample(const std::vector<double>& values) {
  SampleStats s;
  s.n = values.size();
  if (values.empty())
    return s;
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(s.n);
  auto [lo, hi] = std::minmax_element(values.begin(), values.end());
  s.min = *lo;
  s.max = *hi;
  if (s.n > 1) {
    double ss = 0;
    for (double v : values)
      ss += (v - s.mean) * (v - s.mean);
    s.stddev = std::sqrt(ss / static_cast<double>(s.n - 1));
  }
  return s;
}

} // namespace virtbench
