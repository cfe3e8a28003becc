#include "compare.hpp"

#include "registry.hpp"
#include "report_model.hpp"
#include "results.hpp"
#include "util/error.hpp"
#include "util/xml.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

namespace virtbench {

namespace {

// "More than T% worse" on the log scale, as the displayed change reads it: a throughput
// below (1 − T) times the base, a latency above (1 + T) times.
double worse_threshold(const MetricDef& def, const CompareOptions& o) {
  double t = std::min(o.max_regression_pct / 100, 0.999);
  return def.higher_is_better ? -std::log1p(-t) : std::log1p(t);
}

// The shown interval: two-sided 1 − 2·alpha, so that each end is a one-sided 1 − alpha
// bound, the bound of the one-sided test at alpha in that direction (98% at alpha 0.01).
double interval_confidence(const CompareOptions& o) { return 1 - 2 * o.alpha; }

// Whether the figure moved the worse way (log change, candidate over base).
bool moved_worse(const MetricDef& def, double log_change) {
  return def.higher_is_better ? log_change < 0 : log_change > 0;
}

} // namespace

std::string decide_verdict(const MetricDef& def, double log_change, double log_low, double log_high,
                           double p_adjusted, const CompareOptions& options) {
  double threshold = worse_threshold(def, options);
  // "worse" on the log scale: positive when the candidate is worse.
  double sign = def.higher_is_better ? -1 : 1;
  double worse = sign * log_change;
  double worst = std::max(sign * log_low, sign * log_high); // the interval's worse end
  bool significant = p_adjusted < options.alpha;
  if (significant && worse > threshold)
    return verdict::regressed;
  if (significant && -worse > threshold)
    return verdict::improved;
  if (worst > threshold)
    return verdict::undecided;
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
  if (!(r.ratio.estimate > 0))
    return r.base.n && r.cand.n && r.base.mean == r.cand.mean ? "+0.0%" : "–";
  return signed_pct(100 * (r.ratio.estimate - 1));
}

std::string ci_text(const MetricChange& r) {
  if (!r.ratio.bounded)
    return "–";
  return "[" + signed_pct(100 * (r.ratio.low - 1)) + ", " + signed_pct(100 * (r.ratio.high - 1)) + "]";
}


} // namespace

