#include "report_model.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace virtbench {

std::string json_text(const boost::json::value* v) {
  if (!v)
    return "";
  if (v->is_string())
    return std::string(v->get_string());
  if (v->is_double())
    return fmt::format("{}", v->get_double()); // shortest round-trip, not Boost.JSON's exponent form
  if (v->is_object()) {
    std::string s;
    for (auto& [k, e] : v->get_object())
      s += (s.empty() ? "" : ", ") + std::string(k) + ": " + json_text(&e);
    return "{" + s + "}";
  }
  if (v->is_array()) {
    std::string s;
    for (auto& e : v->get_array())
      s += (s.empty() ? "" : ", ") + json_text(&e);
    return "[" + s + "]";
  }
  return boost::json::serialize(*v);
}

std::string format_number(double v) {
  if (std::abs(v) >= 1000)
    return fmt::format("{:.1f}", v);
  if (std::abs(v) >= 10)
    return fmt::format("{:.2f}", v);
  return fmt::format("{:.3g}", v);
}

bool MetricSeries::is_outlier(std::size_t i) const {
  return std::find(stats.outliers.begin(), stats.outliers.end(), i) != stats.outliers.end();
}

const MetricSeries* Cell::metric(std::string_view path) const {
  auto it = metrics.find(std::string(path));
  return it == metrics.end() ? nullptr : &it->second;
}

const Cell* Analysis::find(std::string_view platform, std::string_view experiment) const {
  for (auto& c : cells)
    if (c.platform == platform && c.experiment->name == experiment)
      return &c;
  return nullptr;
}

const boost::json::object* Analysis::platform_info(std::string_view platform) const {
  if (!doc)
    return nullptr;
  if (auto* ps = doc->if_contains("platforms"); ps && ps->is_array())
    for (auto& p : ps->get_array())
      if (p.is_object() && json_text(p.get_object().if_contains("name")) == platform)
        return &p.get_object();
  return nullptr;
}

std::vector<std::pair<std::string, std::string>> variant_params(const boost::json::object* info) {
  std::vector<std::pair<std::string, std::string>> params;
  if (!info)
    return params;
  if (auto* v = info->if_contains("variant"); v && v->is_object())
    for (auto& [k, value] : v->get_object())
      params.emplace_back(std::string(k), json_text(&value));
  return params;
}

std::string platform_driver(const boost::json::object* info, std::string_view name) {
  if (info)
    if (auto* p = info->if_contains("platform"); p && p->is_string())
      return std::string(p->get_string());
  return std::string(name);
}

std::string platform_key(const boost::json::object* info, std::string_view name) {
  auto params = variant_params(info);
  auto driver = platform_driver(info, name);
  if (params.empty())
    return driver == name ? driver : std::string(name);
  std::sort(params.begin(), params.end());
  std::string key = driver + "[";
  for (std::size_t i = 0; i < params.size(); ++i)
    key += (i ? "," : "") + params[i].first + "=" + params[i].second;
  return key + "]";
}

