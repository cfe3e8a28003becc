#include "compare.hpp"

#include "report_model.hpp"
#include "results.hpp"
#include "util/error.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

namespace virtbench {

std::string decide_verdict(const MetricDef& def, const SampleStats& base, const SampleStats& cand,
                           const WelchTest& test, const CompareOptions& options) {
  if (base.n < 2 || cand.n < 2)
    return verdict::insufficient;
  if (!test.valid)
    // Neither side varies: equal means are no change; different ones have no scale.
    return base.mean == cand.mean ? verdict::no_change : verdict::insufficient;
  double change_pct = base.mean != 0 ? 100 * (cand.mean / base.mean - 1) : (cand.mean > base.mean ? INFINITY : -INFINITY);
  if (cand.mean == base.mean)
    change_pct = 0;
  bool significant = test.p < options.alpha;
  if (!def.performance) {
    if (!significant || std::abs(change_pct) <= options.max_regression_pct)
      return verdict::no_change;
    return change_pct > 0 ? verdict::higher : verdict::lower;
  }
  double worse_pct = def.higher_is_better ? -change_pct : change_pct;
  if (significant && worse_pct > options.max_regression_pct)
    return verdict::regressed;
  if (significant && -worse_pct > options.max_regression_pct)
    return verdict::improved;
  return verdict::no_change;
}

namespace {

std::string experiment_signature(const ExperimentInfo& e) {
  std::string s = e.workload;
  for (auto& a : e.args)
    s += " " + a;
  return s;
}

void check_same_suite(const Analysis& base, const Analysis& cand) {
  std::vector<std::string> problems;
  for (auto& e : base.experiments) {
    auto it = std::find_if(cand.experiments.begin(), cand.experiments.end(), [&](auto& c) { return c.name == e.name; });
    if (it == cand.experiments.end())
      problems.push_back("\"" + e.name + "\" is only in BASE");
    else if (experiment_signature(*it) != experiment_signature(e))
      problems.push_back(fmt::format("\"{}\" differs: BASE runs `sysbench {}`, CANDIDATE `sysbench {}`", e.name,
                                     experiment_signature(e), experiment_signature(*it)));
  }
  for (auto& c : cand.experiments)
    if (std::none_of(base.experiments.begin(), base.experiments.end(), [&](auto& e) { return e.name == c.name; }))
      problems.push_back("\"" + c.name + "\" is only in CANDIDATE");
  if (problems.empty())
    return;
  std::string msg = "compare: the two runs are of different suites, so their numbers are not comparable: ";
  for (std::size_t i = 0; i < problems.size(); ++i)
    msg += (i ? "; " : "") + problems[i];
  throw UsageError(msg + ". Compare runs of the same suite with the same --time and --iterations options.");
}

// Columns of a UTF-8 string in a terminal (every code point one column; enough for labels).
std::size_t display_width(const std::string& s) {
  return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

std::string signed_pct(double v) {
  if (!std::isfinite(v))
    return "–";
  return fmt::format("{:+.1f}%", v);
}

std::string change_text(const MetricChange& r) {
  if (r.base.mean == 0)
    return r.cand.mean == 0 ? "+0.0%" : "–";
  return signed_pct(100 * (r.ratio.estimate - 1));
}

std::string ci_text(const MetricChange& r) {
  if (!r.ratio.bounded)
    return "–";
  return "[" + signed_pct(100 * (r.ratio.low - 1)) + ", " + signed_pct(100 * (r.ratio.high - 1)) + "]";
}

std::string p_text(const MetricChange& r) {
  if (!r.test.valid)
    return "–";
  return r.test.p < 0.0001 ? "<0.0001" : fmt::format("{:.4f}", r.test.p);
}

} // namespace

Comparison compare_results(const boost::json::object& base_doc, const boost::json::object& cand_doc,
                           const CompareOptions& options) {
  auto base = analyze(base_doc);
  auto cand = analyze(cand_doc);
  check_same_suite(base, cand);
  Comparison c;
  bool any_common = false;
  for (auto& p : base.platforms)
    if (std::find(cand.platforms.begin(), cand.platforms.end(), p) == cand.platforms.end())
      c.notes.push_back("platform " + p + " is only in BASE");
  for (auto& p : cand.platforms)
    if (std::find(base.platforms.begin(), base.platforms.end(), p) == base.platforms.end())
      c.notes.push_back("platform " + p + " is only in CANDIDATE");
  double confidence = 1 - options.alpha;
  for (auto& exp : base.experiments) {
    for (auto& p : base.platforms) {
      auto* bc = base.find(p, exp.name);
      auto* cc = cand.find(p, exp.name);
      if (!bc || !cc)
        continue;
      any_common = true;
      for (auto& def : metric_catalog()) {
        auto* bm = bc->metric(def.path);
        auto* cm = cc->metric(def.path);
        if (!bm && !cm)
          continue;
        MetricChange row;
        row.experiment = exp.name;
        row.platform = p;
        row.def = &def;
        if (!bm || !cm) {
          row.verdict = verdict::insufficient;
          if (bm)
            row.base = describe_sample(bm->values, confidence);
          if (cm)
            row.cand = describe_sample(cm->values, confidence);
          c.rows.push_back(std::move(row));
          continue;
        }
        row.base = describe_sample(bm->values, confidence);
        row.cand = describe_sample(cm->values, confidence);
        row.ratio = ratio_of_means(cm->values, bm->values, confidence);
        row.test = welch_t_test(bm->values, cm->values);
        row.verdict = decide_verdict(def, row.base, row.cand, row.test, options);
        if (row.verdict == verdict::regressed)
          ++c.regressions;
        c.rows.push_back(std::move(row));
      }
    }
  }
  if (!any_common)
    throw UsageError("compare: the two runs share no platform with measured iterations; BASE has " +
                     fmt::format("{}", fmt::join(base.platforms, ", ")) + ", CANDIDATE has " +
                     fmt::format("{}", fmt::join(cand.platforms, ", ")));
  return c;
}

std::string render_comparison_text(const Comparison& c, const CompareOptions& options, const std::string& base_label,
                                   const std::string& cand_label) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"experiment", "platform", "metric", "n", "base mean", "cand mean", "change",
                  fmt::format("{:.0f}% CI", 100 * (1 - options.alpha)), "p", "verdict"});
  std::map<std::string, int> counts;
  for (auto& r : c.rows) {
    rows.push_back({r.experiment, r.platform, std::string(r.def->label), fmt::format("{}/{}", r.base.n, r.cand.n),
                    r.base.n ? format_number(r.base.mean) : "–", r.cand.n ? format_number(r.cand.mean) : "–",
                    change_text(r), ci_text(r), p_text(r), r.verdict});
    if (r.def->performance)
      ++counts[r.verdict];
  }
  std::vector<std::size_t> width(rows[0].size(), 0);
  for (auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i)
      width[i] = std::max(width[i], display_width(row[i]));
  std::string out = fmt::format("BASE      {}\nCANDIDATE {}\n", base_label, cand_label);
  out += fmt::format("A performance metric regressed when it is more than {:g}% worse with p < {:g} (Welch's t-test); "
                     "CI is the {:.0f}% Fieller interval of the change.\n\n",
                     options.max_regression_pct, options.alpha, 100 * (1 - options.alpha));
  std::string last_group;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    auto& row = rows[k];
    auto group = row[0] + "/" + row[1];
    if (k > 1 && group != last_group)
      out += "\n";
    last_group = group;
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      bool right = i >= 3 && i <= 8;
      auto pad = std::string(width[i] - display_width(row[i]), ' ');
      line += (i ? "  " : "") + (right ? pad + row[i] : row[i] + (i + 1 < row.size() ? pad : ""));
    }
    out += line + "\n";
  }
  for (auto& n : c.notes)
    out += "note: " + n + "\n";
  out += fmt::format("\nPerformance metrics: {} regressed, {} improved, {} no change, {} insufficient data.\n",
                     counts[verdict::regressed], counts[verdict::improved], counts[verdict::no_change],
                     counts[verdict::insufficient]);
  out += c.regressions ? "Verdict: REGRESSED (exit 1)\n" : "Verdict: no regression (exit 0)\n";
  return out;
}

