#include "report.hpp"

#include "methodology.hpp"

#include "catalog.hpp"
#include "report_doc.hpp"
#include "report_model.hpp"
#include "stats.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <map>
#include <set>

namespace virtbench {

namespace {

using boost::json::object;

const char* k_baseline = "native";

std::string percent(double fraction) { return fmt::format("{:.1f}%", 100 * fraction); }

std::string mean_with_ci(const SampleStats& s) {
  if (!s.has_ci())
    return format_number(s.mean);
  return fmt::format("{} ({}–{})", format_number(s.mean), format_number(s.ci_low), format_number(s.ci_high));
}

std::string cv_text(const SampleStats& s) {
  if (!s.has_ci())
    return "–";
  return s.noisy() ? percent(s.cv) + " **noisy**" : percent(s.cv);
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (auto& p : parts)
    out += (out.empty() ? "" : sep) + p;
  return out;
}

std::string outlier_note(const MetricSeries& m) {
  if (m.stats.outliers.empty())
    return "";
  std::vector<std::string> its;
  for (auto i : m.stats.outliers)
    its.push_back(std::to_string(m.iterations[i]));
  return fmt::format("outlier{} in iteration {}", its.size() > 1 ? "s" : "", join(its, ", "));
}

std::string host_line(const object& results, const Analysis& a) {
  std::string line;
  if (auto* hv = results.if_contains("host"); hv && hv->is_object()) {
    auto& host = hv->get_object();
    double gib = host.contains("memory_bytes") && host.at("memory_bytes").is_number()
                     ? host.at("memory_bytes").to_number<double>() / (1u << 30)
                     : 0.0;
    line = fmt::format("Host {}: {}, {} CPUs, {:.1f} GiB, kernel {}", json_text(host.if_contains("hostname")),
                       json_text(host.if_contains("cpu_model")), json_text(host.if_contains("cpus")), gib,
                       json_text(host.if_contains("kernel")));
  }
  std::vector<std::string> accels;
  for (auto& p : a.platforms) {
    auto* info = a.platform_info(p);
    if (!info || !info->contains("accel"))
      continue;
    auto reason = json_text(info->if_contains("accel_reason"));
    accels.push_back(fmt::format("{} {}{}", p, json_text(info->if_contains("accel")),
                                 reason.empty() ? "" : " (" + reason + ")"));
  }
  line += accels.empty() ? ". No platform recorded an accelerator." : ". Accelerator: " + join(accels, "; ") + ".";
  return line;
}

void add_summary(ReportDoc& doc, const object& results, const Analysis& a) {
  doc.push_back(heading("Summary"));
  doc.push_back(paragraph(host_line(results, a)));
  ReportTable t;
  t.header = {"experiment", "metric", "platform", "n", "mean (95% CI)", "CV", "vs native (95% CI)", "notes"};
  t.align = "lllrrrll";
  bool any_noisy = false;
  for (auto& exp : a.experiments) {
    auto* def = find_metric(exp.headline);
    const MetricSeries* base = nullptr;
    if (auto* nc = a.find(k_baseline, exp.name))
      base = nc->metric(exp.headline);
    for (auto& p : a.platforms) {
      auto* cell = a.find(p, exp.name);
      if (!cell)
        continue;
      auto* m = cell->metric(exp.headline);
      std::vector<std::string> notes;
      if (cell->failed)
        notes.push_back(fmt::format("{} failed", cell->failed));
      std::vector<std::string> row = {exp.name, def ? std::string(def->label) : exp.headline, p};
      if (!m) {
        row.insert(row.end(), {"0", "–", "–", "–"});
        notes.push_back("no values");
      } else {
        row.push_back(std::to_string(m->stats.n));
        row.push_back(mean_with_ci(m->stats));
        row.push_back(cv_text(m->stats));
        any_noisy = any_noisy || m->stats.noisy();
        if (p == k_baseline)
          row.push_back("baseline");
        else if (auto s = base ? slowdown(*base, *m) : std::nullopt)
          row.push_back(describe_slowdown(*s));
        else
          row.push_back(base ? "–" : "no native run");
        if (auto o = outlier_note(*m); !o.empty())
          notes.push_back(o);
        if (m->stats.n < 2)
          notes.push_back("one value: no interval");
      }
      row.push_back(join(notes, "; "));
      t.rows.push_back(std::move(row));
    }
  }
  doc.push_back(table(std::move(t)));
  doc.push_back(paragraph(
      "Measured iterations only (warm-ups and failed runs excluded). Intervals are 95% and, for positive "
      "values such as throughput and latency, on the log scale (mean × e^(±t·CV/√n)), so they never reach 0; "
      "\"vs native\" is how many times slower (or faster) than native, for throughput native ÷ platform and "
      "for latency platform ÷ native, its interval on the log scale too (Welch degrees of freedom); "
      "\"within noise\" means the interval includes 1. CV is the "
      "coefficient of variation (standard deviation ÷ mean); above 10% a result is marked **noisy**" +
      std::string(any_noisy ? " and deserves more iterations before anyone draws a conclusion from it" : "") +
      ". Outliers are values farther than 3 × 1.4826 × MAD (and more than 1%) from the median; they are "
      "flagged, not dropped."));
}

std::vector<ChartSpec> experiment_charts(const Analysis& a, const ExperimentInfo& exp) {
  std::vector<ChartSpec> charts;
  auto* def = find_metric(exp.headline);
  ChartSpec bars;
  bars.type = ChartSpec::Type::bars_with_ci;
  bars.title = exp.name + ": " + (def ? std::string(def->label) : exp.headline) + " (mean, 95% CI)";
  bars.ylabel = def ? std::string(def->label) : exp.headline;
  ChartSpec latency;
  latency.type = ChartSpec::Type::clustered;
  latency.title = exp.name + ": latency (ms, means)";
  latency.ylabel = "ms (log scale)";
  latency.series = {"min", "avg", "p95", "max"};
  latency.log_y = true;
  ChartSpec cpu;
  cpu.type = ChartSpec::Type::stacked;
  cpu.title = exp.name + ": CPU time (% of all CPUs)";
  cpu.ylabel = "%";
  cpu.series = {"user", "kernel", "iowait"};
  for (auto& p : a.platforms) {
    auto* cell = a.find(p, exp.name);
    if (!cell)
      continue;
    if (auto* m = cell->metric(exp.headline)) {
      bars.categories.push_back(p);
      bars.values.push_back({m->stats.mean});
      bars.ci.emplace_back(m->stats.ci_low, m->stats.ci_high);
    }
    std::vector<double> lat;
    for (auto* k : {"min", "avg", "p95", "max"}) {
      auto* m = cell->metric(std::string("metrics.latency_ms.") + k);
      lat.push_back(m ? m->stats.mean : NAN);
    }
    if (std::any_of(lat.begin(), lat.end(), [](double v) { return std::isfinite(v); })) {
      latency.categories.push_back(p);
      latency.values.push_back(lat);
    }
    for (auto* view : {"host", "guest"}) {
      std::vector<double> parts;
      bool any = false;
      for (auto* k : {"user_pct", "kernel_pct", "iowait_pct"}) {
        auto* m = cell->metric(fmt::format("cpu.{}.{}", view, k));
        any = any || m;
        parts.push_back(m ? m->stats.mean : 0);
      }
      if (any) {
        cpu.categories.push_back(p + " (" + view + ")");
        cpu.values.push_back(parts);
      }
    }
  }
  for (auto* c : {&bars, &latency, &cpu})
    if (!c->categories.empty())
      charts.push_back(std::move(*c));
  return charts;
}

void add_charts(ReportDoc& doc, const Analysis& a) {
  doc.push_back(heading("Charts"));
  for (auto& exp : a.experiments) {
    auto charts = experiment_charts(a, exp);
    if (charts.empty())
      continue;
    doc.push_back(heading(exp.name, 3));
    for (auto& c : charts)
      doc.push_back(chart(std::move(c)));
  }
}

// Native's values of `path` in batch `batch` (records' "batch"; 0: all of them): each
// batch of a matrix run has its own native baseline.
std::optional<MetricSeries> native_in_batch(const Analysis& a, const ExperimentInfo& exp, int batch) {
  auto* cell = a.find(k_baseline, exp.name);
  auto* series = cell ? cell->metric(exp.headline) : nullptr;
  if (!series)
    return std::nullopt;
  if (batch == 0)
    return *series;
  MetricSeries s;
  s.def = series->def;
  for (std::size_t i = 0; i < series->values.size(); ++i) {
    auto it = cell->records.find(series->iterations[i]);
    if (it == cell->records.end())
      continue;
    auto* b = it->second->if_contains("batch");
    if (b && b->is_number() && b->to_number<int>() == batch) {
      s.iterations.push_back(series->iterations[i]);
      s.values.push_back(series->values[i]);
    }
  }
  if (s.values.empty())
    return std::nullopt;
  s.stats = describe_sample(s.values);
  return s;
}

int platform_batch(const Analysis& a, const std::string& platform) {
  auto* info = a.platform_info(platform);
  auto* b = info ? info->if_contains("batch") : nullptr;
  return b && b->is_number() ? b->to_number<int>() : 0;
}

// "vcpus=1, scratch-format=raw" of every param but `axis`; the driver's name when none is left.
std::string other_params(const std::vector<std::pair<std::string, std::string>>& params, const std::string& axis,
                         const std::string& driver) {
  std::string text;
  for (auto& [k, v] : params)
    if (k != axis)
      text += (text.empty() ? "" : ", ") + k + "=" + v;
  return text.empty() ? driver : text;
}

// A configuration matrix's section: per experiment, every variant's headline metric with
// × native (its batch's) and × its platform's default variant, and per driver and axis a
// chart of the headline against the axis's values.
void add_matrix(ReportDoc& doc, const Analysis& a) {
  std::vector<std::string> variants, axes, drivers;
  for (auto& p : a.platforms) {
    auto* info = a.platform_info(p);
    auto params = variant_params(info);
    if (params.empty())
      continue;
    variants.push_back(p);
    auto driver = platform_driver(info, p);
    if (std::find(drivers.begin(), drivers.end(), driver) == drivers.end())
      drivers.push_back(driver);
    for (auto& [k, v] : params)
      if (std::find(axes.begin(), axes.end(), k) == axes.end())
        axes.push_back(k);
  }
  if (variants.empty())
    return;
  auto reference_of = [&](const std::string& driver) -> std::string {
    for (auto& v : variants) {
      auto* info = a.platform_info(v);
      if (platform_driver(info, v) != driver)
        continue;
      if (auto* d = info->if_contains("default_variant"); d && d->is_bool() && d->get_bool())
        return v;
    }
    return {};
  };
  doc.push_back(heading("Matrix"));
  doc.push_back(paragraph(
      "Every variant is one platform entry, measured interleaved with the others in the same rounds. Mean of the "
      "headline metric with its 95% interval; \"× native\" against the native iterations of the variant's own batch "
      "(all of them when the run had one batch); \"× default\" against the platform's default variant (the one with "
      "the values the platform has without the matrix, else its first), both with 95% intervals on the log scale; "
      "\"within noise\" when the interval includes 1."));
  for (auto& exp : a.experiments) {
    auto* def = find_metric(exp.headline);
    ReportTable t;
    t.header = {"variant", "platform"};
    t.align = "ll";
    for (auto& axis : axes) {
      t.header.push_back(axis);
      t.align += 'l';
    }
    for (auto* h : {"n", "mean (95% CI)", "× native (95% CI)", "× default (95% CI)"}) {
      t.header.push_back(h);
      t.align += 'r';
    }
    t.header[t.header.size() - 3] = (def ? std::string(def->label) : exp.headline) + " (95% CI)";
    for (auto& v : variants) {
      auto* info = a.platform_info(v);
      auto params = variant_params(info);
      auto driver = platform_driver(info, v);
      std::vector<std::string> row = {v, driver};
      for (auto& axis : axes) {
        auto it = std::find_if(params.begin(), params.end(), [&](auto& p) { return p.first == axis; });
        row.push_back(it == params.end() ? "–" : it->second);
      }
      auto* cell = a.find(v, exp.name);
      auto* m = cell ? cell->metric(exp.headline) : nullptr;
      if (!m) {
        row.insert(row.end(), {"0", cell && cell->failed ? "failed" : "–", "–", "–"});
        t.rows.push_back(std::move(row));
        continue;
      }
      row.push_back(std::to_string(m->stats.n));
      row.push_back(mean_with_ci(m->stats));
      auto native = native_in_batch(a, exp, platform_batch(a, v));
      auto s = native ? slowdown(*native, *m) : std::nullopt;
      row.push_back(s ? describe_slowdown(*s) : native ? "–" : "no native run");
      auto ref = reference_of(driver);
      auto* ref_cell = ref.empty() ? nullptr : a.find(ref, exp.name);
      auto* ref_m = ref_cell ? ref_cell->metric(exp.headline) : nullptr;
      if (ref == v)
        row.push_back("default");
      else if (auto d = ref_m ? slowdown(*ref_m, *m) : std::nullopt)
        row.push_back(describe_slowdown(*d));
      else
        row.push_back("–");
      t.rows.push_back(std::move(row));
    }
    doc.push_back(heading("Matrix: " + exp.name, 3));
    doc.push_back(table(std::move(t)));

    // One chart per driver and axis: the headline against the axis, a line per
    // combination of the other axes.
    for (auto& driver : drivers) {
      std::vector<std::string> own;
      std::vector<std::string> members;
      for (auto& v : variants)
        if (platform_driver(a.platform_info(v), v) == driver) {
          members.push_back(v);
          for (auto& [k, val] : variant_params(a.platform_info(v)))
            if (std::find(own.begin(), own.end(), k) == own.end())
              own.push_back(k);
        }
      for (auto& axis : own) {
        ChartSpec c;
        c.type = ChartSpec::Type::lines_with_ci;
        c.title = fmt::format("{}: {} against {} ({})", exp.name, def ? std::string(def->label) : exp.headline, axis,
                              driver);
        c.ylabel = def ? std::string(def->label) : exp.headline;
        c.xlabel = axis;
        std::vector<std::pair<std::string, std::string>> points; // (category, series) of each member
        for (auto& v : members) {
          auto params = variant_params(a.platform_info(v));
          auto it = std::find_if(params.begin(), params.end(), [&](auto& p) { return p.first == axis; });
          std::string category = it == params.end() ? "–" : it->second;
          auto series = other_params(params, axis, driver);
          if (std::find(c.categories.begin(), c.categories.end(), category) == c.categories.end())
            c.categories.push_back(category);
          if (std::find(c.series.begin(), c.series.end(), series) == c.series.end())
            c.series.push_back(series);
          points.emplace_back(category, series);
        }
        c.values.assign(c.categories.size(), std::vector<double>(c.series.size(), NAN));
        c.series_ci.assign(c.categories.size(), std::vector<std::pair<double, double>>(c.series.size(), {NAN, NAN}));
        bool any = false;
        for (std::size_t k = 0; k < members.size(); ++k) {
          auto* cell = a.find(members[k], exp.name);
          auto* m = cell ? cell->metric(exp.headline) : nullptr;
          if (!m)
            continue;
          auto ci = std::find(c.categories.begin(), c.categories.end(), points[k].first) - c.categories.begin();
          auto si = std::find(c.series.begin(), c.series.end(), points[k].second) - c.series.begin();
          c.values[static_cast<std::size_t>(ci)][static_cast<std::size_t>(si)] = m->stats.mean;
          c.series_ci[static_cast<std::size_t>(ci)][static_cast<std::size_t>(si)] =
              m->stats.has_ci() ? std::pair{m->stats.ci_low, m->stats.ci_high} : std::pair{m->stats.mean, m->stats.mean};
          any = true;
        }
        if (any)
          doc.push_back(chart(std::move(c)));
      }
    }
  }
}

void add_platforms(ReportDoc& doc, const object& results, const Analysis& a) {
  doc.push_back(heading("Platforms"));
  std::vector<std::string> items;
  for (auto& p : a.platforms) {
    std::string item = "**" + p + "**:";
    if (auto* info = a.platform_info(p))
      for (auto& [k, v] : *info) {
        if (k == "name")
          continue;
        // Long facts (QEMU's command line, its event log) stay in results.json.
        auto text = json_text(&v);
        if (text.size() > 160)
          text = fmt::format("({} characters, in results.json)", text.size());
        item += fmt::format(" {}={};", std::string(k), text);
      }
    items.push_back(std::move(item));
  }
  doc.push_back(bullets(std::move(items)));
  (void)results;
}

void add_iteration_tables(ReportDoc& doc, const Analysis& a) {
  for (auto& cell : a.cells) {
    auto& exp = *cell.experiment;
    doc.push_back(heading(fmt::format("{} — {}", cell.platform, exp.name)));
    std::string args;
    for (auto& arg : exp.args)
      args += " " + arg;
    doc.push_back(paragraph(fmt::format("`sysbench {}{} run`", exp.workload, args)));
    ReportTable t;
    t.header = {"metric"};
    t.align = "l";
    for (auto& [i, r] : cell.records) {
      t.header.push_back(std::to_string(i));
      t.align += 'r';
    }
    for (auto* h : {"mean", "std dev", "median", "min", "max", "CV", "95% CI"}) {
      t.header.push_back(h);
      t.align += 'r';
    }
    bool any_outlier = false;
    for (auto& m : metric_catalog()) {
      auto* series = cell.metric(m.path);
      if (!series)
        continue;
      std::vector<std::string> row = {std::string(m.label)};
      for (auto& [i, r] : cell.records) {
        auto pos = std::find(series->iterations.begin(), series->iterations.end(), i);
        if (pos == series->iterations.end()) {
          row.push_back(r->contains("error") ? "failed" : "–");
          continue;
        }
        auto idx = static_cast<std::size_t>(pos - series->iterations.begin());
        bool outlier = series->is_outlier(idx);
        any_outlier = any_outlier || outlier;
        row.push_back(format_number(series->values[idx]) + (outlier ? " †" : ""));
      }
      auto& s = series->stats;
      row.push_back(format_number(s.mean));
      row.push_back(s.has_ci() ? format_number(s.stddev) : "–");
      row.push_back(format_number(s.median));
      row.push_back(format_number(s.min));
      row.push_back(format_number(s.max));
      row.push_back(cv_text(s));
      row.push_back(s.has_ci() ? format_number(s.ci_low) + "–" + format_number(s.ci_high) : "–");
      t.rows.push_back(std::move(row));
    }
    doc.push_back(table(std::move(t)));
    if (any_outlier)
      doc.push_back(paragraph("† outlier: farther than 3 × 1.4826 × MAD (and more than 1%) from the median; kept in the statistics."));
    for (auto& [i, r] : cell.records)
      if (r->contains("error"))
        doc.push_back(paragraph(fmt::format("Iteration {} failed: {}", i, json_text(r->if_contains("error")))));
  }
}

void add_cpu_split(ReportDoc& doc, const Analysis& a) {
  static const std::vector<std::pair<const char*, const char*>> k_columns = {
      {"cpu.host.user_pct", "host user %"},         {"cpu.host.kernel_pct", "host kernel %"},
      {"cpu.host.iowait_pct", "host iowait %"},     {"cpu.guest.user_pct", "guest user %"},
      {"cpu.guest.kernel_pct", "guest kernel %"},   {"cpu.guest.iowait_pct", "guest iowait %"},
      {"cpu.platform_process.user_s", "process user s"}, {"cpu.platform_process.kernel_s", "process kernel s"},
  };
  std::set<std::string> present;
  for (auto& cell : a.cells)
    for (auto& [path, col] : k_columns)
      if (cell.metric(path))
        present.insert(path);
  if (present.empty())
    return;
  doc.push_back(heading("CPU time: user and kernel, as the host and the guest saw it"));
  doc.push_back(paragraph(
      "Means over the measured iterations. Host and guest columns are percentages of all CPUs from "
      "`/proc/stat` deltas over the run (user = user + nice; kernel = system + irq + softirq); the process "
      "columns are the CPU seconds of the platform's own processes on the host (the workload natively, the "
      "container's cgroup, QEMU's threads)."));
  ReportTable t;
  t.header = {"experiment", "platform"};
  t.align = "ll";
  for (auto& [path, label] : k_columns)
    if (present.count(path)) {
      t.header.push_back(label);
      t.align += 'r';
    }
  for (auto& exp : a.experiments)
    for (auto& p : a.platforms) {
      auto* cell = a.find(p, exp.name);
      if (!cell)
        continue;
      std::vector<std::string> row = {exp.name, p};
      for (auto& [path, label] : k_columns) {
        if (!present.count(path))
          continue;
        auto* m = cell->metric(path);
        row.push_back(m ? format_number(m->stats.mean) : "–");
      }
      t.rows.push_back(std::move(row));
    }
  doc.push_back(table(std::move(t)));
}

void add_cache_drops(ReportDoc& doc, const Analysis& a) {
  ReportTable t;
  t.header = {"experiment", "platform", "where", "drops", "Cached before (MiB, mean)", "Cached after (MiB, mean)"};
  t.align = "lllrrr";
  for (auto& cell : a.cells) {
    struct Acc {
      int n = 0, with_values = 0;
      double before = 0, after = 0;
    };
    std::map<std::string, Acc> by_where;
    for (auto& [i, r] : cell.records) {
      auto* drops = r->if_contains("cache_drops");
      if (!drops || !drops->is_array())
        continue;
      for (auto& dv : drops->get_array()) {
        if (!dv.is_object())
          continue;
        auto& d = dv.get_object();
        auto& acc = by_where[json_text(d.if_contains("where"))];
        ++acc.n;
        auto* b = d.if_contains("cached_before_kib");
        auto* af = d.if_contains("cached_after_kib");
        if (b && af && b->is_number() && af->is_number()) {
          ++acc.with_values;
          acc.before += b->to_number<double>() / 1024;
          acc.after += af->to_number<double>() / 1024;
        }
      }
    }
    for (auto& [where, acc] : by_where)
      t.rows.push_back({cell.experiment->name, cell.platform, where, std::to_string(acc.n),
                        acc.with_values ? format_number(acc.before / acc.with_values) : "–",
                        acc.with_values ? format_number(acc.after / acc.with_values) : "–"});
  }
  if (t.rows.empty())
    return;
  doc.push_back(heading("Page cache drops before runs"));
  doc.push_back(paragraph("`Cached` from `/proc/meminfo` just before and after each drop (other tenants' files "
                          "included); whether the data set itself left the cache is `fincore`'s answer, counted in "
                          "the methodology section as verified drops."));
  doc.push_back(table(std::move(t)));
}

std::string md_cell(const std::string& s) {
  std::string out;
  for (char c : s)
    out += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
  return out;
}

} // namespace

ReportDoc build_report(const object& results) {
  auto a = analyze(results);
  ReportDoc doc;
  auto suite_name = results.contains("suite") && results.at("suite").is_object()
                        ? json_text(results.at("suite").get_object().if_contains("name"))
                        : std::string();
  doc.push_back(heading(fmt::format("virtbench report: suite `{}`", suite_name), 1));
  std::vector<std::string> facts;
  facts.push_back(fmt::format("virtbench {}, started {}, finished {}{}", json_text(results.if_contains("virtbench_version")),
                              json_text(results.if_contains("started_at")), json_text(results.if_contains("finished_at")),
                              results.contains("interrupted") && results.at("interrupted").is_bool() &&
                                      results.at("interrupted").get_bool()
                                  ? " (interrupted)"
                                  : ""));
  facts.push_back(fmt::format("Order: {} (seed {}); caches dropped before each fileio run: {}",
                              json_text(results.if_contains("order")), json_text(results.if_contains("seed")),
                              results.contains("drop_caches") && results.at("drop_caches").is_bool() &&
                                      results.at("drop_caches").get_bool()
                                  ? "yes"
                                  : "no"));
  std::vector<std::string> storage;
  for (auto& p : a.platforms)
    if (auto* info = a.platform_info(p); info && info->contains("fileio_storage"))
      storage.push_back(p + ": " + json_text(info->if_contains("fileio_storage")));
  if (!storage.empty())
    facts.push_back("fileio storage: " + join(storage, "; "));
  doc.push_back(bullets(std::move(facts)));
  add_summary(doc, results, a);
  add_matrix(doc, a);
  add_charts(doc, a);
  add_platforms(doc, results, a);
  add_iteration_tables(doc, a);
  add_cpu_split(doc, a);
  add_cache_drops(doc, a);
  doc.push_back({ReportBlock::Kind::heading, 2, "Methodology", {}, {}, {}});
  doc.push_back({ReportBlock::Kind::bullets, 2, {}, methodology_items(results), {}, {}});
  return doc;
}

std::string render_markdown_doc(const ReportDoc& doc) {
  std::string md;
  for (std::size_t k = 0; k < doc.size(); ++k) {
    auto& b = doc[k];
    switch (b.kind) {
    case ReportBlock::Kind::heading: {
      // Markdown has no charts: a heading over charts only is left out.
      bool has_text = false, has_chart = false;
      for (std::size_t j = k + 1; j < doc.size(); ++j) {
        if (doc[j].kind == ReportBlock::Kind::heading && doc[j].level <= b.level)
          break;
        (doc[j].kind == ReportBlock::Kind::chart ? has_chart : has_text) = true;
        if (doc[j].kind == ReportBlock::Kind::heading)
          has_text = false; // a sub-heading alone is not content
      }
      if (has_chart && !has_text)
        break;
      md += std::string(static_cast<std::size_t>(b.level), '#') + " " + b.text + "\n\n";
      break;
    }
    case ReportBlock::Kind::paragraph:
      md += b.text + "\n\n";
      break;
    case ReportBlock::Kind::bullets:
      for (auto& i : b.items)
        md += "- " + i + "\n";
      md += "\n";
      break;
    case ReportBlock::Kind::table: {
      auto& t = b.table;
      md += "|";
      for (auto& h : t.header)
        md += " " + md_cell(h) + " |";
      md += "\n|";
      for (std::size_t i = 0; i < t.header.size(); ++i)
        md += i < t.align.size() && t.align[i] == 'r' ? "---:|" : "---|";
      md += "\n";
      for (auto& row : t.rows) {
        md += "|";
        for (auto& c : row)
          md += " " + md_cell(c) + " |";
        md += "\n";
      }
      md += "\n";
      break;
    }
    case ReportBlock::Kind::chart:
      break; // charts are drawn in report.html only
    }
  }
  return md;
}

std::string render_markdown(const object& results) { return render_markdown_doc(build_report(results)); }

} // namespace virtbench
