#include "history.hpp"

#include "catalog.hpp"
#include "report_model.hpp"
#include "results.hpp"
#include "store.hpp"
#include "util/error.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <tuple>

namespace virtbench {

namespace fs = std::filesystem;

namespace {

std::string suite_name(const boost::json::object& results) {
  if (auto* s = results.if_contains("suite"); s && s->is_object())
    return json_text(s->get_object().if_contains("name"));
  return "";
}

std::string hostname_of(const boost::json::object& results) {
  if (auto* h = results.if_contains("host"); h && h->is_object())
    return json_text(h->get_object().if_contains("hostname"));
  return "";
}

// A query's parameters in order: add() returns the placeholder (?1, ?2 ...) of the value.
class Parameters {
public:
  std::string add(store::Value v) {
    m_values.push_back(std::move(v));
    return "?" + std::to_string(m_values.size());
  }
  const std::vector<store::Value>& values() const { return m_values; }

private:
  std::vector<store::Value> m_values;
};

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

// %XX decoded, as libpq decodes a URL's parameter names.
std::string percent_decoded(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_digit(s[i + 1]) >= 0 && hex_digit(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The URL with any password replaced by ***, for the message that refuses it.
std::string redacted(const std::string& url, bool& had_password) {
  had_password = false;
  auto scheme_end = url.find("://") + 3;
  std::string out = url.substr(0, scheme_end);
  // libpq: the user part ends at the first '@' before the first '/'.
  auto slash = url.find('/', scheme_end);
  auto at = url.find('@', scheme_end);
  std::size_t rest = scheme_end;
  if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
    auto user = url.substr(scheme_end, at - scheme_end);
    if (auto colon = user.find(':'); colon != std::string::npos) {
      had_password = true;
      user = user.substr(0, colon) + ":***";
    }
    out += user + "@";
    rest = at + 1;
  }
  auto question = url.find('?', rest);
  out += url.substr(rest, question == std::string::npos ? std::string::npos : question - rest);
  if (question == std::string::npos)
    return out;
  std::string query = url.substr(question + 1);
  out += '?';
  std::size_t start = 0;
  while (start <= query.size()) {
    auto amp = query.find('&', start);
    auto item = query.substr(start, amp == std::string::npos ? std::string::npos : amp - start);
    auto eq = item.find('=');
    if (percent_decoded(item.substr(0, eq)) == "password") {
      had_password = true;
      item = item.substr(0, eq) + "=***";
    }
    out += (start ? "&" : "") + item;
    if (amp == std::string::npos)
      break;
    start = amp + 1;
  }
  return out;
}

} // namespace

const char* const k_db_option_help =
    "The results store: a SQLite FILE, or postgresql://USER@HOST[:PORT]/DATABASE shared by several hosts (its "
    "password in ~/.pgpass or PGPASSFILE, never in the URL) (default: DATA_DIR/history.sqlite)";

bool is_postgresql_url(const std::string& db) {
  auto l = lower(db.substr(0, 13));
  return l.rfind("postgresql://", 0) == 0 || l.rfind("postgres://", 0) == 0;
}

StoreLocation store_location(const std::string& db_option, const fs::path& data_dir) {
  StoreLocation where;
  if (db_option.empty()) {
    where.target = history_db_path(data_dir).string();
    return where;
  }
  where.given = true;
  where.target = db_option;
  if (!is_postgresql_url(db_option))
    return where;
  where.kind = StoreLocation::Kind::postgresql;
  bool had_password = false;
  auto shown = redacted(db_option, had_password);
  if (had_password)
    throw UsageError("--db " + shown +
                     ": a password in the URL is refused (it would show in ps, shell history and logs); put it in "
                     "~/.pgpass or the file PGPASSFILE names (host:port:database:user:password, mode 0600) and "
                     "drop it from the URL");
  return where;
}

fs::path history_db_path(const fs::path& data_dir) { return data_dir / "history.sqlite"; }

std::string history_run_id(const boost::json::object& results) {
  auto started = json_text(results.if_contains("started_at"));
  std::string key = started;
  if (auto* h = results.if_contains("host"); h && h->is_object())
    key += "|" + json_text(h->get_object().if_contains("hostname"));
  key += "|" + json_text(results.if_contains("seed")) + "|" + json_text(results.if_contains("command"));
  std::uint64_t hash = 1469598103934665603ull; // FNV-1a
  for (unsigned char c : key) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  std::string compact;
  for (char c : started)
    if (c != ':' && c != '-' && c != 'Z')
      compact += c;
  return fmt::format("{}-{:06x}", compact.empty() ? "unknown" : compact, hash & 0xffffff);
}

std::string resolve_metric(const std::string& metric) {
  if (find_metric(metric))
    return metric;
  std::vector<std::string> matches;
  for (auto& m : metric_catalog()) {
    std::string path(m.path);
    if (path.size() > metric.size() && path.compare(path.size() - metric.size(), metric.size(), metric) == 0 &&
        path[path.size() - metric.size() - 1] == '.')
      matches.push_back(path);
  }
  if (matches.size() == 1)
    return matches[0];
  std::string all;
  for (auto& m : metric_catalog())
    all += (all.empty() ? "" : ", ") + std::string(m.path);
  throw UsageError("--metric " + metric + ": " +
                   (matches.empty() ? std::string("no such metric") : "ambiguous (" + fmt::format("{}", fmt::join(matches, ", ")) + ")") +
                   "; metrics are " + all);
}

History::History(const StoreLocation& where, bool create) : m_where(where.target) {
  m_store = where.kind == StoreLocation::Kind::postgresql ? store::open_postgresql(where.target, create)
                                                          : store::open_sqlite(where.target, create);
}

History::History(const fs::path& db, bool create) : m_store(store::open_sqlite(db, create)), m_where(db.string()) {}

History::~History() = default;

int History::schema_version() { return m_store->schema_version(); }

std::string History::add(const boost::json::object& results, const fs::path& dir) {
  auto id = history_run_id(results);
  auto a = analyze_by_params(results);
  bool interrupted = results.contains("interrupted") && results.at("interrupted").is_bool() &&
                     results.at("interrupted").get_bool();
  std::vector<store::Value> run{id,
                                json_text(results.if_contains("started_at")),
                                json_text(results.if_contains("finished_at")),
                                suite_name(results),
                                hostname_of(results),
                                json_text(results.if_contains("virtbench_version")),
                                dir.empty() ? std::string() : fs::absolute(dir).string(),
                                std::int64_t{interrupted ? 0 : 1},
                                boost::json::serialize(results)};
  // Metrics go in by the 50 rows a statement (a round trip each on a network store).
  constexpr std::size_t k_rows_per_insert = 50;
  std::vector<std::vector<store::Value>> metric_rows;
  for (auto& cell : a.cells)
    for (auto& [path, series] : cell.metrics) {
      auto& st = series.stats;
      metric_rows.push_back({id, cell.platform, cell.experiment->name, path,
                             std::int64_t{path == cell.experiment->headline ? 1 : 0},
                             std::int64_t{series.def->higher_is_better ? 1 : 0}, static_cast<std::int64_t>(st.n),
                             st.mean, st.stddev, st.ci_low, st.ci_high, st.cv});
    }
  m_store->begin();
  try {
    // Replaces an earlier copy of the run: the upsert locks its row, so two hosts adding
    // the same run go one after the other; its metrics are then written anew.
    m_store->query("INSERT INTO runs (run_id, started_at, finished_at, suite, hostname, virtbench_version, dir, "
                   "complete, results) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (run_id) DO UPDATE SET "
                   "started_at = excluded.started_at, finished_at = excluded.finished_at, suite = excluded.suite, "
                   "hostname = excluded.hostname, virtbench_version = excluded.virtbench_version, dir = excluded.dir, "
                   "complete = excluded.complete, results = excluded.results;",
                   run)
        ->next();
    std::vector<store::Value> del{id};
    m_store->query("DELETE FROM metrics WHERE run_id = ?1;", del)->next();
    for (std::size_t first = 0; first < metric_rows.size(); first += k_rows_per_insert) {
      Parameters params;
      std::string sql = "INSERT INTO metrics (run_id, platform, experiment, metric, headline, higher_is_better, n, "
                        "mean, stddev, ci_low, ci_high, cv) VALUES ";
      for (std::size_t i = first; i < std::min(metric_rows.size(), first + k_rows_per_insert); ++i) {
        sql += i == first ? "(" : ", (";
        for (std::size_t c = 0; c < metric_rows[i].size(); ++c)
          sql += (c ? ", " : "") + params.add(metric_rows[i][c]);
        sql += ")";
      }
      m_store->query(sql + ";", params.values())->next();
    }
    m_store->commit();
  } catch (...) {
    m_store->rollback();
    throw;
  }
  return id;
}

std::vector<HistoryRow> History::query(const HistoryFilter& f) {
  std::string metric = f.metric.empty() ? std::string() : resolve_metric(f.metric);
  Parameters params;
  std::string filters;
  filters += f.suite.empty() ? "" : " AND r.suite = " + params.add(f.suite);
  filters += f.platform.empty() ? "" : " AND m.platform = " + params.add(f.platform);
  filters += f.experiment.empty() ? "" : " AND m.experiment = " + params.add(f.experiment);
  filters += f.hostname.empty() ? "" : " AND r.hostname = " + params.add(f.hostname);
  filters += metric.empty() ? " AND m.headline = 1" : " AND m.metric = " + params.add(metric);
  std::string sql =
      "SELECT r.run_id, r.started_at, r.suite, r.virtbench_version, m.platform, m.experiment, m.metric, m.n, m.mean, "
      "m.stddev, m.ci_low, m.ci_high, m.cv, coalesce(r.hostname, '') FROM metrics m JOIN runs r ON r.run_id = m.run_id "
      "WHERE TRUE" +
      filters;
  // The newest N runs among those the filters keep, not the newest N runs of any kind.
  if (f.limit)
    sql += " AND r.run_id IN (SELECT r.run_id FROM metrics m JOIN runs r ON r.run_id = m.run_id WHERE TRUE" + filters +
           " GROUP BY r.run_id ORDER BY max(r.started_at) DESC, r.run_id DESC LIMIT " +
           params.add(static_cast<std::int64_t>(f.limit)) + ")";
  sql += " ORDER BY m.experiment, m.platform, m.metric, r.started_at, r.run_id;";
  auto q = m_store->query(sql, params.values());
  std::vector<HistoryRow> rows;
  while (q->next()) {
    HistoryRow r;
    r.run_id = q->text(0);
    r.started_at = q->text(1);
    r.suite = q->text(2);
    r.version = q->text(3);
    r.platform = q->text(4);
    r.experiment = q->text(5);
    r.metric = q->text(6);
    r.n = static_cast<std::size_t>(q->integer(7));
    r.mean = q->real(8);
    r.stddev = q->real(9);
    r.ci_low = q->real(10);
    r.ci_high = q->real(11);
    r.cv = q->real(12);
    r.hostname = q->text(13);
    rows.push_back(std::move(r));
  }
  return rows;
}

boost::json::object History::baseline_for(const std::string& against, const boost::json::object& candidate,
                                          std::string& chosen, bool any_host) {
  auto cand_id = history_run_id(candidate);
  auto suite = suite_name(candidate);
  auto host = hostname_of(candidate);
  chosen.clear();
  if (against == "last" || against == "best") {
    Parameters params;
    std::string where = "r.suite = " + params.add(suite) + " AND r.run_id <> " + params.add(cand_id) +
                        " AND r.complete = 1";
    if (!any_host)
      where += " AND coalesce(r.hostname, '') = " + params.add(host);
    if (against == "last") {
      auto started = params.add(json_text(candidate.if_contains("started_at")));
      auto q = m_store->query("SELECT r.run_id FROM runs r WHERE " + where + " AND (CAST(" + started +
                                  " AS TEXT) = '' OR r.started_at <= " + started +
                                  ") ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1;",
                              params.values());
      if (q->next())
        chosen = q->text(0);
    } else {
      // Score each earlier run by the mean log ratio of its headline means to the
      // candidate's (oriented so that higher is better), over what both measured.
      auto cand = analyze_by_params(candidate);
      auto q = m_store->query("SELECT m.run_id, m.platform, m.experiment, m.metric, m.mean, m.higher_is_better FROM "
                              "metrics m JOIN runs r ON r.run_id = m.run_id WHERE " +
                                  where + " AND m.headline = 1;",
                              params.values());
      std::map<std::string, std::pair<double, int>> score;
      while (q->next()) {
        auto* cell = cand.find(q->text(1), q->text(2));
        auto* m = cell ? cell->metric(q->text(3)) : nullptr;
        double mean = q->real(4);
        if (!m || m->stats.mean <= 0 || mean <= 0)
          continue;
        double lr = std::log(mean / m->stats.mean) * (q->integer(5) ? 1 : -1);
        auto& s = score[q->text(0)];
        s.first += lr;
        s.second += 1;
      }
      double best = -INFINITY;
      for (auto& [id, s] : score)
        if (s.second && s.first / s.second > best) {
          best = s.first / s.second;
          chosen = id;
        }
    }
  } else {
    std::vector<store::Value> prefix{against};
    auto q = m_store->query(
        "SELECT run_id FROM runs WHERE substr(run_id, 1, length(CAST(?1 AS TEXT))) = ?1 ORDER BY run_id;", prefix);
    std::vector<std::string> ids;
    while (q->next())
      ids.push_back(q->text(0));
    if (ids.size() > 1)
      throw UsageError("--against " + against + ": matches " + std::to_string(ids.size()) + " runs in " + m_where +
                       " (" + fmt::format("{}", fmt::join(ids, ", ")) + "); give more of the run id");
    if (ids.empty())
      throw UsageError("--against " + against + ": no such run in " + m_where +
                       "; `virtbench history` lists run ids, or use last or best");
    chosen = ids[0];
  }
  if (chosen.empty())
    throw UsageError(any_host ? fmt::format("--against {}: {} has no other complete run of suite \"{}\" to compare "
                                            "with; run the suite once more, or give BASE_DIR instead",
                                            against, m_where, suite)
                              : fmt::format("--against {}: {} has no other complete run of suite \"{}\" on host \"{}\" "
                                            "to compare with; run the suite once more here, pass --any-host to take "
                                            "one of another host, or give BASE_DIR instead",
                                            against, m_where, suite, host));
  std::vector<store::Value> id{chosen};
  auto q = m_store->query("SELECT results FROM runs WHERE run_id = ?1;", id);
  if (!q->next())
    throw Error("history " + m_where + ": run " + chosen + " vanished while reading it");
  boost::system::error_code ec;
  auto v = boost::json::parse(q->text(0), ec);
  if (ec || !v.is_object())
    throw Error("history " + m_where + ": run " + chosen + " has unreadable results (" + ec.message() + ")");
  return std::move(v.as_object());
}

std::vector<std::pair<std::string, boost::json::object>>
History::lookback_runs(const boost::json::object& candidate, const std::vector<std::string>& exclude, std::size_t limit,
                       bool before_candidate, const std::function<bool(const boost::json::object&)>& accept,
                       bool any_host) {
  Parameters params;
  std::string sql = "SELECT run_id, results FROM runs WHERE suite = " + params.add(suite_name(candidate)) +
                    " AND complete = 1 AND run_id <> " + params.add(history_run_id(candidate));
  if (!any_host)
    sql += " AND coalesce(hostname, '') = " + params.add(hostname_of(candidate));
  if (auto started = json_text(candidate.if_contains("started_at")); before_candidate && !started.empty())
    sql += " AND started_at < " + params.add(started);
  sql += " ORDER BY started_at DESC, run_id DESC;";
  auto q = m_store->query(sql, params.values());
  std::vector<std::pair<std::string, boost::json::object>> runs;
  while (runs.size() < limit && q->next()) {
    auto id = q->text(0);
    if (std::find(exclude.begin(), exclude.end(), id) != exclude.end())
      continue;
    boost::system::error_code ec;
    auto v = boost::json::parse(q->text(1), ec);
    if (ec || !v.is_object() || !accept(v.as_object()))
      continue; // unreadable or measured differently: not part of this lookback
    runs.emplace_back(id, std::move(v.as_object()));
  }
  return runs;
}

void record_history(const fs::path& out_dir, const StoreLocation& store,
                    const std::function<void(const std::string&)>& log) {
  try {
    auto results = load_results(out_dir);
    History h(store, true);
    auto id = h.add(results, out_dir);
    if (log)
      log("history: recorded run " + id + " in " + store.target);
  } catch (const std::exception& e) {
    if (!store.given) {
      if (log)
        log(std::string("warning: history not updated: ") + e.what());
      return;
    }
    rethrow_with_context(fmt::format("record the run in {} (its results stay in {}; add them once the store works "
                                     "with `virtbench history --add {} --db {}`)",
                                     store.target, out_dir.string(), out_dir.string(), store.target));
  }
}

std::vector<HostSummaryRow> summarize_by_host(const std::vector<HistoryRow>& rows) {
  using Key = std::tuple<std::string, std::string, std::string, std::string>;
  std::map<Key, HostSummaryRow> by_key;
  for (auto& r : rows) {
    auto host = r.hostname.empty() ? std::string("?") : r.hostname;
    auto& s = by_key[{host, r.platform, r.experiment, r.metric}];
    if (s.runs == 0) {
      s.host = host;
      s.platform = r.platform;
      s.experiment = r.experiment;
      s.metric = r.metric;
    }
    ++s.runs;
    s.newest = std::max(s.newest, r.started_at);
    s.mean += r.mean; // a sum until the loop below
  }
  std::vector<HostSummaryRow> out;
  for (auto& [key, s] : by_key) {
    s.mean /= static_cast<double>(s.runs);
    out.push_back(s);
  }
  for (auto& s : out) {
    if (s.platform == "native")
      continue;
    auto native = by_key.find({s.host, "native", s.experiment, s.metric});
    if (native != by_key.end() && native->second.mean > 0)
      s.x_native = s.mean / native->second.mean;
  }
  return out;
}

} // namespace virtbench
