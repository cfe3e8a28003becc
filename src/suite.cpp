#include "suite.hpp"

#include "registry.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <filesystem>
#include <set>
#include <sstream>

namespace virtbench {

namespace {

enum class Kind { integer, positive_integer, string, size, boolean, real, choice };

struct KeySpec {
  const char* key;
  Kind kind;
  std::vector<std::string> choices = {};
};

const std::vector<KeySpec> k_common_keys = {
    {"name", Kind::string},
    {"workload", Kind::choice, {"cpu", "fileio"}},
    {"iterations", Kind::positive_integer},
    {"warmup", Kind::integer},
    {"time", Kind::positive_integer},
    {"threads", Kind::positive_integer},
};
const std::vector<KeySpec> k_cpu_keys = {
    {"cpu-max-prime", Kind::positive_integer},
};
const std::vector<KeySpec> k_fileio_keys = {
    {"file-total-size", Kind::size},
    {"file-test-mode", Kind::choice, {"seqwr", "seqrewr", "seqrd", "rndrd", "rndwr", "rndrw"}},
    {"file-io-mode", Kind::choice, {"sync", "async", "mmap"}},
    {"file-extra-flags", Kind::choice, {"", "sync", "dsync", "direct"}},
    {"file-num", Kind::positive_integer},
    {"file-block-size", Kind::positive_integer},
    {"file-fsync-freq", Kind::integer},
    {"file-fsync-end", Kind::boolean},
    {"file-fsync-all", Kind::boolean},
    {"file-rw-ratio", Kind::real},
    {"file-async-backlog", Kind::positive_integer},
};
const std::vector<std::string> k_top_keys = {"name", "description", "iterations", "warmup", "experiment", "platform", "matrix"};

// The line (1-based) of the first non-ASCII byte outside strings and comments, 0 if none. TOML
// allows non-ASCII only inside those, and toml++ 3.3.0 reaches __builtin_unreachable on one
// elsewhere (is_non_ascii_horizontal_whitespace() for U+00A1..U+0499: "é" in a key; found by
// fuzz_suite under UBSan), so such a file is refused before toml++ sees it.
std::size_t non_ascii_outside_strings(std::string_view text) {
  std::size_t line = 1;
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      ++line;
    } else if (c == '#') { // a comment, to the end of the line
      while (i + 1 < text.size() && text[i + 1] != '\n')
        ++i;
    } else if (c == '"' || c == '\'') {
      bool multi = text.substr(i, 3) == std::string_view(c == '"' ? "\"\"\"" : "\'\'\'");
      std::string_view close = multi ? text.substr(i, 3) : text.substr(i, 1);
      i += close.size();
      for (; i < text.size() && text.substr(i, close.size()) != close; ++i) {
        if (c == '"' && text[i] == '\\' && i + 1 < text.size()) // an escape: the next character is the string's
          ++i;
        if (text[i] == '\n') {
          ++line;
          if (!multi)
            break; // an unterminated string: toml++ says so
        }
      }
      if (multi) // up to two more quotes may close a multi-line string (""""" is valid)
        while (i + close.size() < text.size() && text[i + close.size()] == c)
          ++i;
      i += close.size() - 1;
    } else if (static_cast<unsigned char>(c) >= 0x80) {
      return line;
    }
  }
  return 0;
}

// A size "digits[KMGT]" (already checked for its form) of at most 2^62 bytes, so that
// Experiment::fileio_bytes() and the preflight's sums cannot overflow.
bool size_fits(std::string_view size) {
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(size.data(), size.data() + size.size(), n);
  if (ec != std::errc())
    return false;
  int shift = end == size.data() + size.size() ? 0 : 10 * (1 + static_cast<int>(std::string_view("KMGT").find(std::toupper(*end))));
  return n <= (std::uint64_t(1) << 62) >> shift;
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j)
    prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string join(const std::vector<std::string>& items, std::string_view sep = ", ") {
  std::string s;
  for (const auto& i : items)
    s += (s.empty() ? "" : std::string(sep)) + i;
  return s;
}

// "unknown key "x" (did you mean "y"?); allowed: a, b, c"
std::string unknown_key_message(std::string_view key, const std::vector<std::string>& allowed) {
  std::string best;
  std::size_t best_d = 3; // suggest only close matches
  for (const auto& a : allowed) {
    auto d = edit_distance(key, a);
    if (d < best_d) {
      best_d = d;
      best = a;
    }
  }
  std::string msg = "unknown key \"" + std::string(key) + "\"";
  if (!best.empty())
    msg += " (did you mean \"" + best + "\"?)";
  return msg + "; allowed keys: " + join(allowed);
}

