#include "methodology.hpp"

#include "registry.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

namespace virtbench {

namespace {

// Tolerant readers: a results.json from elsewhere may lack a field or hold another type;
// the section then says less instead of failing the report.
const boost::json::object& object_of(const boost::json::value* v) {
  static const boost::json::object k_empty;
  return v && v->is_object() ? v->get_object() : k_empty;
}

const boost::json::array& array_of(const boost::json::value* v) {
  static const boost::json::array k_empty;
  return v && v->is_array() ? v->get_array() : k_empty;
}

bool true_at(const boost::json::object& o, const char* key) {
  auto* v = o.if_contains(key);
  return v && v->is_bool() && v->get_bool();
}

std::string text(const boost::json::value* v) {
  if (!v)
    return {};
  return v->is_string() ? std::string(v->get_string()) : boost::json::serialize(*v);
}

double number(const boost::json::value* v) { return v && v->is_number() ? v->to_number<double>() : 0; }

// How many rounds each experiment of an adaptive run (--target-ci) took, and why it stopped.
std::string adaptive_item(const boost::json::object& a) {
  double target = number(a.if_contains("target_ci_pct"));
  std::string limit = a.contains("max_iterations") ? fmt::format("{} measured rounds", text(a.if_contains("max_iterations")))
                                                   : "3 × its planned iterations";
  std::string each;
  if (auto* e = a.if_contains("experiments"); e && e->is_object()) {
    for (auto& [name, v] : object_of(e)) {
      if (!v.is_object())
        continue;
      auto& x = object_of(&v);
      std::string widths;
      if (auto* w = x.if_contains("half_width_pct"); w && w->is_object())
        for (auto& [platform, h] : object_of(w))
          widths += fmt::format("{}{} {}", widths.empty() ? "" : ", ", std::string(platform),
                                h.is_number() ? fmt::format("±{:.2f}%", h.to_number<double>()) : std::string("unknown"));
      each += fmt::format("{}{} took {} of {} planned, up to {} ({}{})", each.empty() ? "" : "; ", std::string(name),
                          text(x.if_contains("rounds")), text(x.if_contains("planned")),
                          text(x.if_contains("max_iterations")),
                          x.contains("stopped") ? text(x.if_contains("stopped")) : std::string("still running"),
                          widths.empty() ? "" : ": " + widths);
    }
  }
  return fmt::format("**Adaptive iterations** (`--target-ci {:g}`): after an experiment's planned rounds, another "
                     "interleaved round (platforms shuffled from the seed) was added while a platform still running had "
                     "a 95% interval of the mean of its headline metric wider than ±{:g}% (on the log scale: t · cv / "
                     "√n) of that mean, up to {}; failed platforms did not count. Rounds per experiment and why they stopped, with the "
                     "last half-widths: {}.",
                     target, target, limit, each.empty() ? "none recorded" : each);
}

// Each platform entry's driver by its name ("platform" of a matrix variant; the name itself before).
using DriverNames = std::map<std::string, std::string>;

std::string driver_of(const DriverNames& drivers, const std::string& name) {
  auto it = drivers.find(name);
  return it == drivers.end() ? name : it->second;
}

// " (qemu: QMP `stop`; docker: Engine API `pause`)" for the platforms that are frozen.
std::string freeze_methods(const std::vector<std::string>& platforms, const DriverNames& drivers) {
  std::string out;
  for (auto& p : platforms)
    if (driver_of(drivers, p) != "native")
      out += fmt::format("{}{}: {}", out.empty() ? "" : "; ", p, methodology_facts(driver_of(drivers, p)).freeze);
  return out.empty() ? out : " (" + out + ")";
}

// How a matrix run's variants were measured: how many, and the batches (--max-live).
std::string matrix_item(const boost::json::object& r, const std::vector<std::string>& listed, const DriverNames& drivers) {
  std::map<std::string, int> variants; // driver -> variants
  for (auto& pv : array_of(r.if_contains("platforms")))
    if (object_of(&pv).contains("variant"))
      ++variants[text(object_of(&pv).if_contains("platform"))];
  if (variants.empty())
    return {};
  std::string counts;
  for (auto& [driver, n] : variants)
    counts += fmt::format("{}{} variants of {}", counts.empty() ? "" : ", ", n, driver);
  std::string item = fmt::format("**Matrix**: {}, each its own VM or container, named by the axes that vary; "
                                 "\"× default\" compares a variant with its platform's default variant.",
                                 counts);
  auto& batches = array_of(r.if_contains("batches"));
  auto& max_live = object_of(r.if_contains("max_live"));
  if (batches.size() > 1) {
    std::string each;
    for (auto& bv : batches) {
      auto& b = object_of(&bv);
      std::string names;
      for (auto& n : array_of(b.if_contains("platforms")))
        names += (names.empty() ? "" : ", ") + text(&n);
      each += fmt::format("{}batch {}: {}", each.empty() ? "" : "; ", text(b.if_contains("batch")), names);
    }
    std::string always;
    for (auto& p : listed)
      if (auto* d = find_driver(driver_of(drivers, p)); d && !d->isolated)
        always += (always.empty() ? "" : ", ") + p;
    item += fmt::format(" At most {} VMs and containers were up at once ({}), so the variants ran in {} batches, one "
                        "after another, in the order listed; each batch's platforms were started together and "
                        "interleaved round by round{}, and the previous batch's VMs and containers were stopped "
                        "before the next one started ({}). × native compares each variant with the native iterations "
                        "of its own batch.",
                        text(max_live.if_contains("value")), text(max_live.if_contains("reason")), batches.size(),
                        always.empty() ? "" : " with " + always + " (each batch's own baseline)", each);
  } else if (!max_live.empty()) {
    item += fmt::format(" Every variant was up at once (at most {} allowed: {}).", text(max_live.if_contains("value")),
                        text(max_live.if_contains("reason")));
  }
  return item;
}

// "the host (native, docker); the guest and the host (qemu, libvirt)": one fact of each
// platform's driver, platforms with the same words together.
std::string per_platform(const std::vector<std::string>& platforms, const DriverNames& drivers,
                         std::string MethodologyFacts::*fact) {
  std::vector<std::pair<std::string, std::string>> groups; // words, platforms
  for (auto& p : platforms) {
    auto words = methodology_facts(driver_of(drivers, p)).*fact;
    auto it = std::find_if(groups.begin(), groups.end(), [&](auto& g) { return g.first == words; });
    if (it == groups.end())
      groups.push_back({words, p});
    else
      it->second += ", " + p;
  }
  std::string out;
  for (auto& [words, names] : groups)
    out += fmt::format("{}{} ({})", out.empty() ? "" : "; ", words, names);
  return out;
}

} // namespace

std::vector<std::string> methodology_items(const boost::json::object& r) {
  std::vector<std::string> items;
  auto& runs = array_of(r.if_contains("runs"));
  auto& suite = object_of(r.if_contains("suite"));

  // Order.
  auto order = text(r.if_contains("order"));
  std::map<std::string, std::vector<std::string>> round_orders; // "exp/round" -> platforms in order
  for (auto& v : runs) {
    auto& run = object_of(&v);
    round_orders[text(run.if_contains("experiment")) + "/" + text(run.if_contains("round"))].push_back(
        text(run.if_contains("platform")));
  }
  std::set<std::vector<std::string>> distinct;
  for (auto& [k, platforms] : round_orders)
    if (platforms.size() > 1)
      distinct.insert(platforms);
  std::vector<std::string> listed; // results.json's platforms, in its order
  DriverNames drivers;
  for (auto& p : array_of(r.if_contains("platforms")))
    if (auto name = text(object_of(&p).if_contains("name")); !name.empty()) {
      listed.push_back(name);
      if (auto* d = object_of(&p).if_contains("platform"); d && d->is_string())
        drivers[name] = std::string(d->get_string());
    }
  std::set<std::string> run_platforms;
  for (auto& v : runs)
    run_platforms.insert(text(object_of(&v).if_contains("platform")));
  if (run_platforms.size() < 2)
    items.push_back("**Order**: one platform, so there was nothing to interleave; iterations ran experiment by "
                    "experiment.");
  else if (order == "interleaved")
    items.push_back(fmt::format("**Order**: interleaved. Every platform was started first (all at once, then each one's "
                      "channel measured alone); then, experiment by experiment and "
                      "round by round, each platform ran one iteration in a shuffled order (seed {}, {} distinct "
                      "orders over {} rounds) while the others were frozen{}, so drift "
                      "over time spreads evenly over the platforms.",
                      text(r.if_contains("seed")), distinct.size(), round_orders.size(), freeze_methods(listed, drivers)));
  else
    items.push_back("**Order**: grouped: all of one platform's iterations, then the next platform's, as the assignment "
                    "did (drift over time then falls on whole platforms).");
  items.push_back("**Iterations** never overlap (the assignment's script started five sysbench processes at once).");
  if (auto* a = r.if_contains("adaptive"); a && a->is_object())
    items.push_back(adaptive_item(object_of(a)));
  if (auto m = matrix_item(r, listed, drivers); !m.empty())
    items.push_back(m);

  // Warm-ups.
  std::string warm;
  for (auto& e : array_of(suite.if_contains("experiments"))) {
    auto& exp = object_of(&e);
    warm += fmt::format("{}{} {}", warm.empty() ? "" : ", ", text(exp.if_contains("name")), text(exp.if_contains("warmup")));
  }
  items.push_back(fmt::format("**Warm-up** iterations, run and recorded but left out of every statistic: {}.", warm));

  // Cache drops.
  if (true_at(r, "drop_caches")) {
    std::map<std::string, std::pair<int, int>> verified; // where -> (verified, total)
    std::uint64_t max_after_host = 0;
    for (auto& v : runs) {
      auto* drops = object_of(&v).if_contains("cache_drops");
      if (!drops)
        continue;
      for (auto& d : array_of(drops)) {
        auto& o = object_of(&d);
        if (auto* h = o.if_contains("holds_data_set"); h && h->is_bool() && !h->get_bool())
          continue; // recorded, but that cache never held the files (QEMU with cache=none)
        auto& [ok, total] = verified[text(o.if_contains("where"))];
        ++total;
        if (true_at(o, "verified"))
          ++ok;
        if (text(o.if_contains("where")) == "host")
          max_after_host = std::max<std::uint64_t>(max_after_host, static_cast<std::uint64_t>(number(o.if_contains("cached_after_kib"))));
      }
    }
    std::string where;
    for (auto& [w, c] : verified)
      where += fmt::format("{}{}: {} of {} drops verified", where.empty() ? "" : "; ", w, c.first, c.second);
    items.push_back(fmt::format("**Caches**: the data set is written by an untimed `prepare` once per experiment and "
                      "platform and removed after its last iteration (the next experiment keeps it when it would write "
                      "the same files: `data_set_from` in its first run says so); before every fileio run, `sync` then "
                      "`3 > /proc/sys/vm/drop_caches` (page cache, dentries and inodes) where the I/O is cached: {}. "
                      "`Cached:` in /proc/meminfo is read before and after each drop, and `fincore` on the data set's "
                      "files says how much of it is still cached; a drop counts as verified when at most 1% of the data "
                      "set is ({}).",
                      per_platform(listed, drivers, &MethodologyFacts::cache_drop), where.empty() ? "no fileio runs" : where));
  } else {
    items.push_back("**Caches** were not dropped (`--no-drop-caches`): fileio figures include a warm page cache.");
  }

  // Per platform: storage, accelerator, channel.
  for (auto& pv : array_of(r.if_contains("platforms"))) {
    auto& p = object_of(&pv);
    auto name = text(p.if_contains("name"));
    std::string line = fmt::format("**{}**:", name);
    if (auto* a = p.if_contains("accel"))
      line += fmt::format(" accelerator {} ({});", text(a), text(p.if_contains("accel_reason")));
    if (auto* s = p.if_contains("fileio_storage"))
      line += fmt::format(" fileio files on {};", text(s));
    if (auto* c = p.if_contains("channel_overhead"); c && c->is_object()) {
      auto& co = object_of(c);
      line += fmt::format(" launching a no-op command through its channel took {:.2f} ms (median of {}, p90 {:.2f} ms), "
                          "which every wall-clock figure includes and sysbench's own figures do not;",
                          number(co.if_contains("median_ms")), text(co.if_contains("n")), number(co.if_contains("p90_ms")));
    }
    double frozen_max = -1;
    for (auto& v : runs)
      if (auto* x = object_of(object_of(object_of(&v).if_contains("cpu")).if_contains("frozen_platforms_cpu_pct")).if_contains(name))
            frozen_max = std::max(frozen_max, number(x));
    if (frozen_max >= 0)
      line += fmt::format(" while frozen it used at most {:.2f}% of one host CPU;", frozen_max);
    if (auto* e = p.if_contains("error"))
      line += fmt::format(" FAILED: {};", text(e));
    if (line.back() == ';')
      line.back() = '.';
    else
      line += " no further facts recorded.";
    items.push_back(line);
  }

  items.push_back(
      "**Intervals** are 95% and, for positive figures (throughput, latency), computed on the log scale: the mean × "
      "e^(±t · CV / √n) (the delta method for log of the mean), and for a ratio to native e^(±t · √(CV₁²/n₁ + CV₂²/n₂)) "
      "with Welch–Satterthwaite degrees of freedom. These figures cannot be 0 or negative and their noise is "
      "multiplicative (a slower moment slows every operation by a factor), so an interval symmetric in ratio fits them: "
      "it never reaches 0, where Student t on raw values did for noisy runs (qemu fileio once read 741.98 "
      "(−438.17–1922.1) reads/s), and a ratio always has an interval with two or more iterations a side, where "
      "Fieller's has none once the denominator's interval reaches 0. For small CVs both agree with Student t and "
      "Fieller to a fraction of a percent. A bootstrap would need far more than 5 iterations to be stable, and it "
      "would depend on a seed. Figures with zeros or negative values keep Student t (and Fieller for ratios).");
  items.push_back(fmt::format("**CPU split**: /proc/stat sampled every {} ms during each run on the host (and in the guest "
                    "through the agent); user = user + nice, kernel = system + irq + softirq, as percentages of all "
                    "CPU time over the run. \"process\" figures are {}, as the host charged them.",
                    text(r.if_contains("sample_interval_ms")), per_platform(listed, drivers, &MethodologyFacts::process_cpu)));
  if (auto* w = r.if_contains("warnings"); w && w->is_array())
    for (auto& x : array_of(w))
      items.push_back("**Warning**: " + text(&x));
  items.push_back(fmt::format("**Provenance**: virtbench {}, command `{}`.", text(r.if_contains("virtbench_version")), [&] {
    std::string c;
    if (auto* cmd = r.if_contains("command"); cmd && cmd->is_array())
      for (auto& a : array_of(cmd))
        c += (c.empty() ? "" : " ") + text(&a);
    return c;
  }()));
  return items;
}

} // namespace virtbench
