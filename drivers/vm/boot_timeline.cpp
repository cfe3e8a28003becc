#include "drivers/vm/boot_timeline.hpp"

#include <boost/json/object.hpp>

#include <charconv>
#include <cmath>

namespace virtbench::vm {

namespace {

constexpr std::string_view k_prefix = "virtbench-init: ";
constexpr std::string_view k_uptime = " (uptime ";
constexpr std::string_view k_suffix = "s)";

std::optional<double> parse_seconds(std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !(value >= 0))
    return std::nullopt;
  return value;
}

double rounded(double seconds) { return std::round(seconds * 1000) / 1000; }

} // namespace

std::vector<BootStep> parse_boot_timeline(std::string_view console) {
  std::vector<BootStep> steps;
  while (!console.empty()) {
    auto nl = console.find('\n');
    auto line = console.substr(0, nl);
    console.remove_prefix(nl == std::string_view::npos ? console.size() : nl + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
      line.remove_suffix(1);
    auto start = line.find(k_prefix);
    if (start == std::string_view::npos || !line.ends_with(k_suffix))
      continue;
    line.remove_prefix(start + k_prefix.size());
    auto open = line.rfind(k_uptime);
    if (open == std::string_view::npos || open == 0)
      continue;
    auto number = line.substr(open + k_uptime.size());
    number.remove_suffix(k_suffix.size());
    auto uptime = parse_seconds(number);
    if (!uptime)
      continue;
    if (!steps.empty() && *uptime < steps.back().uptime_s)
      break; // the guest booted again: the timeline is the first boot's
    steps.push_back({std::string(line.substr(0, open)), *uptime});
  }
  return steps;
}

std::optional<double> parse_proc_uptime(std::string_view text) {
  auto end = text.find_first_of(" \n");
  return parse_seconds(text.substr(0, end));
}

boost::json::array boot_timeline_json(const std::vector<BootStep>& steps, std::optional<double> kernel_started_s,
                                      double boot_to_ready_s) {
  boost::json::array out;
  auto add = [&](const std::string& step, std::optional<double> uptime_s) {
    boost::json::object entry{{"step", step}};
    if (uptime_s)
      entry["uptime_s"] = rounded(*uptime_s);
    if (kernel_started_s && uptime_s)
      entry["since_qemu_start_s"] = rounded(*kernel_started_s + *uptime_s);
    out.push_back(std::move(entry));
  };
  add("kernel started", 0.0);
  for (auto& s : steps)
    add(s.step, s.uptime_s);
  std::optional<double> answered;
  if (kernel_started_s)
    answered = boot_to_ready_s - *kernel_started_s;
  add("agent answered", answered);
  if (!kernel_started_s)
    out.back().as_object()["since_qemu_start_s"] = rounded(boot_to_ready_s);
  return out;
}

} // namespace virtbench::vm
