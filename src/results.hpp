#pragma once
// results.json (schema virtbench/results/v1): built up as the run goes and rewritten
// atomically after every record, so a crash or Ctrl-C keeps every finished iteration.

#include <boost/json.hpp>

#include <cstddef>
#include <filesystem>
#include <string_view>

namespace virtbench {

inline constexpr const char* k_results_schema = "virtbench/results/v1";

class ResultsWriter {
public:
  // Starts a document for `out_dir`/results.json (written on the first flush()).
  explicit ResultsWriter(std::filesystem::path out_dir);

  boost::json::object& doc() { return m_doc; }
  // Adds or replaces the "platforms" entry whose "name" matches.
  void set_platform(boost::json::object platform);
  // Appends one run record and writes the file.
  void append_run(boost::json::object run);
  // Writes the whole document (atomically).
  void flush();

private:
  std::filesystem::path m_path;
  boost::json::object m_doc;
};

// The largest results.json virtbench reads (a night of the coen241-hw1 suite on four
// platforms is about 0.3 MiB), and how deep it may nest: hostile files are refused within
// bounded memory.
inline constexpr std::size_t k_max_results_bytes = std::size_t(64) << 20;
inline constexpr int k_max_results_depth = 32;

// Reads DIR/results.json (or a results.json path); throws UsageError with what is wrong.
boost::json::object load_results(const std::filesystem::path& dir_or_file);
// The same on text already read; `source` names it in errors.
boost::json::object parse_results(std::string_view text, std::string_view source);

// Pretty-prints JSON with two-space indentation (results files are read by people too).
std::string pretty_json(const boost::json::value& v);

// Current UTC time as ISO 8601 ("2026-11-25T23:59:01Z").
std::string utc_now_iso8601();
// The same with milliseconds ("2026-12-01T08:06:52.123Z"): run records' started_at, so the
// harness's own time between steps can be read off results.json.
std::string utc_now_iso8601_ms();

} // namespace virtbench