std::string render_comparison_json(const Comparison& c, const CompareOptions& options, const std::string& base_label,
                                   const std::string& cand_label) {
  boost::json::object o;
  o["base"] = base_label;
  o["candidate"] = cand_label;
  o["max_regression_pct"] = options.max_regression_pct;
  o["alpha"] = options.alpha;
  o["regressed"] = c.regressions > 0;
  boost::json::array rows;
  for (auto& r : c.rows) {
    boost::json::object row{{"experiment", r.experiment},
                            {"platform", r.platform},
                            {"metric", r.def->path},
                            {"performance", r.def->performance},
                            {"n_base", r.base.n},
                            {"n_candidate", r.cand.n},
                            {"verdict", r.verdict}};
    if (r.base.n)
      row["base_mean"] = r.base.mean;
    if (r.cand.n)
      row["candidate_mean"] = r.cand.mean;
    if (r.ratio.estimate != 0 && r.base.mean != 0)
      row["change_pct"] = 100 * (r.ratio.estimate - 1);
    if (r.ratio.bounded) {
      row["change_ci_low_pct"] = 100 * (r.ratio.low - 1);
      row["change_ci_high_pct"] = 100 * (r.ratio.high - 1);
    }
    if (r.test.valid) {
      row["t"] = r.test.t;
      row["df"] = r.test.df;
      row["p"] = r.test.p;
    }
    rows.push_back(std::move(row));
  }
  o["metrics"] = std::move(rows);
  boost::json::array notes;
  for (auto& n : c.notes)
    notes.push_back(boost::json::string(n));
  o["notes"] = std::move(notes);
  return pretty_json(o) + "\n";
}