namespace {

// Informative metrics (CPU accounting): raw values, Welch's t-test, no family, no drift.
void compare_informative(MetricChange& row, const MetricSeries& bm, const MetricSeries& cm, const CompareOptions& o) {
  row.ratio = ratio_interval(cm.values, bm.values, interval_confidence(o));
  double change_pct = row.base.mean != 0 ? 100 * (row.cand.mean / row.base.mean - 1) : 0;
  // One-sided in the direction it moved, as the performance metrics' tests.
  row.test = welch_t_test(bm.values, cm.values, change_pct > 0 ? Alternative::greater : Alternative::less);
  row.p = row.test.valid ? row.test.p : NAN;
  if (row.base.n < 2 || row.cand.n < 2)
    row.verdict = verdict::insufficient;
  else if (!row.test.valid)
    row.verdict = row.base.mean == row.cand.mean ? verdict::no_change : verdict::insufficient;
  else if (row.test.p >= o.alpha || std::abs(change_pct) <= o.max_regression_pct)
    row.verdict = verdict::no_change;
  else
    row.verdict = change_pct > 0 ? verdict::higher : verdict::lower;
}

std::string pct_of_log_sd(double var) { return fmt::format("±{:.1f}%", 100 * std::expm1(std::sqrt(var))); }

// How many iterations per run would likely decide an undecided metric: the interval's
// half-width must shrink to the distance between the change and the threshold; the
// drift between runs does not shrink with iterations.
void advise(MetricChange& row, double log_change, const CompareOptions& o, bool against_history) {
  double threshold = worse_threshold(*row.def, o);
  double sign = row.def->higher_is_better ? -1 : 1;
  double margin = std::abs(threshold - sign * log_change);
  double t = t_critical(row.df, interval_confidence(o)); // the interval's worse end: a one-sided bound
  double needed = (margin / t) * (margin / t);
  if (margin < 1e-3) {
    row.advice = "the change is at the threshold: no number of iterations decides it";
    return;
  }
  if (needed <= row.between_var) {
    row.advice = fmt::format("the drift between runs ({}) alone is wider than the margin: more iterations will not "
                             "decide it{}",
                             pct_of_log_sd(row.between_var),
                             against_history ? "" : "; compare with --against history (more runs)");
    return;
  }
  double scale = row.within_var / (needed - row.between_var);
  auto n = static_cast<double>(row.cand.n);
  double more = std::ceil(n * scale);
  if (more > 1000) {
    row.advice = "more than 1000 iterations per run would be needed";
    return;
  }
  row.more_iterations = static_cast<std::size_t>(std::max(more, n + 1));
  row.advice = fmt::format("about {} iterations per run would likely decide it (now {})", row.more_iterations, row.cand.n);
}

// One performance metric: the figure on its basis, the noise model's variance, the test.
// `base` is one run, or null with `lookback` as the base distribution (--against history).
void compare_performance(MetricChange& row, const Analysis* base, const Analysis& cand, const Lookback* lookback,
                         const CompareOptions& o) {
  auto& exp = row.experiment;
  auto& platform = row.platform;
  std::string path(row.def->path);
  bool against_history = base == nullptr;
  Basis basis = Basis::absolute;
  if (o.native_ratio && platform != "native" && run_figure(cand, exp, platform, path, Basis::native_ratio) &&
      (against_history ? lookback->spread(exp, platform, path, Basis::native_ratio).has_value()
                       : run_figure(*base, exp, platform, path, Basis::native_ratio).has_value()))
    basis = Basis::native_ratio;
  row.basis = basis;
  auto fc = run_figure(cand, exp, platform, path, basis);
  std::optional<RunFigure> fb;
  std::optional<Spread> history;
  if (lookback)
    history = lookback->spread(exp, platform, path, basis);
  if (!against_history)
    fb = run_figure(*base, exp, platform, path, basis);
  if (!fc || (against_history ? !history : !fb)) {
    bool equal = !against_history && row.base.n && row.cand.n && row.base.min == row.base.max &&
                 row.cand.min == row.cand.max && row.base.mean == row.cand.mean;
    row.verdict = equal ? verdict::no_change : verdict::insufficient;
    if (!equal && ((row.base.n && row.base.min <= 0) || (row.cand.n && row.cand.min <= 0)))
      row.advice = "a value is not positive, so there is no log-scale comparison";
    return;
  }
  if (fc->n < 2 || (fb && fb->n < 2)) {
    row.verdict = verdict::insufficient;
    row.advice = "one iteration: run two or more";
    return;
  }
  double change = fc->log_value - (fb ? fb->log_value : history->mean_log);
  // Variance components: (value, degrees of freedom).
  std::vector<std::pair<double, double>> parts = {{fc->within_var, fc->df}};
  if (fb)
    parts.push_back({fb->within_var, fb->df});
  row.within_var = fc->within_var + (fb ? fb->within_var : 0);
  double k = history ? static_cast<double>(history->runs) : 0;
  if (o.noise == NoiseModel::iterations && !against_history) {
    row.noise = "iterations";
  } else if (history) {
    // Each run's figure is one draw from the distribution of runs, whose variance s² the
    // lookback estimates (k − 1 degrees of freedom; iteration noise included, so no
    // subtraction that could leave 0 by chance). A vs B: 2 s²; against history: s² for
    // the candidate and s²/k for the lookback's mean. Never less than what these runs'
    // own iterations say.
    double s2 = history->var_log;
    double own = against_history ? fc->within_var : row.within_var;
    double runs_var = against_history ? s2 : 2 * s2;
    double total = std::max(runs_var, own) + (against_history ? s2 / k : 0);
    row.between_var = total - row.within_var;
    if (runs_var >= own)
      parts = {{total, k - 1}};
    else if (against_history)
      parts.push_back({s2 / k, k - 1});
    row.noise = fmt::format("history ({} runs)", history->runs);
    row.base_runs = against_history ? history->runs : 1;
  } else if (basis == Basis::native_ratio) {
    row.noise = "iterations";
  } else {
    row.noise = "unknown";
    row.ratio.estimate = std::exp(change);
    row.ratio.why_unbounded = "no earlier runs of this series to measure the drift between runs";
    row.verdict = verdict::noise_unknown;
    row.advice = "run `virtbench calibrate` on this host to measure the drift between runs, or pass --noise iterations "
                 "(assumes none; overconfident)";
    return;
  }
  double var = row.between_var + row.within_var;
  double den = 0;
  for (auto& [v, df] : parts)
    if (v > 0 && df > 0 && std::isfinite(df))
      den += v * v / df;
  row.df = den > 0 ? var * var / den : std::numeric_limits<double>::infinity();
  row.ratio.estimate = std::exp(change);
  if (!(var > 0)) {
    row.verdict = change == 0 ? verdict::no_change : verdict::insufficient;
    row.ratio.why_unbounded = "no variation on either side";
    row.advice = change == 0 ? "" : "the values do not vary, so there is no scale for the change";
    return;
  }
  // One-sided tests, one each way: "worse" for the regressed family, "better" for the
  // improved one (finish_verdicts); row.p is the one in the direction the figure moved.
  double se = std::sqrt(var);
  bool worse = moved_worse(*row.def, change);
  auto worse_way = row.def->higher_is_better ? Alternative::less : Alternative::greater;
  auto better_way = row.def->higher_is_better ? Alternative::greater : Alternative::less;
  auto t_worse = t_test_of(change, se, row.df, worse_way);
  auto t_better = t_test_of(change, se, row.df, better_way);
  row.test = worse ? t_worse : t_better;
  row.p_worse = t_worse.p;
  row.p_better = t_better.p;
  if (o.test == TestKind::mann_whitney) {
    auto& base_iterations = fb ? fb->log_iterations : history->log_iterations;
    auto rank_worse = mann_whitney_u(base_iterations, fc->log_iterations, worse_way);
    auto rank_better = mann_whitney_u(base_iterations, fc->log_iterations, better_way);
    row.rank = worse ? rank_worse : rank_better;
    // With drift between runs a rank test on iterations is overconfident: require both
    // (an intersection–union test keeps the level).
    bool both = row.between_var > 0;
    row.p_worse = both ? std::max(rank_worse.p, t_worse.p) : rank_worse.p;
    row.p_better = both ? std::max(rank_better.p, t_better.p) : rank_better.p;
  }
  row.p = worse ? row.p_worse : row.p_better;
  double half = t_critical(row.df, interval_confidence(o)) * se;
  row.ratio.low = std::exp(change - half);
  row.ratio.high = std::exp(change + half);
  row.ratio.bounded = true;
}

void finish_verdicts(Comparison& c, const CompareOptions& o, bool against_history) {
  // Two families over the same metrics: "not worse" hypotheses (their one-sided p towards
  // worse; a rejection is "regressed", the exit code) and "not better" ones ("improved").
  // Holm in each keeps the chance of any false "regressed" at alpha. Weighted: the
  // headline metrics share --headline-weight of the weight, the others the rest.
  std::vector<std::size_t> family;
  std::vector<double> worse_ps, better_ps;
  std::size_t headlines = 0;
  for (std::size_t i = 0; i < c.rows.size(); ++i)
    if (c.rows[i].def->performance && c.rows[i].verdict.empty() && std::isfinite(c.rows[i].p)) {
      family.push_back(i);
      worse_ps.push_back(c.rows[i].p_worse);
      better_ps.push_back(c.rows[i].p_better);
      headlines += c.rows[i].headline;
    }
  std::size_t others = family.size() - headlines;
  std::vector<double> weights;
  for (auto i : family) {
    double w = headlines && others ? (c.rows[i].headline ? o.headline_weight / static_cast<double>(headlines)
                                                         : (1 - o.headline_weight) / static_cast<double>(others))
                                   : 1.0 / static_cast<double>(family.size());
    c.rows[i].weight = w;
    weights.push_back(w);
  }
  auto adjusted_worse = adjust_p_values(worse_ps, o.correction, weights);
  auto adjusted_better = adjust_p_values(better_ps, o.correction, weights);
  c.family = family.size();
  c.family_headlines = headlines;
  for (std::size_t k = 0; k < family.size(); ++k) {
    auto& row = c.rows[family[k]];
    double change = std::log(row.ratio.estimate);
    row.p_adjusted = moved_worse(*row.def, change) ? adjusted_worse[k] : adjusted_better[k];
    row.verdict = decide_verdict(*row.def, change, std::log(row.ratio.low), std::log(row.ratio.high), row.p_adjusted, o);
    if (row.verdict == verdict::undecided)
      advise(row, change, o, against_history);
  }
  bool unknown = false;
  for (auto& row : c.rows) {
    if (row.verdict == verdict::regressed)
      ++c.regressions;
    if (row.verdict == verdict::undecided || row.verdict == verdict::noise_unknown)
      ++c.undecided;
    unknown = unknown || row.verdict == verdict::noise_unknown;
  }
  if (unknown)
    c.notes.push_back("noise unknown: absolute figures (native's, or every platform's with --no-native-ratio) need "
                      "earlier runs of the same series on this host to measure the drift between runs; run `virtbench "
                      "calibrate` (A/A runs into the history), or pass --noise iterations to assume no drift");
}

MetricChange new_row(const std::string& exp, const std::string& platform, const MetricDef& def) {
  MetricChange row;
  row.experiment = exp;
  row.platform = platform;
  row.def = &def;
  return row;
}

} // namespace

