#pragma once
// The report's closing "Methodology" section, generated from results.json alone, so a
// reader can judge the numbers without reading code: order and seed, warm-ups, cache
// drops and their verification, fileio storage, channel overhead, accelerator and why.

#include <boost/json/object.hpp>

#include <string>
#include <vector>

namespace virtbench {

// The section's points, one per bullet (inline Markdown: **bold** and `code` only).
std::vector<std::string> methodology_items(const boost::json::object& results);

} // namespace virtbench