namespace {

std::string fingerprint_text(const boost::json::value* v) {
  if (!v)
    return "(absent)";
  return v->is_string() ? std::string(v->get_string()) : boost::json::serialize(*v);
}

void diff_keys(const boost::json::object& a, const boost::json::object& b, const std::string& prefix,
               const std::vector<std::string>& keys, std::vector<std::string>& out) {
  for (auto& k : keys) {
    auto* x = a.if_contains(k);
    auto* y = b.if_contains(k);
    if (!x && !y)
      continue;
    if (!x || !y || *x != *y)
      out.push_back(fmt::format("{}.{}: {} -> {}", prefix, k, fingerprint_text(x), fingerprint_text(y)));
  }
}

} // namespace

std::vector<std::string> fingerprint_differences(const boost::json::object& base, const boost::json::object& cand) {
  // What changes performance; paths, ids and timings of a particular run do not.
  static const std::vector<std::string> k_platform_keys = {
      "accel",        "domain_type",    "machine",        "cpu_model",     "cache_mode",     "aio",
      "scratch_format", "vcpus",        "memory_bytes",   "nano_cpus",     "qemu_version",   "hypervisor_version",
      "storage_driver", "cgroup_version", "cgroup_driver", "docker_storage", "engine_version", "sysbench_sha256",
      "image_digest", "guest_kernel"};
  static const std::vector<std::string> k_host_keys = {"cpu_model", "cpus", "memory_bytes", "kernel", "cpu_governor",
                                                       "transparent_hugepage", "mitigations"};
  std::vector<std::string> out;
  auto object_at = [](const boost::json::object& o, const char* k) -> const boost::json::object* {
    auto* v = o.if_contains(k);
    return v && v->is_object() ? &v->get_object() : nullptr;
  };
  if (auto *hb = object_at(base, "host"), *hc = object_at(cand, "host"); hb && hc)
    diff_keys(*hb, *hc, "host", k_host_keys, out);
  auto platforms = [](const boost::json::object& r) {
    std::map<std::string, const boost::json::object*> m;
    if (auto* ps = r.if_contains("platforms"); ps && ps->is_array())
      for (auto& p : ps->get_array())
        if (p.is_object())
          if (auto* n = p.get_object().if_contains("name"); n && n->is_string())
            m[std::string(n->get_string())] = &p.get_object();
    return m;
  };
  auto pb = platforms(base), pc = platforms(cand);
  for (auto& [name, b] : pb)
    if (auto it = pc.find(name); it != pc.end())
      diff_keys(*b, *it->second, name, k_platform_keys, out);
  return out;
}

} // namespace virtbench