class SuiteParser {
public:
  explicit SuiteParser(std::string_view source) : m_source(source) {}

  [[noreturn]] void fail(const toml::node* node, const std::string& what) const {
    std::string where = m_source;
    if (node && node->source().begin.line > 0)
      where += ":" + std::to_string(node->source().begin.line);
    throw UsageError(where + ": " + what);
  }

  std::string type_name(const toml::node& n) const {
    if (n.is_string())
      return "string \"" + n.value<std::string>()->substr(0, 100) + "\"";
    if (n.is_integer())
      return "integer " + std::to_string(*n.value<int64_t>());
    if (n.is_floating_point())
      return "number " + std::to_string(*n.value<double>());
    if (n.is_boolean())
      return std::string("boolean ") + (*n.value<bool>() ? "true" : "false");
    if (n.is_table())
      return "a table";
    if (n.is_array())
      return "an array";
    return "a date or time";
  }

  // Checks one value against its spec and returns it as sysbench's text form.
  std::string check_value(const std::string& context, const KeySpec& spec, const toml::node& n) const {
    auto bad = [&](const std::string& expected, const std::string& example) {
      fail(&n, context + "\"" + spec.key + "\" must be " + expected + ", got " + type_name(n) + "; write e.g. " +
                   spec.key + " = " + example);
    };
    switch (spec.kind) {
    case Kind::integer:
    case Kind::positive_integer: {
      if (!n.is_integer())
        bad(spec.kind == Kind::integer ? "an integer ≥ 0" : "an integer ≥ 1", "10");
      auto v = *n.value<int64_t>();
      if (v < (spec.kind == Kind::integer ? 0 : 1))
        fail(&n, context + "\"" + spec.key + "\" must be " +
                     (spec.kind == Kind::integer ? "≥ 0" : "≥ 1") + ", got " + std::to_string(v));
      if (v > std::numeric_limits<int>::max()) // iterations, warmup and time become ints
        fail(&n, context + "\"" + spec.key + "\" must be at most " + std::to_string(std::numeric_limits<int>::max()) +
                     ", got " + std::to_string(v));
      return std::to_string(v);
    }
    case Kind::real: {
      if (!n.is_number())
        bad("a number", "1.5");
      auto v = *n.value<double>();
      if (!(v > 0) || !std::isfinite(v)) // NaN fails v > 0
        fail(&n, context + "\"" + spec.key + "\" must be a finite number > 0, got " + std::to_string(v));
      std::ostringstream ss;
      ss << v;
      return ss.str();
    }
    case Kind::boolean:
      if (!n.is_boolean())
        bad("true or false", "true");
      return *n.value<bool>() ? "on" : "off";
    case Kind::string:
      if (!n.is_string())
        bad("a string", "\"text\"");
      return *n.value<std::string>();
    case Kind::size: {
      if (n.is_integer() && *n.value<int64_t>() > 0)
        return std::to_string(*n.value<int64_t>());
      if (!n.is_string())
        bad("a size such as \"100M\"", "\"100M\"");
      auto s = *n.value<std::string>();
      auto digits = s.find_first_not_of("0123456789");
      bool ok = digits > 0 && digits != std::string::npos ? (digits + 1 == s.size() && std::string("KMGTkmgt").find(s.back()) != std::string::npos)
                                                          : digits == std::string::npos && !s.empty();
      if (!ok || s.find_first_not_of('0') == digits)
        fail(&n, context + "\"" + spec.key + "\" must be a size such as \"100M\" (digits, then K, M, G or T), got \"" +
                     s.substr(0, 100) + "\"");
      if (!size_fits(s))
        fail(&n, context + "\"" + spec.key + "\" is too large (more than 2^62 bytes), got \"" + s.substr(0, 100) + "\"");
      return s;
    }
    case Kind::choice: {
      if (!n.is_string())
        bad("one of: " + join(spec.choices), "\"" + spec.choices.back() + "\"");
      auto s = *n.value<std::string>();
      if (std::find(spec.choices.begin(), spec.choices.end(), s) == spec.choices.end())
        fail(&n, context + "\"" + spec.key + "\" must be one of: " + join(spec.choices) + "; got \"" + s + "\"");
      return s;
    }
    }
    return {};
  }

  std::optional<int> int_key(const toml::table& t, const char* key, const std::string& context, Kind kind) const {
    auto* n = t.get(key);
    if (!n)
      return std::nullopt;
    return std::stoi(check_value(context, {key, kind}, *n));
  }