Comparison compare_results(const boost::json::object& base_doc, const boost::json::object& cand_doc,
                           const CompareOptions& options, const Lookback* lookback) {
  auto base = analyze_by_params(base_doc);
  auto cand = analyze_by_params(cand_doc);
  check_same_suite(base, cand);
  Comparison c;
  // Variants match on their driver and every parameter: an axis only one run varied is
  // said, and those variants stay unmatched rather than guessed.
  auto base_axes = variant_axes(base_doc), cand_axes = variant_axes(cand_doc);
  for (auto& [driver, axes] : base_axes) {
    auto it = cand_axes.find(driver);
    std::vector<std::string> only_base, only_cand;
    for (auto& a : axes)
      if (it == cand_axes.end() || std::find(it->second.begin(), it->second.end(), a) == it->second.end())
        only_base.push_back(a);
    if (it != cand_axes.end())
      for (auto& a : it->second)
        if (std::find(axes.begin(), axes.end(), a) == axes.end())
          only_cand.push_back(a);
    if (!only_base.empty())
      c.notes.push_back(fmt::format("{}: parameter {} only in BASE's variants; variants are matched on all their "
                                    "parameters, so those differing in it are not compared",
                                    driver, fmt::join(only_base, ", ")));
    if (!only_cand.empty())
      c.notes.push_back(fmt::format("{}: parameter {} only in CANDIDATE's variants; variants are matched on all their "
                                    "parameters, so those differing in it are not compared",
                                    driver, fmt::join(only_cand, ", ")));
  }
  for (auto& [driver, axes] : cand_axes)
    if (!base_axes.contains(driver))
      c.notes.push_back(fmt::format("{}: parameter {} only in CANDIDATE's variants; variants are matched on all their "
                                    "parameters, so those differing in it are not compared",
                                    driver, fmt::join(axes, ", ")));
  c.lookback_runs = lookback ? lookback->run_ids().size() : 0;
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
        auto row = new_row(exp.name, p, def);
        row.headline = def.path == exp.headline;
        if (bm)
          row.base = describe_sample(bm->values, confidence);
        if (cm)
          row.cand = describe_sample(cm->values, confidence);
        if (!bm || !cm)
          row.verdict = verdict::insufficient;
        else if (!def.performance)
          compare_informative(row, *bm, *cm, options);
        else
          compare_performance(row, &base, cand, lookback, options);
        c.rows.push_back(std::move(row));
      }
    }
  }
  if (!any_common)
    throw UsageError("compare: the two runs share no platform with measured iterations; BASE has " +
                     fmt::format("{}", fmt::join(base.platforms, ", ")) + ", CANDIDATE has " +
                     fmt::format("{}", fmt::join(cand.platforms, ", ")));
  finish_verdicts(c, options, false);
  return c;
}

