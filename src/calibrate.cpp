#include "calibrate.hpp"

#include "catalog.hpp"
#include "report_model.hpp"
#include "stats.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace virtbench {

namespace {

std::optional<double> between_run_cv(const std::vector<double>& values) {
  if (values.size() < 2)
    return std::nullopt;
  return describe_sample(values).cv;
}

double mean_of(const std::vector<double>& v) {
  double sum = 0;
  for (auto x : v)
    sum += x;
  return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

std::string text_at(const boost::json::object& o, std::string_view object, std::string_view key) {
  auto* v = o.if_contains(object);
  if (!v || !v->is_object())
    return "?";
  auto* s = v->as_object().if_contains(key);
  return s && s->is_string() ? std::string(s->get_string()) : "?";
}

} // namespace

std::vector<CalibrationRow> calibration_rows(const std::vector<boost::json::object>& results) {
  using Key = std::pair<std::string, std::string>; // experiment, platform
  std::vector<Key> order;
  std::map<Key, std::string> metric;
  std::map<Key, std::vector<double>> means;  // one per run that measured it
  std::map<Key, std::vector<double>> ratios; // one per run that measured it and native
  for (auto& r : results) {
    auto a = analyze_by_params(r);
    for (auto& e : a.experiments) {
      const Cell* native = a.find("native", e.name);
      const MetricSeries* native_series = native ? native->metric(e.headline) : nullptr;
      for (auto& p : a.platforms) {
        const Cell* cell = a.find(p, e.name);
        const MetricSeries* series = cell ? cell->metric(e.headline) : nullptr;
        if (!series || series->values.empty())
          continue;
        Key key{e.name, p};
        if (!metric.contains(key)) {
          order.push_back(key);
          metric[key] = e.headline;
        }
        means[key].push_back(series->stats.mean);
        if (p != "native" && native_series && !native_series->values.empty() && native_series->stats.mean != 0)
          ratios[key].push_back(series->stats.mean / native_series->stats.mean);
      }
    }
  }
  std::vector<CalibrationRow> rows;
  for (auto& key : order) {
    CalibrationRow row;
    row.experiment = key.first;
    row.platform = key.second;
    row.metric = metric[key];
    auto& m = means[key];
    row.runs = m.size();
    row.mean = mean_of(m);
    row.cv = between_run_cv(m);
    if (auto it = ratios.find(key); it != ratios.end() && !it->second.empty()) {
      row.ratio_mean = mean_of(it->second);
      row.ratio_cv = between_run_cv(it->second);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string render_calibration(const std::vector<CalibrationRow>& rows, std::size_t runs) {
  if (rows.empty())
    return fmt::format("between-run noise: no measured values in {} finished run(s)\n", runs);
  std::vector<std::vector<std::string>> table = {
      {"experiment", "platform", "metric", "runs", "mean of run means", "between-run CV", "×native", "CV of ×native"}};
  auto pct = [](const std::optional<double>& v) { return v ? fmt::format("{:.2f}%", 100 * *v) : std::string("–"); };
  for (auto& r : rows) {
    auto* def = find_metric(r.metric);
    table.push_back({r.experiment, r.platform, def ? std::string(def->label) : r.metric, std::to_string(r.runs),
                     format_number(r.mean), pct(r.cv), r.ratio_mean ? fmt::format("{:.4f}", *r.ratio_mean) : "–",
                     pct(r.ratio_cv)});
  }
  std::vector<std::size_t> width(table.front().size(), 0);
  auto columns = [](const std::string& s) {
    return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
  };
  for (auto& line : table)
    for (std::size_t i = 0; i < line.size(); ++i)
      width[i] = std::max(width[i], columns(line[i]));
  std::string out = fmt::format("between-run noise over {} run(s), headline metric per experiment and platform:\n", runs);
  for (auto& line : table) {
    std::string text;
    for (std::size_t i = 0; i < line.size(); ++i)
      text += line[i] + std::string(i + 1 < line.size() ? width[i] - columns(line[i]) + 2 : 0, ' ');
    out += text + "\n";
  }
  return out;
}

std::string calibration_suite(const std::vector<boost::json::object>& results) {
  return results.empty() ? "?" : text_at(results.front(), "suite", "name");
}

std::string calibration_host(const std::vector<boost::json::object>& results) {
  return results.empty() ? "?" : text_at(results.front(), "host", "hostname");
}

} // namespace virtbench