  // [platform.DRIVER] NAME = VALUE: the driver's own options (registry.hpp), for that
  // platform only; checked against the driver's declarations.
  void parse_platform_options(const toml::node& node, Suite& suite) const {
    auto names = platform_names();
    if (!node.is_table())
      fail(&node, "\"platform\" must be tables like [platform.qemu] with the platform's options, e.g. "
                  "cache-mode = \"writeback\"");
    for (auto& [key, table] : *node.as_table()) {
      std::string platform(key.str());
      auto* driver = find_driver(platform);
      if (!driver)
        fail(&table, unknown_key_message(platform, names) + " in [platform." + platform + "]: no such platform");
      if (!table.is_table())
        fail(&table, "[platform." + platform + "] must be a table of the platform's options");
      std::vector<std::string> allowed;
      for (auto& spec : driver->options)
        allowed.push_back(spec.name);
      for (auto& [option_key, value] : *table.as_table()) {
        std::string option(option_key.str());
        auto spec = std::find_if(driver->options.begin(), driver->options.end(),
                                 [&](auto& o) { return o.name == option; });
        if (spec == driver->options.end())
          fail(&value, "[platform." + platform + "] " + unknown_key_message(option, allowed) + " (the options of " +
                           platform + ")");
        auto where = m_source + ":" + std::to_string(value.source().begin.line) + ": [platform." + platform + "] ";
        auto add = [&](const toml::node& v) {
          std::string text;
          if (v.is_string())
            text = *v.value<std::string>();
          else if (v.is_integer() && spec->kind == OptionSpec::Kind::integer)
            text = std::to_string(*v.value<int64_t>());
          else
            fail(&v, "[platform." + platform + "] \"" + option + "\" must be " +
                         (spec->kind == OptionSpec::Kind::integer ? "an integer" : "a string") + ", got " +
                         type_name(v) + "; " + spec->help);
          if (auto problem = option_problem(*spec, text); !problem.empty())
            fail(&v, "[platform." + platform + "] " + option + " = " + text + ": " + problem);
          suite.platform_options.push_back({platform, option, text, where});
        };
        if (value.is_array() && spec->kind == OptionSpec::Kind::list)
          for (auto& item : *value.as_array())
            add(item);
        else
          add(value);
      }
    }
  }

  // A matrix value as text: a string, or an integer for an integer axis.
  std::string matrix_value(const toml::node& v, const OptionSpec& spec, const std::string& context) const {
    if (v.is_string())
      return *v.value<std::string>();
    if (v.is_integer() && spec.kind == OptionSpec::Kind::integer)
      return std::to_string(*v.value<int64_t>());
    fail(&v, context + spec.matrix_name() + " takes " +
                 (spec.kind == OptionSpec::Kind::integer ? "integers" : "strings") + ", got " + type_name(v) +
                 "; " + spec.help);
  }

  std::string where_of(const toml::node& n, const std::string& context) const {
    return m_source + ":" + std::to_string(n.source().begin.line) + ": " + context;
  }