Comparison compare_with_history(const boost::json::object& cand_doc, const Lookback& lookback,
                                const CompareOptions& options) {
  auto cand = analyze_by_params(cand_doc);
  Comparison c;
  c.lookback_runs = lookback.run_ids().size();
  double confidence = 1 - options.alpha;
  for (auto& cell : cand.cells)
    for (auto& def : metric_catalog()) {
      if (!def.performance)
        continue;
      auto* cm = cell.metric(def.path);
      if (!cm)
        continue;
      std::string path(def.path);
      auto abs = lookback.spread(cell.experiment->name, cell.platform, path, Basis::absolute);
      auto row = new_row(cell.experiment->name, cell.platform, def);
      row.headline = def.path == cell.experiment->headline;
      row.cand = describe_sample(cm->values, confidence);
      if (abs) {
        row.base.n = abs->log_iterations.size();
        row.base.mean = std::exp(abs->mean_log); // geometric mean of the runs' means
      }
      compare_performance(row, nullptr, cand, &lookback, options);
      if (!abs && row.verdict == verdict::insufficient)
        row.advice = fmt::format("{} earlier runs of this series in the history; --against history needs {}",
                                 lookback.runs(cell.experiment->name, cell.platform, path, Basis::absolute),
                                 k_min_lookback_runs);
      c.rows.push_back(std::move(row));
    }
  finish_verdicts(c, options, true);
  if (c.family == 0)
    throw UsageError(fmt::format(
        "compare --against history: the history has fewer than {} earlier runs of this suite with the candidate's "
        "setup on this host ({} found); run `virtbench calibrate` to record some, or compare with --against last",
        k_min_lookback_runs, lookback.run_ids().size()));
  return c;
}