Analysis analyze(const boost::json::object& results) {
  Analysis a;
  a.doc = &results;
  if (auto* suite = results.if_contains("suite"); suite && suite->is_object())
    if (auto* exps = suite->get_object().if_contains("experiments"); exps && exps->is_array())
      for (auto& ev : exps->get_array()) {
        if (!ev.is_object())
          continue;
        auto& e = ev.get_object();
        ExperimentInfo info;
        info.name = json_text(e.if_contains("name"));
        info.workload = json_text(e.if_contains("workload"));
        if (auto* args = e.if_contains("args"); args && args->is_array())
          for (auto& arg : args->get_array())
            info.args.push_back(json_text(&arg));
        info.headline = std::string(headline_metric(info.workload));
        a.experiments.push_back(std::move(info));
      }
  if (auto* ps = results.if_contains("platforms"); ps && ps->is_array())
    for (auto& p : ps->get_array())
      if (p.is_object())
        a.platforms.push_back(json_text(p.get_object().if_contains("name")));

  auto& runs = results.at("runs").as_array();
  for (auto& rv : runs) {
    if (!rv.is_object())
      continue;
    auto& r = rv.get_object();
    auto platform = json_text(r.if_contains("platform"));
    if (std::find(a.platforms.begin(), a.platforms.end(), platform) == a.platforms.end())
      a.platforms.push_back(platform);
    auto experiment = json_text(r.if_contains("experiment"));
    if (std::none_of(a.experiments.begin(), a.experiments.end(), [&](auto& e) { return e.name == experiment; }))
      a.experiments.push_back({experiment, "", {}, std::string(headline_metric(""))});
  }

  for (auto& platform : a.platforms) {
    for (auto& exp : a.experiments) {
      Cell cell;
      cell.platform = platform;
      cell.experiment = &exp;
      for (auto& rv : runs) {
        if (!rv.is_object())
          continue;
        auto& r = rv.get_object();
        if (r.contains("warmup") || json_text(r.if_contains("platform")) != platform ||
            json_text(r.if_contains("experiment")) != exp.name)
          continue;
        auto* it = r.if_contains("iteration");
        if (!it || !it->is_number())
          continue;
        cell.records[static_cast<int>(it->to_number<double>())] = &r;
      }
      if (cell.records.empty())
        continue;
      for (auto& [i, r] : cell.records) {
        if (r->contains("error")) {
          ++cell.failed;
          continue;
        }
        for (auto& m : metric_catalog()) {
          auto v = metric_value(*r, m.path);
          if (!v)
            continue;
          auto& series = cell.metrics[std::string(m.path)];
          series.def = &m;
          series.iterations.push_back(i);
          series.values.push_back(*v);
        }
      }
      for (auto& [path, series] : cell.metrics)
        series.stats = describe_sample(series.values);
      a.cells.push_back(std::move(cell));
    }
  }
  return a;
}

Analysis analyze_by_params(const boost::json::object& results) {
  auto a = analyze(results);
  std::map<std::string, std::string> key_of;
  for (auto& p : a.platforms)
    key_of[p] = platform_key(a.platform_info(p), p);
  for (auto& p : a.platforms)
    p = key_of[p];
  for (auto& c : a.cells)
    if (auto it = key_of.find(c.platform); it != key_of.end())
      c.platform = it->second;
  return a;
}

std::map<std::string, std::vector<std::string>> variant_axes(const boost::json::object& results) {
  std::map<std::string, std::vector<std::string>> axes;
  if (auto* ps = results.if_contains("platforms"); ps && ps->is_array())
    for (auto& p : ps->get_array()) {
      if (!p.is_object())
        continue;
      auto& info = p.get_object();
      auto params = variant_params(&info);
      if (params.empty())
        continue;
      auto& list = axes[platform_driver(&info, json_text(info.if_contains("name")))];
      for (auto& [k, v] : params)
        if (std::find(list.begin(), list.end(), k) == list.end())
          list.push_back(k);
    }
  for (auto& [driver, list] : axes)
    std::sort(list.begin(), list.end());
  return axes;
}

std::optional<Interval> slowdown(const MetricSeries& baseline, const MetricSeries& platform) {
  if (baseline.values.empty() || platform.values.empty())
    return std::nullopt;
  // For higher-is-better metrics a platform is k times slower when it does 1/k the work.
  auto r = baseline.def->higher_is_better ? ratio_interval(baseline.values, platform.values)
                                          : ratio_interval(platform.values, baseline.values);
  if (r.estimate == 0 && !r.bounded)
    return std::nullopt;
  return r;
}

std::string describe_slowdown(const Interval& s) {
  if (!(s.estimate > 0))
    return "–";
  bool slower = s.estimate >= 1;
  double est = slower ? s.estimate : 1 / s.estimate;
  std::string text = fmt::format("{:.2f}× {}", est, slower ? "slower" : "faster");
  if (!s.bounded)
    return text + " (no interval: " + (s.why_unbounded.empty() ? "too few values" : s.why_unbounded) + ")";
  double lo = slower ? s.low : 1 / s.high;
  double hi = slower ? s.high : (s.low > 0 ? 1 / s.low : INFINITY);
  if (s.low <= 1 && s.high >= 1)
    return fmt::format("{:.2f}× ({:.2f}–{:.2f}), within noise", s.estimate, s.low, s.high);
  return text + fmt::format(" ({:.2f}–{:.2f})", lo, hi);
}

} // namespace virtbench