  // [matrix] PLATFORM = { AXIS = [V, ...] }, and [[matrix.points]] platform = "P", AXIS = V:
  // axes and values checked against the driver's (matrix.hpp), each error at its line.
  void parse_matrix(const toml::node& node, Suite& suite) const {
    auto names = platform_names();
    if (!node.is_table())
      fail(&node, "\"matrix\" must be a table, e.g. [matrix] then qemu = { vcpus = [1, 2] }");
    for (auto& [key, value] : *node.as_table()) {
      std::string platform(key.str());
      if (platform == "points") {
        if (!value.is_array_of_tables())
          fail(&value, "[matrix] points must be [[matrix.points]] tables, each with platform = \"qemu\" and axis "
                       "values, e.g. vcpus = 1");
        for (auto& item : *value.as_array()) {
          auto& table = *item.as_table();
          auto* p = table.get("platform");
          if (!p || !p->is_string())
            fail(&item, "[[matrix.points]] needs platform = \"NAME\" (one of " + join(names) + ")");
          std::string pname = *p->value<std::string>();
          auto* driver = find_driver(pname);
          if (!driver)
            fail(p, "[[matrix.points]] platform = \"" + pname + "\": no such platform; known platforms: " + join(names));
          MatrixPoint point{pname, {}, where_of(item, "[[matrix.points]] ")};
          for (auto& [axis_key, v] : table) {
            std::string axis(axis_key.str());
            if (axis == "platform")
              continue;
            auto* spec = find_axis(*driver, axis);
            auto where = where_of(v, "[[matrix.points]] ");
            if (!spec)
              fail(&v, "[[matrix.points]] unknown axis \"" + axis + "\" of platform " + pname + "; " +
                           allowed_axes_text(*driver));
            auto text = matrix_value(v, *spec, "[[matrix.points]] ");
            if (auto problem = option_problem(*spec, text); !problem.empty())
              fail(&v, "[[matrix.points]] " + axis + " = " + text + ": " + problem + " (platform " + pname + ")");
            point.params.emplace_back(axis, text);
          }
          suite.matrix.points.push_back(std::move(point));
        }
        continue;
      }
      auto* driver = find_driver(platform);
      if (!driver)
        fail(&value, "[matrix] " + unknown_key_message(platform, names) + ": no such platform");
      if (!value.is_table())
        fail(&value, "[matrix] " + platform + " must be a table of axes, e.g. " + platform + " = { " +
                         (driver_axes(*driver).empty() ? std::string("...") : driver_axes(*driver).front()->matrix_name()) +
                         " = [...] }; " + allowed_axes_text(*driver));
      for (auto& [axis_key, v] : *value.as_table()) {
        std::string axis(axis_key.str());
        auto context = "[matrix] " + platform + ".";
        auto* spec = find_axis(*driver, axis);
        if (!spec)
          fail(&v, "[matrix] unknown axis \"" + axis + "\" of platform " + platform + "; " + allowed_axes_text(*driver));
        MatrixAxis a{platform, axis, {}, where_of(v, context)};
        auto add = [&](const toml::node& item) {
          auto text = matrix_value(item, *spec, context);
          if (auto problem = option_problem(*spec, text); !problem.empty())
            fail(&item, context + axis + " = " + text + ": " + problem);
          a.values.push_back(text);
        };
        if (v.is_array()) {
          if (v.as_array()->empty())
            fail(&v, context + axis + " has no values; list them, e.g. " + axis + " = [1, 2]");
          for (auto& item : *v.as_array())
            add(item);
        } else {
          add(v);
        }
        suite.matrix.axes.push_back(std::move(a));
      }
    }
    for (auto& p : suite.matrix.points)
      for (auto& a : suite.matrix.axes)
        if (a.platform == p.platform)
          throw UsageError(a.where + a.axis + ": platform " + p.platform + " also has [[matrix.points]] (" + p.where +
                           "); give its variants either as points or as axes, not both");
  }

  toml::table parse_toml(std::string_view text) const {
    try {
      return toml::parse(text, m_source);
    } catch (const toml::parse_error& e) {
      throw UsageError(m_source + ":" + std::to_string(e.source().begin.line) + ": not valid TOML: " +
                       std::string(e.description()));
    }
  }

