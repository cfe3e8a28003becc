#pragma once
// R's `sleep` data set (Student 1908; datasets::sleep): the extra hours of sleep of ten
// patients under drug 1 and drug 2, the reference sample of R's t.test examples.

#include <vector>

namespace virtbench::test_data {
inline const std::vector<double> k_sleep1 = {0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0};
inline const std::vector<double> k_sleep2 = {1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4};
} // namespace virtbench::test_data