std::string lookback_mismatch(const boost::json::object& earlier, const boost::json::object& candidate) {
  auto a = analyze_by_params(earlier);
  auto b = analyze_by_params(candidate);
  try {
    check_same_suite(a, b);
  } catch (const UsageError&) {
    return "a different suite";
  }
  auto diffs = fingerprint_differences(earlier, candidate);
  return diffs.empty() ? "" : diffs.front();
}

namespace {

std::string correction_name(Correction c) {
  return c == Correction::holm ? "Holm" : c == Correction::bh ? "Benjamini–Hochberg" : "no";
}

std::string method_text(const CompareOptions& o) {
  std::string weighting = o.correction == Correction::none
                              ? ""
                              : fmt::format(", weighted: headline metrics {:g}% of the weight", 100 * o.headline_weight);
  return fmt::format(
      "A performance metric regressed when it is more than {:g}% worse with {}one-sided p < {:g} (towards worse; {} "
      "correction across the call's metrics{}; {} test{}). {}; the noise between runs comes from {}. CI: the {:g}% "
      "interval of the change (each end a one-sided {:g}% bound).",
      o.max_regression_pct, o.correction == Correction::none ? "" : "adjusted ", o.alpha, correction_name(o.correction),
      weighting, o.test == TestKind::welch ? "a t" : "Mann–Whitney U and t",
      o.test == TestKind::welch ? " on the log scale" : ", both must agree when runs drift",
      o.native_ratio ? "docker, qemu and libvirt are compared on their ratio to native measured in the same rounds"
                     : "every platform is compared on its absolute figures (--no-native-ratio)",
      o.noise == NoiseModel::iterations ? "the iterations alone (--noise iterations: no drift assumed)"
                                        : "earlier runs in the history where it has them",
      100 * interval_confidence(o), 100 * (1 - o.alpha));
}

std::string p_value_text(double p) {
  if (!std::isfinite(p))
    return "–";
  return p < 0.0001 ? "<0.0001" : fmt::format("{:.4f}", p);
}

std::string basis_text(const MetricChange& r) {
  if (!r.def->performance)
    return "abs";
  return r.basis == Basis::native_ratio ? "×native" : "abs";
}

} // namespace