  Suite parse(std::string_view text) {
    // toml++ must see non-ASCII only inside the strings and comments of a valid document
    // (non_ascii_outside_strings): first the document's structure is checked with every
    // non-ASCII byte made an ASCII letter, then where its non-ASCII bytes are.
    if (std::any_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; })) {
      std::string ascii(text);
      std::replace_if(ascii.begin(), ascii.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; }, 'x');
      parse_toml(ascii);
      if (auto line = non_ascii_outside_strings(text))
        throw UsageError(m_source + ":" + std::to_string(line) +
                         ": not valid TOML: a non-ASCII character outside a string or comment (keys and bare "
                         "values are ASCII; quote the text)");
    }
    toml::table root = parse_toml(text);
    for (auto& [key, node] : root)
      if (std::find(k_top_keys.begin(), k_top_keys.end(), key.str()) == k_top_keys.end())
        fail(&node, unknown_key_message(key.str(), k_top_keys));

    Suite suite;
    suite.source = m_source;
    auto* name = root.get("name");
    if (!name)
      fail(nullptr, "missing key \"name\"; add e.g. name = \"my-suite\" at the top");
    suite.name = check_value("", {"name", Kind::string}, *name);
    if (auto* d = root.get("description"))
      suite.description = check_value("", {"description", Kind::string}, *d);
    int iterations = int_key(root, "iterations", "", Kind::positive_integer).value_or(1);
    auto default_warmup = int_key(root, "warmup", "", Kind::integer);

    if (auto* platforms = root.get("platform"))
      parse_platform_options(*platforms, suite);
    if (auto* matrix = root.get("matrix"))
      parse_matrix(*matrix, suite);

    auto* experiments = root.get("experiment");
    if (!experiments || !experiments->is_array_of_tables() || experiments->as_array()->empty())
      fail(experiments, "no experiments; add at least one [[experiment]] table with name and workload "
                        "(workload = \"cpu\" or \"fileio\")");

    std::set<std::string> names;
    for (auto& node : *experiments->as_array()) {
      auto& table = *node.as_table();
      Experiment e;
      e.iterations = iterations;
      auto* n = table.get("name");
      if (!n)
        fail(&node, "[[experiment]] without a name; add name = \"...\" (letters, digits, '-', '_', '.')");
      e.name = check_value("experiment: ", {"name", Kind::string}, *n);
      if (e.name.empty() || e.name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") != std::string::npos)
        fail(n, "experiment name \"" + e.name + "\" may use only letters, digits, '-', '_' and '.' (it names directories)");
      if (!names.insert(e.name).second)
        fail(n, "experiment name \"" + e.name + "\" is used twice; names must be unique");
      std::string context = "experiment \"" + e.name + "\": ";

      auto* w = table.get("workload");
      if (!w)
        fail(&node, context + "missing key \"workload\"; add workload = \"cpu\" or workload = \"fileio\"");
      e.workload = check_value(context, k_common_keys[1], *w) == "cpu" ? Workload::cpu : Workload::fileio;
      const auto& specific = e.workload == Workload::cpu ? k_cpu_keys : k_fileio_keys;

      std::vector<std::string> allowed;
      for (auto& s : k_common_keys)
        allowed.push_back(s.key);
      for (auto& s : specific)
        allowed.push_back(s.key);

      e.warmup = default_warmup.value_or(e.workload == Workload::cpu ? 1 : 0);
      for (auto& [key, value] : table) {
        std::string k(key.str());
        if (k == "name" || k == "workload")
          continue;
        auto spec = std::find_if(k_common_keys.begin(), k_common_keys.end(), [&](auto& s) { return k == s.key; });
        if (spec == k_common_keys.end()) {
          spec = std::find_if(specific.begin(), specific.end(), [&](auto& s) { return k == s.key; });
          if (spec == specific.end())
            fail(&value, context + unknown_key_message(k, allowed) + " (for workload " +
                             std::string(workload_name(e.workload)) + ")");
        }
        auto text = check_value(context, *spec, value);
        if (k == "iterations")
          e.iterations = std::stoi(text);
        else if (k == "warmup")
          e.warmup = std::stoi(text);
        else if (k == "time")
          e.time_s = std::stoi(text);
        else
          e.options.emplace_back(k, text);
      }
      suite.experiments.push_back(std::move(e));
    }
    return suite;
  }

private:
  std::string m_source;
};

} // namespace

std::vector<std::string> Experiment::sysbench_args() const {
  std::vector<std::string> args;
  for (auto& [k, v] : options)
    args.push_back("--" + k + "=" + v);
  args.push_back("--time=" + std::to_string(time_s));
  return args;
}

std::vector<std::string> Experiment::sysbench_argv(std::string_view phase) const {
  std::vector<std::string> argv = {"sysbench", std::string(workload_name(workload))};
  auto args = sysbench_args();
  argv.insert(argv.end(), args.begin(), args.end());
  argv.emplace_back(phase);
  return argv;
}

std::optional<std::string> Experiment::option(std::string_view key) const {
  for (auto& [k, v] : options)
    if (k == key)
      return v;
  return std::nullopt;
}

std::uint64_t Experiment::fileio_bytes() const {
  auto size = option("file-total-size").value_or("2G");
  std::uint64_t n = std::stoull(size);
  switch (size.back()) {
  case 'K': case 'k': return n << 10;
  case 'M': case 'm': return n << 20;
  case 'G': case 'g': return n << 30;
  case 'T': case 't': return n << 40;
  default: return n;
  }
}

std::string Experiment::data_set_key() const {
  if (workload != Workload::fileio)
    return "";
  return "--file-num=" + option("file-num").value_or("128") + " --file-total-size=" + std::to_string(fileio_bytes());
}

Suite parse_suite(std::string_view toml_text, std::string_view source) {
  return SuiteParser(source).parse(toml_text);
}

Suite load_suite(std::string_view name_or_path) {
  if (auto* text = builtin_suite_text(name_or_path)) {
    auto suite = parse_suite(text, "built-in suite " + std::string(name_or_path));
    suite.source = "built-in";
    return suite;
  }
  std::filesystem::path path(name_or_path);
  if (!std::filesystem::exists(path))
    throw UsageError("suite \"" + std::string(name_or_path) + "\": no such built-in suite or file; built-in suites: " +
                     join(builtin_suite_names()) + "; or give the path of a .toml suite file");
  return parse_suite(read_file(path), path.string());
}

void override_suite(Suite& suite, std::optional<int> iterations, std::optional<int> time_s) {
  for (auto& e : suite.experiments) {
    if (iterations)
      e.iterations = *iterations;
    if (time_s)
      e.time_s = *time_s;
  }
}

} // namespace virtbench
