#pragma once
// The report's closing "Methodology" section, generated from results.json alone, so a
// reader can judge the numbers without reading code: order and seed, warm-ups, cache
// drops and their verification, fileio storage, channel overhead, accelerator and why.

#include <boost/json/object.hpp>

#include <string>

namespace virtbench {

// Markdown, starting with "## Methodology".
std::string render_methodology(const boost::json::object& results);

} // namespace virtbench