std::string render_comparison_text(const Comparison& c, const CompareOptions& options, const std::string& base_label,
                                   const std::string& cand_label) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"experiment", "platform", "metric", "n", "base mean", "cand mean", "basis", "change",
                  fmt::format("{:g}% CI", 100 * interval_confidence(options)), options.correction == Correction::none ? "p" : "p adj",
                  "noise", "verdict"});
  std::map<std::string, int> counts;
  std::vector<std::string> advice;
  std::size_t other_advice = 0;
  for (auto& r : c.rows) {
    double p = options.correction == Correction::none || !r.def->performance ? r.p : r.p_adjusted;
    rows.push_back({r.experiment, r.platform, std::string(r.def->label),
                    r.base_runs > 1 ? fmt::format("{}r/{}", r.base_runs, r.cand.n) : fmt::format("{}/{}", r.base.n, r.cand.n),
                    r.base.n ? format_number(r.base.mean) : "–", r.cand.n ? format_number(r.cand.mean) : "–",
                    basis_text(r), change_text(r), ci_text(r), p_value_text(p), r.noise.empty() ? "–" : r.noise, r.verdict});
    if (r.def->performance)
      ++counts[r.verdict];
    if (r.def->performance && !r.advice.empty() && r.verdict != verdict::noise_unknown) {
      if (r.headline)
        advice.push_back(fmt::format("{} / {} / {}: {}: {}", r.experiment, r.platform, r.def->label, r.verdict, r.advice));
      else
        ++other_advice;
    }
  }
  std::vector<std::size_t> width(rows[0].size(), 0);
  for (auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i)
      width[i] = std::max(width[i], display_width(row[i]));
  std::string out = fmt::format("BASE      {}\nCANDIDATE {}\n", base_label, cand_label);
  out += method_text(options) + "\n\n";
  std::string last_group;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    auto& row = rows[k];
    auto group = row[0] + "/" + row[1];
    if (k > 1 && group != last_group)
      out += "\n";
    last_group = group;
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      bool right = i == 3 || i == 4 || i == 5 || i == 7 || i == 8 || i == 9;
      auto pad = std::string(width[i] - display_width(row[i]), ' ');
      line += (i ? "  " : "") + (right ? pad + row[i] : row[i] + (i + 1 < row.size() ? pad : ""));
    }
    out += line + "\n";
  }
  if (!advice.empty() || other_advice)
    out += "\n";
  for (auto& a : advice)
    out += a + "\n";
  if (other_advice)
    out += fmt::format("({} other metrics are undecided or insufficient; --format json gives the advice for each)\n",
                       other_advice);
  for (auto& n : c.notes)
    out += "note: " + n + "\n";
  out += fmt::format("\nPerformance metrics: {} regressed, {} improved, {} no change, {} undecided, {} noise unknown, "
                     "{} insufficient data ({} tests in the family{}).\n",
                     counts[verdict::regressed], counts[verdict::improved], counts[verdict::no_change],
                     counts[verdict::undecided], counts[verdict::noise_unknown], counts[verdict::insufficient], c.family,
                     c.lookback_runs ? fmt::format("; {} earlier runs in the noise model", c.lookback_runs) : "");
  out += c.regressions ? "Verdict: REGRESSED (exit 1)\n"
         : c.undecided ? "Verdict: no regression found, some undecided (exit 0; 1 with --fail-on-undecided)\n"
                       : "Verdict: no regression (exit 0)\n";
  return out;
}

