#include "sysbench.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <charconv>
#include <map>

namespace virtbench {

std::string_view workload_name(Workload w) { return w == Workload::cpu ? "cpu" : "fileio"; }

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

struct Line {
  std::size_t number; // 1-based
  std::string_view text;
};

// The line with a caret under column `caret_col`; a line longer than 200 characters is cut
// there (the caret kept on it), so hostile output cannot make the message huge.
std::string quote_line(const Line& line, std::size_t caret_col) {
  constexpr std::size_t k_width = 200;
  auto text = line.text.size() > k_width ? std::string(line.text.substr(0, k_width)) + "..." : std::string(line.text);
  caret_col = std::min(caret_col, k_width);
  std::string s = "  line " + std::to_string(line.number) + ": " + text + "\n";
  s += std::string(9 + std::to_string(line.number).size() + caret_col, ' ') + "^";
  return s;
}

// A number like "52013.17", "10.0005s" (unit suffix "s" allowed) or "0.00".
std::optional<double> parse_number(std::string_view v) {
  v = trim(v);
  if (!v.empty() && v.back() == 's')
    v.remove_suffix(1);
  double d = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  if (ec != std::errc() || p != v.data() + v.size())
    return std::nullopt;
  return d;
}

} // namespace

Metrics parse_sysbench_output(std::string_view text, Workload workload) {

  Metrics m;
  std::string section;
  std::string errors;
  // Fields are "key: value" lines; the same key ("min", "avg") means different things per section.
  std::map<std::string, std::optional<double>*> fields = {
      {"|events per second", &m.events_per_sec},
      {"|total time", &m.total_time_s},
      {"|total number of events", &m.total_events},
      {"latency (ms)|min", &m.latency_min_ms},
      {"latency (ms)|avg", &m.latency_avg_ms},
      {"latency (ms)|max", &m.latency_max_ms},
      {"latency (ms)|95th percentile", &m.latency_p95_ms},
      {"latency (ms)|sum", &m.latency_sum_ms},
      {"|reads/s", &m.reads_per_s},
      {"|writes/s", &m.writes_per_s},
      {"|fsyncs/s", &m.fsyncs_per_s},
      {"|read, mib/s", &m.read_mib_s},
      {"|written, mib/s", &m.written_mib_s},
  };

  // The message quotes the first k_quoted_problems problem lines and counts the rest: a
  // hostile output of a million bad lines gives a message of a few KiB, not of megabytes.
  constexpr std::size_t k_quoted_problems = 10;
  std::size_t problems = 0;
  auto problem = [&](std::string quoted) {
    if (++problems <= k_quoted_problems)
      errors += quoted;
  };
  for (std::size_t start = 0, number = 1; start < text.size(); ++number) {
    auto end = std::min(text.find('\n', start), text.size());
    Line line{number, text.substr(start, end - start)};
    start = end + 1;
    auto t = trim(line.text);
    if (t.empty())
      continue;
    if (t.starts_with("FATAL:") || t.starts_with("FATAL ")) {
      problem("  line " + std::to_string(line.number) + ": " + std::string(t.substr(0, 300)) + "\n");
      continue;
    }
    auto colon = t.find(':');
    if (colon == std::string_view::npos)
      continue;
    std::string key(trim(t.substr(0, colon)));
    for (auto& c : key)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto value = trim(t.substr(colon + 1));
    if (value.empty()) {
      section = key; // "latency (ms):", "general statistics:" ...
      continue;
    }
    auto it = fields.find((section == "latency (ms)" ? section : std::string()) + "|" + key);
    if (it == fields.end())
      continue;
    if (auto d = parse_number(value)) {
      *it->second = d;
    } else {
      auto col = static_cast<std::size_t>(value.data() - line.text.data());
      problem("'" + key + "' is not a number:\n" + quote_line(line, col) + "\n");
    }
  }
  if (problems > k_quoted_problems)
    errors += "  ... and " + std::to_string(problems - k_quoted_problems) + " more such lines\n";

  std::vector<std::pair<const char*, const std::optional<double>*>> required = {
      {"total time", &m.total_time_s},
      {"latency min", &m.latency_min_ms},
      {"latency avg", &m.latency_avg_ms},
      {"latency max", &m.latency_max_ms},
  };
  if (workload == Workload::cpu) {
    required.push_back({"events per second", &m.events_per_sec});
  } else {
    required.push_back({"reads/s", &m.reads_per_s});
    required.push_back({"writes/s", &m.writes_per_s});
    required.push_back({"read, MiB/s", &m.read_mib_s});
    required.push_back({"written, MiB/s", &m.written_mib_s});
  }
  std::string missing;
  for (auto& [name, field] : required)
    if (!*field)
      missing += (missing.empty() ? "" : ", ") + std::string(name);

  if (!errors.empty() || !missing.empty()) {
    std::string msg = "cannot parse sysbench " + std::string(workload_name(workload)) + " output";
    if (!missing.empty())
      msg += ": missing " + missing;
    msg += "\n" + errors;
    if (errors.empty()) {
      // The last 12 lines, from the last 2000 bytes at most: a hostile output's last line may be huge.
      auto tail = tail_lines(text.substr(text.size() - std::min<std::size_t>(text.size(), 2000)), 12);
      msg += tail.empty() ? std::string("  (the output is empty)") : "  the output ends with:\n" + tail;
    }
    while (!msg.empty() && msg.back() == '\n')
      msg.pop_back();
    throw Error(msg);
  }
  return m;
}

boost::json::object metrics_to_json(const Metrics& m) {
  boost::json::object o;
  auto put = [](boost::json::object& obj, const char* key, const std::optional<double>& v) {
    if (v)
      obj[key] = *v;
  };
  put(o, "events_per_sec", m.events_per_sec);
  put(o, "total_time_s", m.total_time_s);
  put(o, "total_events", m.total_events);
  boost::json::object lat;
  put(lat, "min", m.latency_min_ms);
  put(lat, "avg", m.latency_avg_ms);
  put(lat, "max", m.latency_max_ms);
  put(lat, "p95", m.latency_p95_ms);
  put(lat, "sum", m.latency_sum_ms);
  if (!lat.empty())
    o["latency_ms"] = std::move(lat);
  put(o, "reads_per_s", m.reads_per_s);
  put(o, "writes_per_s", m.writes_per_s);
  put(o, "fsyncs_per_s", m.fsyncs_per_s);
  put(o, "read_mib_s", m.read_mib_s);
  put(o, "written_mib_s", m.written_mib_s);
  return o;
}

std::string parse_sysbench_version(std::string_view text) {
  auto t = trim(text.substr(0, text.find('\n')));
  if (!t.starts_with("sysbench "))
    throw Error("unexpected `sysbench --version` output: " + std::string(t));
  return std::string(t);
}

} // namespace virtbench
