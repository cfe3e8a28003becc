#pragma once
// Reports rendered from results.json alone (so `virtbench report DIR` can redo them).

#include <boost/json/object.hpp>

#include <string>

namespace virtbench {

// report.md: per platform and experiment, the seed report's table (one column per
// iteration) with mean and standard deviation columns.
std::string render_markdown(const boost::json::object& results);

} // namespace virtbench
