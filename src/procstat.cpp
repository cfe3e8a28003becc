#include "procstat.hpp"

#include "util/error.hpp"

#include <cmath>
#include <sstream>
#include <string>

namespace virtbench {

CpuTimes parse_proc_stat(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    auto line = text.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (line.starts_with("cpu ")) {
      std::istringstream in{std::string(line.substr(4))};
      CpuTimes t;
      in >> t.user >> t.nice >> t.system >> t.idle >> t.iowait >> t.irq >> t.softirq >> t.steal >> t.guest >> t.guest_nice;
      if (in.fail() && !in.eof())
        break;
      return t;
    }
    if (end == std::string_view::npos)
      break;
    pos = end + 1;
  }
  throw Error("parse /proc/stat: no aggregate \"cpu \" line in:\n" + tail_lines(text.substr(0, 400), 5));
}

CpuSplit cpu_split(const CpuTimes& a, const CpuTimes& b) {
  auto d = [](std::uint64_t x, std::uint64_t y) { return y >= x ? static_cast<double>(y - x) : 0.0; };
  double user = d(a.user, b.user) + d(a.nice, b.nice);
  double kernel = d(a.system, b.system) + d(a.irq, b.irq) + d(a.softirq, b.softirq);
  double idle = d(a.idle, b.idle);
  double iowait = d(a.iowait, b.iowait);
  double steal = d(a.steal, b.steal);
  double guest = d(a.guest, b.guest) + d(a.guest_nice, b.guest_nice);
  double total = user + kernel + idle + iowait + steal; // guest time is already inside user
  CpuSplit s;
  if (total <= 0)
    return s;
  s.user_pct = 100 * user / total;
  s.kernel_pct = 100 * kernel / total;
  s.idle_pct = 100 * idle / total;
  s.iowait_pct = 100 * iowait / total;
  s.steal_pct = 100 * steal / total;
  s.guest_pct = 100 * guest / total;
  return s;
}

boost::json::object cpu_split_to_json(const CpuSplit& s) {
  auto r = [](double v) { return std::round(v * 100) / 100; };
  return {{"user_pct", r(s.user_pct)},     {"kernel_pct", r(s.kernel_pct)}, {"iowait_pct", r(s.iowait_pct)},
          {"steal_pct", r(s.steal_pct)},   {"guest_pct", r(s.guest_pct)},   {"idle_pct", r(s.idle_pct)}};
}

std::uint64_t parse_meminfo_kib(std::string_view text, std::string_view key) {
  std::string needle = "\n" + std::string(key) + ":";
  std::string padded = "\n" + std::string(text);
  auto pos = padded.find(needle);
  if (pos == std::string::npos)
    throw Error("parse /proc/meminfo: no \"" + std::string(key) + ":\" line");
  std::istringstream in(padded.substr(pos + needle.size()));
  std::uint64_t kib = 0;
  in >> kib;
  if (in.fail())
    throw Error("parse /proc/meminfo: \"" + std::string(key) + ":\" has no number");
  return kib;
}

std::vector<std::string_view> cpuinfo_values(std::string_view cpuinfo, std::string_view key) {
  std::vector<std::string_view> values;
  while (!cpuinfo.empty()) {
    auto nl = cpuinfo.find('\n');
    auto line = cpuinfo.substr(0, nl);
    cpuinfo.remove_prefix(nl == std::string_view::npos ? cpuinfo.size() : nl + 1);
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
      continue;
    auto k = line.substr(0, colon);
    while (!k.empty() && (k.back() == ' ' || k.back() == '\t'))
      k.remove_suffix(1);
    if (k != key)
      continue;
    auto value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    values.push_back(value);
  }
  return values;
}

bool has_word(std::string_view list, std::string_view word) {
  std::size_t i = 0;
  while (i < list.size()) {
    while (i < list.size() && (list[i] == ' ' || list[i] == '\t'))
      ++i;
    auto j = i;
    while (j < list.size() && list[j] != ' ' && list[j] != '\t')
      ++j;
    if (list.substr(i, j - i) == word)
      return true;
    i = j;
  }
  return false;
}

} // namespace virtbench
