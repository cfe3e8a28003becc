#include "results.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>

#include <fmt/format.h>

namespace virtbench {

namespace fs = std::filesystem;

ResultsWriter::ResultsWriter(fs::path out_dir) : m_path(out_dir / "results.json") {
  m_doc["schema"] = k_results_schema;
  m_doc["platforms"] = boost::json::array();
  m_doc["runs"] = boost::json::array();
}

void ResultsWriter::set_platform(boost::json::object platform) {
  auto& platforms = m_doc["platforms"].as_array();
  for (auto& p : platforms) {
    if (p.as_object()["name"] == platform["name"]) {
      p = std::move(platform);
      return;
    }
  }
  platforms.push_back(std::move(platform));
}

void ResultsWriter::append_run(boost::json::object run) {
  m_doc["runs"].as_array().push_back(std::move(run));
  flush();
}

void ResultsWriter::flush() { write_file_atomic(m_path, pretty_json(m_doc) + "\n"); }

boost::json::object parse_results(std::string_view text, std::string_view source) {
  const std::string where(source);
  if (text.size() > k_max_results_bytes)
    throw UsageError(fmt::format("{}: {} MiB, more than the {} MiB a virtbench results file may have; is it a "
                                 "results.json written by `virtbench run`?",
                                 where, text.size() >> 20, k_max_results_bytes >> 20));
  // Results files nest 6 levels deep; Boost.JSON's default limit (32) refuses a hostile
  // file nested deeper before its parser's stack grows.
  boost::json::parse_options options;
  options.max_depth = k_max_results_depth;
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec, {}, options);
  if (ec == boost::json::error::too_deep)
    throw UsageError(fmt::format("{}: not a virtbench results file (nested more than {} levels deep)", where,
                                 k_max_results_depth));
  if (ec || !v.is_object())
    throw UsageError(where + ": not valid JSON (" + (ec ? ec.message() : std::string("not an object")) + ")");
  auto& o = v.as_object();
  auto* schema = o.if_contains("schema");
  if (!schema || !schema->is_string() || schema->as_string() != k_results_schema)
    throw UsageError(where + ": not a virtbench results file (schema is not " + k_results_schema + ")");
  auto* runs = o.if_contains("runs");
  if (!runs || !runs->is_array())
    throw UsageError(where + ": has no \"runs\" array");
  return std::move(o);
}

boost::json::object load_results(const fs::path& dir_or_file) {
  auto path = fs::is_directory(dir_or_file) ? dir_or_file / "results.json" : dir_or_file;
  if (!fs::exists(path))
    throw UsageError(path.string() + ": no such file; give a directory written by `virtbench run --out DIR`");
  // Checked before reading, so a huge file is refused without being loaded.
  std::error_code size_ec;
  if (auto bytes = fs::file_size(path, size_ec); !size_ec && bytes > k_max_results_bytes)
    throw UsageError(fmt::format("{}: {} MiB, more than the {} MiB a virtbench results file may have; is it a "
                                 "results.json written by `virtbench run`?",
                                 path.string(), bytes >> 20, k_max_results_bytes >> 20));
  std::string text;
  try {
    text = read_file(path);
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  return parse_results(text, path.string());
}

namespace {

void pretty(std::string& out, const boost::json::value& v, int indent) {
  auto pad = [&](int n) { out.append(static_cast<std::size_t>(n), ' '); };
  switch (v.kind()) {
  case boost::json::kind::object: {
    auto& o = v.get_object();
    if (o.empty()) {
      out += "{}";
      return;
    }
    out += "{\n";
    bool first = true;
    for (auto& [k, val] : o) {
      if (!first)
        out += ",\n";
      first = false;
      pad(indent + 2);
      out += boost::json::serialize(boost::json::string_view(k));
      out += ": ";
      pretty(out, val, indent + 2);
    }
    out += "\n";
    pad(indent);
    out += "}";
    return;
  }
  case boost::json::kind::array: {
    auto& a = v.get_array();
    bool scalars = std::all_of(a.begin(), a.end(), [](auto& e) { return !e.is_object() && !e.is_array(); });
    if (a.empty() || scalars) {
      out += boost::json::serialize(v);
      return;
    }
    out += "[\n";
    bool first = true;
    for (auto& e : a) {
      if (!first)
        out += ",\n";
      first = false;
      pad(indent + 2);
      pretty(out, e, indent + 2);
    }
    out += "\n";
    pad(indent);
    out += "]";
    return;
  }
  default:
    out += boost::json::serialize(v);
  }
}

} // namespace

std::string pretty_json(const boost::json::value& v) {
  std::string out;
  pretty(out, v, 0);
  return out;
}

std::string utc_now_iso8601() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string utc_now_iso8601_ms() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", buf, ms % 1000);
}

} // namespace virtbench
