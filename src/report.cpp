#include "report.hpp"

#include "catalog.hpp"
#include "stats.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <map>

namespace virtbench {

namespace {

std::string str(const boost::json::value* v) {
  if (!v)
    return "";
  if (v->is_string())
    return std::string(v->get_string());
  return boost::json::serialize(*v);
}

std::string number(double v) {
  if (std::abs(v) >= 1000)
    return fmt::format("{:.1f}", v);
  if (std::abs(v) >= 10)
    return fmt::format("{:.2f}", v);
  return fmt::format("{:.3g}", v);
}

} // namespace

std::string render_markdown(const boost::json::object& results) {
  std::string md;
  auto& suite = results.at("suite").as_object();
  auto& host = results.at("host").as_object();
  md += fmt::format("# virtbench report: suite `{}`\n\n", str(suite.if_contains("name")));
  md += fmt::format("- Host: {} ({} CPUs, {:.1f} GiB), kernel {}\n", str(host.if_contains("cpu_model")),
                    str(host.if_contains("cpus")),
                    host.contains("memory_bytes") ? host.at("memory_bytes").to_number<double>() / (1u << 30) : 0.0,
                    str(host.if_contains("kernel")));
  md += fmt::format("- virtbench {}, started {}, finished {}{}\n", str(results.if_contains("virtbench_version")),
                    str(results.if_contains("started_at")), str(results.if_contains("finished_at")),
                    results.contains("interrupted") && results.at("interrupted").as_bool() ? " (interrupted)" : "");
  md += fmt::format("- Order: {} (seed {}); caches dropped before each fileio run: {}\n\n",
                    str(results.if_contains("order")), str(results.if_contains("seed")),
                    results.contains("drop_caches") && results.at("drop_caches").as_bool() ? "yes" : "no");

  md += "## Platforms\n\n";
  for (auto& pv : results.at("platforms").as_array()) {
    auto& p = pv.as_object();
    md += fmt::format("- **{}**:", str(p.if_contains("name")));
    for (auto& [k, v] : p)
      if (k != "name")
        md += fmt::format(" {}={};", std::string(k), str(&v));
    md += "\n";
  }
  md += "\n";

  auto& runs = results.at("runs").as_array();
  for (auto& pv : results.at("platforms").as_array()) {
    auto platform = str(pv.as_object().if_contains("name"));
    for (auto& ev : suite.at("experiments").as_array()) {
      auto& exp = ev.as_object();
      auto name = str(exp.if_contains("name"));
      std::map<int, const boost::json::object*> iterations;
      for (auto& rv : runs) {
        auto& r = rv.as_object();
        if (str(r.if_contains("platform")) == platform && str(r.if_contains("experiment")) == name && !r.contains("warmup"))
          iterations[static_cast<int>(r.at("iteration").to_number<double>())] = &r;
      }
      if (iterations.empty())
        continue;
      std::string args;
      for (auto& a : exp.at("args").as_array())
        args += " " + str(&a);
      md += fmt::format("## {} — {}\n\n`sysbench {}{} run`\n\n", platform, name, str(exp.if_contains("workload")), args);
      md += "| metric |";
      for (auto& [i, r] : iterations)
        md += fmt::format(" {} |", i);
      md += " mean | std dev |\n|---|";
      for (std::size_t i = 0; i < iterations.size(); ++i)
        md += "---:|";
      md += "---:|---:|\n";
      for (auto& m : metric_catalog()) {
        std::vector<double> values;
        std::string row = fmt::format("| {} |", m.label);
        for (auto& [i, r] : iterations) {
          if (auto v = metric_value(*r, m.path)) {
            values.push_back(*v);
            row += " " + number(*v) + " |";
          } else {
            row += r->contains("error") ? " failed |" : " – |";
          }
        }
        if (values.empty())
          continue;
        auto s = describe_sample(values);
        row += fmt::format(" {} | {} |\n", number(s.mean), s.n > 1 ? number(s.stddev) : std::string("–"));
        md += row;
      }
      for (auto& [i, r] : iterations)
        if (r->contains("error"))
          md += fmt::format("\nIteration {} failed: {}\n", i, str(r->if_contains("error")));
      md += "\n";
    }
  }
  return md;
}

} // namespace virtbench