std::string render_comparison_json(const Comparison& c, const CompareOptions& options, const std::string& base_label,
                                   const std::string& cand_label) {
  boost::json::object o;
  o["base"] = base_label;
  o["candidate"] = cand_label;
  o["max_regression_pct"] = options.max_regression_pct;
  o["alpha"] = options.alpha;
  o["correction"] = options.correction == Correction::holm ? "holm" : options.correction == Correction::bh ? "bh" : "none";
  o["test"] = options.test == TestKind::welch ? "welch" : "mann-whitney";
  o["sides"] = "one-sided"; // p: towards the direction the figure moved
  o["headline_weight"] = options.headline_weight;
  o["interval_confidence"] = interval_confidence(options);
  o["noise"] = options.noise == NoiseModel::iterations ? "iterations" : "auto";
  o["native_ratio"] = options.native_ratio;
  o["family"] = c.family;
  o["family_headlines"] = c.family_headlines;
  o["lookback_runs"] = c.lookback_runs;
  o["regressed"] = c.regressions > 0;
  o["undecided"] = c.undecided;
  boost::json::array rows;
  for (auto& r : c.rows) {
    boost::json::object row{{"experiment", r.experiment},
                            {"platform", r.platform},
                            {"metric", r.def->path},
                            {"performance", r.def->performance},
                            {"headline", r.headline},
                            {"n_base", r.base.n},
                            {"n_candidate", r.cand.n},
                            {"verdict", r.verdict}};
    if (r.def->performance) {
      row["basis"] = basis_name(r.basis);
      row["noise"] = r.noise;
      row["base_runs"] = r.base_runs;
    }
    if (r.base.n)
      row["base_mean"] = r.base.mean;
    if (r.cand.n)
      row["candidate_mean"] = r.cand.mean;
    if (r.ratio.estimate > 0)
      row["change_pct"] = 100 * (r.ratio.estimate - 1);
    if (r.ratio.bounded) {
      row["change_ci_low_pct"] = 100 * (r.ratio.low - 1);
      row["change_ci_high_pct"] = 100 * (r.ratio.high - 1);
    } else if (!r.ratio.why_unbounded.empty()) {
      row["change_ci_unbounded"] = r.ratio.why_unbounded;
    }
    if (r.test.valid) {
      row["t"] = r.test.t;
      row["df"] = std::isfinite(r.test.df) ? boost::json::value(r.test.df) : boost::json::value(nullptr);
    }
    if (r.rank.valid) {
      row["mann_whitney_u"] = r.rank.u;
      row["mann_whitney_p"] = r.rank.p;
      row["mann_whitney_exact"] = r.rank.exact;
    }
    if (std::isfinite(r.p))
      row["p"] = r.p;
    if (std::isfinite(r.p_adjusted))
      row["p_adjusted"] = r.p_adjusted;
    if (std::isfinite(r.p_worse) && std::isfinite(r.p_adjusted)) {
      row["p_worse"] = r.p_worse;
      row["p_better"] = r.p_better;
      row["weight"] = r.weight;
    }
    if (r.more_iterations)
      row["more_iterations"] = r.more_iterations;
    if (!r.advice.empty())
      row["advice"] = r.advice;
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

// XML 1.0 text: entities from xml_escape, and control characters other than tab, newline
// and carriage return (which XML cannot carry at all) as '?'.
std::string xml_text(std::string s) {
  for (auto& ch : s)
    if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n' && ch != '\r')
      ch = '?';
  return xml_escape(s);
}

std::string row_message(const MetricChange& r, const CompareOptions& o) {
  std::string m = fmt::format("{}: {} {} -> {}, change {}", r.verdict, r.def->label,
                              r.base.n ? format_number(r.base.mean) : "–", r.cand.n ? format_number(r.cand.mean) : "–",
                              change_text(r));
  if (r.ratio.bounded)
    m += fmt::format(" ({:g}% CI {})", 100 * interval_confidence(o), ci_text(r));
  if (std::isfinite(r.p_adjusted))
    m += ", adjusted p " + p_value_text(r.p_adjusted);
  m += fmt::format(", basis {}, noise {}", basis_name(r.basis), r.noise.empty() ? "–" : r.noise);
  if (!r.advice.empty())
    m += "; " + r.advice;
  return m;
}

} // namespace

std::string render_comparison_junit(const Comparison& c, const CompareOptions& o, const std::string& base_label,
                                    const std::string& cand_label) {
  // One <testsuite> per experiment × platform, so CI tools group the metrics.
  std::vector<std::pair<std::string, std::vector<const MetricChange*>>> suites;
  for (auto& r : c.rows) {
    if (!r.def->performance)
      continue;
    auto name = r.experiment + "." + r.platform;
    if (suites.empty() || suites.back().first != name)
      suites.push_back({name, {}});
    suites.back().second.push_back(&r);
  }
  std::size_t tests = 0, failures = 0; // <testsuites> has no skipped attribute in the schema CI tools read
  std::string body;
  for (auto& [name, rows] : suites) {
    std::size_t f = 0, sk = 0;
    std::string cases;
    for (auto* r : rows) {
      cases += fmt::format("    <testcase name=\"{}\" classname=\"virtbench.{}\" time=\"0\">\n", xml_text(std::string(r->def->path)),
                           xml_text(name));
      auto msg = xml_text(row_message(*r, o));
      if (r->verdict == verdict::regressed) {
        cases += fmt::format("      <failure message=\"{}\" type=\"regression\">{}</failure>\n", msg, msg);
        ++f;
      } else if (r->verdict == verdict::undecided || r->verdict == verdict::noise_unknown ||
                 r->verdict == verdict::insufficient) {
        cases += fmt::format("      <skipped message=\"{}\"/>\n", msg);
        ++sk;
      } else {
        cases += fmt::format("      <system-out>{}</system-out>\n", msg);
      }
      cases += "    </testcase>\n";
    }
    body += fmt::format("  <testsuite name=\"virtbench.{}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" "
                        "time=\"0\">\n",
                        xml_text(name), rows.size(), f, sk);
    body += fmt::format("    <properties>\n      <property name=\"base\" value=\"{}\"/>\n      <property "
                        "name=\"candidate\" value=\"{}\"/>\n    </properties>\n",
                        xml_text(base_label), xml_text(cand_label));
    body += cases + "  </testsuite>\n";
    tests += rows.size();
    failures += f;
  }
  return fmt::format("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"virtbench compare\" tests=\"{}\" "
                     "failures=\"{}\" errors=\"0\" time=\"0\">\n{}</testsuites>\n",
                     tests, failures, body);
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
  // What changes performance (each driver names its keys); paths, ids and timings of a
  // particular run do not.
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
    std::map<std::string, const boost::json::object*> m; // by platform_key(): a variant by its parameters
    if (auto* ps = r.if_contains("platforms"); ps && ps->is_array())
      for (auto& p : ps->get_array())
        if (p.is_object())
          if (auto* n = p.get_object().if_contains("name"); n && n->is_string())
            m[platform_key(&p.get_object(), n->get_string())] = &p.get_object();
    return m;
  };
  auto pb = platforms(base), pc = platforms(cand);
  for (auto& [key, b] : pb)
    if (auto it = pc.find(key); it != pc.end())
      diff_keys(*b, *it->second, key, fingerprint_keys(platform_driver(b, key)), out);
  return out;
}

} // namespace virtbench
