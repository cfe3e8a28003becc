#pragma once
// Change points in a series of positive values in time order (one value per run: a run's
// mean of a metric), found without I/O and deterministically, in the style of Apache
// Otava's (formerly Hunter's) t-test split: binary segmentation of the log values, each
// segment split where the t statistic between its two sides is largest, the split kept
// when a seeded permutation test of that largest |t| says p < alpha; each shift comes with
// a Welch interval.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace virtbench {

struct ChangePointOptions {
  std::size_t min_segment = 3;     // fewest values on each side of a split (>= 2: a side needs a variance)
  double alpha = 0.01;             // a split is kept when its permutation p < alpha
  std::size_t permutations = 1000; // of each segment tested
  std::uint64_t seed = 0x5eed'c4a9'e0b1'7a11; // of the permutations: same input, same output
  double confidence = 0.95;        // of each shift's interval
};

struct ChangePoint {
  std::size_t index = 0;     // the first value of the new level
  double before = 0;         // geometric mean of the segment that ends at `index`
  double after = 0;          // geometric mean of the segment that starts at `index`
  double ratio = 1;          // after / before
  double ratio_low = 1, ratio_high = 1; // Welch interval of the log difference, exponentiated
  double t = 0;              // pooled t of the split when it was found (infinite: both sides constant)
  double p = 1;              // permutation p-value of the split when it was found
};

struct ChangePoints {
  enum class Checked { yes, too_short, all_equal };
  Checked checked = Checked::yes;
  std::string not_checked;          // why it was not checked ("5 values: fewer than the 6 needed ..."); empty if it was
  std::vector<ChangePoint> changes; // by index
};

// The change points of `values` (in time order). A series shorter than 2 × min_segment
// or whose values are all equal has none, with `not_checked` saying so. Throws
// UsageError naming the index when a value is NaN, infinite or <= 0 (the method works on
// log values), or when the options make no sense.
//
// The search: for a segment of n >= 2 × min_segment values, the split k (min_segment <=
// k <= n − min_segment) with the largest |t| between log values [0, k) and [k, n) (the
// first one on ties), t being Student's with pooled variance (see split_t in the .cpp for
// why not Welch's). p = (1 + #permutations whose largest |t| over all splits >=
// the observed one) / (1 + permutations), so the search over splits is accounted for.
// When p < alpha both sides are searched in turn. Each change's ratio and interval come
// from the two segments on either side of it in the final segmentation; the interval
// does not account for the search, so it is somewhat narrower than it should be.
ChangePoints find_change_points(const std::vector<double>& values, const ChangePointOptions& options = {});

} // namespace virtbench
