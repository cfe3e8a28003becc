#include "matrix.hpp"

#include "util/error.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace virtbench {

namespace {

std::vector<std::string> split(std::string_view s, char sep) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (true) {
    auto at = s.find(sep, start);
    items.emplace_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos)
      return items;
    start = at + 1;
  }
}

std::string spec_range_text(const OptionSpec& spec) {
  if (spec.kind == OptionSpec::Kind::choice) {
    std::string c;
    for (auto& v : spec.choices)
      c += (c.empty() ? "" : ", ") + v;
    return c;
  }
  if (spec.kind == OptionSpec::Kind::integer) {
    if (spec.mebibytes)
      return display_option_value(spec, std::to_string(spec.min)) + " to " +
             display_option_value(spec, std::to_string(spec.max)) + ", e.g. 512M, 2G";
    return std::to_string(spec.min) + " to " + std::to_string(spec.max);
  }
  return "text";
}

// The axis `axis` of `driver`, or UsageError naming the allowed ones.
const OptionSpec& axis_or_fail(const Driver& driver, const std::string& axis, const std::string& where) {
  if (auto* spec = find_axis(driver, axis))
    return *spec;
  throw UsageError(where + "unknown axis \"" + axis + "\" of platform " + driver.name + "; " +
                   allowed_axes_text(driver));
}

// The value in OptionValues' form, after checking it against the axis.
std::string checked_value(const Driver& driver, const OptionSpec& spec, const std::string& value,
                          const std::string& where) {
  if (auto problem = option_problem(spec, value); !problem.empty())
    throw UsageError(where + spec.matrix_name() + " = " + value + ": " + problem + " (platform " + driver.name + ")");
  return canonical_option_value(spec, value);
}

} // namespace

MatrixAxis parse_matrix_arg(std::string_view text) {
  auto how = "; write it as PLATFORM.AXIS=V1,V2, e.g. --matrix qemu.vcpus=1,2";
  auto eq = text.find('=');
  auto dot = text.find('.');
  if (eq == std::string_view::npos || dot == std::string_view::npos || dot > eq || dot == 0 || dot + 1 == eq)
    throw UsageError("--matrix " + std::string(text) + ": not PLATFORM.AXIS=VALUES" + how);
  MatrixAxis axis;
  axis.platform = text.substr(0, dot);
  axis.axis = text.substr(dot + 1, eq - dot - 1);
  axis.where = "--matrix ";
  for (auto& v : split(text.substr(eq + 1), ','))
    if (!v.empty())
      axis.values.push_back(v);
  if (axis.values.empty())
    throw UsageError("--matrix " + std::string(text) + ": no values" + how);
  return axis;
}

void override_matrix(Matrix& matrix, const std::vector<MatrixAxis>& axes) {
  for (auto& a : axes) {
    for (auto& p : matrix.points)
      if (p.platform == a.platform)
        throw UsageError("--matrix " + a.platform + "." + a.axis + ": " + p.where + "the suite lists " + a.platform +
                         "'s variants as [[matrix.points]]; a point set cannot take an axis from the command line: "
                         "edit the suite's points, or copy the suite and give " +
                         a.platform + " axes there");
    auto it = std::find_if(matrix.axes.begin(), matrix.axes.end(),
                           [&](auto& m) { return m.platform == a.platform && m.axis == a.axis; });
    if (it != matrix.axes.end())
      *it = a;
    else
      matrix.axes.push_back(a);
  }
}

std::vector<const OptionSpec*> driver_axes(const Driver& driver) {
  std::vector<const OptionSpec*> axes;
  for (auto& o : driver.options)
    if (o.axis)
      axes.push_back(&o);
  return axes;
}

std::string allowed_axes_text(const Driver& driver) {
  std::string text;
  for (auto* a : driver_axes(driver))
    text += (text.empty() ? "" : ", ") + a->matrix_name() + " (" + spec_range_text(*a) + ")";
  if (text.empty())
    return "platform " + driver.name + " has no matrix axes";
  return "allowed axes of " + driver.name + ": " + text;
}

const OptionSpec* find_axis(const Driver& driver, std::string_view name) {
  for (auto* a : driver_axes(driver))
    if (a->matrix_name() == name)
      return a;
  return nullptr;
}

std::string variant_name(std::string_view driver, const std::vector<std::pair<std::string, std::string>>& params) {
  std::string name(driver);
  if (params.empty())
    return name;
  name += '[';
  for (std::size_t i = 0; i < params.size(); ++i)
    name += (i ? "," : "") + params[i].first + "=" + params[i].second;
  return name + ']';
}

std::string variant_slug(std::string_view name) {
  std::string slug;
  for (char c : name) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')
      slug += c;
    else if (c == '[' || c == ',')
      slug += '-';
  }
  return slug;
}

std::vector<Variant> expand_variants(const Driver& driver, const Matrix& matrix, const OptionValues& base) {
  auto axes_in_order = driver_axes(driver);
  auto order_of = [&](const OptionSpec* spec) {
    return std::find(axes_in_order.begin(), axes_in_order.end(), spec) - axes_in_order.begin();
  };

  // Each combination as (axis spec -> canonical value), with the axes written for it.
  std::vector<std::map<const OptionSpec*, std::string>> combos;
  std::vector<std::string> combo_where;
  std::set<const OptionSpec*> written;
  bool has_points = false;
  for (auto& p : matrix.points) {
    if (p.platform != driver.name)
      continue;
    has_points = true;
    std::map<const OptionSpec*, std::string> combo;
    for (auto& [axis, value] : p.params) {
      auto& spec = axis_or_fail(driver, axis, p.where);
      if (combo.contains(&spec))
        throw UsageError(p.where + "axis " + axis + " is given twice in this point");
      combo[&spec] = checked_value(driver, spec, value, p.where);
      written.insert(&spec);
    }
    combos.push_back(std::move(combo));
    combo_where.push_back(p.where);
  }
  std::vector<std::pair<const OptionSpec*, std::vector<std::string>>> axes;
  for (auto& a : matrix.axes) {
    if (a.platform != driver.name)
      continue;
    auto& spec = axis_or_fail(driver, a.axis, a.where);
    if (has_points)
      throw UsageError(a.where + a.axis + ": platform " + driver.name +
                       " has [[matrix.points]]; give its variants either as points or as axes, not both");
    std::vector<std::string> values;
    for (auto& v : a.values) {
      auto canonical = checked_value(driver, spec, v, a.where);
      if (std::find(values.begin(), values.end(), canonical) != values.end())
        throw UsageError(a.where + a.axis + " = " + v + ": the value is listed twice");
      values.push_back(canonical);
    }
    if (std::any_of(axes.begin(), axes.end(), [&](auto& x) { return x.first == &spec; }))
      throw UsageError(a.where + a.axis + ": the axis of " + driver.name + " is given twice");
    axes.emplace_back(&spec, std::move(values));
    written.insert(&spec);
  }
  if (!has_points) {
    std::sort(axes.begin(), axes.end(), [&](auto& x, auto& y) { return order_of(x.first) < order_of(y.first); });
    combos.push_back({});
    for (auto& [spec, values] : axes) {
      std::vector<std::map<const OptionSpec*, std::string>> next;
      for (auto& c : combos)
        for (auto& v : values) {
          auto n = c;
          n[spec] = v;
          next.push_back(std::move(n));
        }
      combos = std::move(next);
    }
    combo_where.assign(combos.size(), std::string()); // no duplicates: each axis's values are distinct
  }

  // Every combination's full axis values (the base where a point leaves one out), and the
  // axes that vary among them: only those name a variant.
  auto value_of = [&](const std::map<const OptionSpec*, std::string>& c, const OptionSpec* spec) {
    auto it = c.find(spec);
    return it != c.end() ? it->second : base.text(spec->name);
  };
  std::vector<const OptionSpec*> varying;
  for (auto* spec : axes_in_order) {
    if (!written.contains(spec))
      continue;
    std::set<std::string> seen;
    for (auto& c : combos)
      seen.insert(value_of(c, spec));
    if (seen.size() > 1)
      varying.push_back(spec);
  }

  std::vector<Variant> variants;
  std::set<std::string> names;
  for (std::size_t i = 0; i < combos.size(); ++i) {
    Variant v;
    v.driver = driver.name;
    v.values = base;
    for (auto* spec : axes_in_order)
      if (written.contains(spec))
        v.values.set(spec->name, value_of(combos[i], spec));
    for (auto* spec : varying)
      v.params.emplace_back(spec->matrix_name(), display_option_value(*spec, value_of(combos[i], spec)));
    v.name = variant_name(driver.name, v.params);
    if (!names.insert(v.name).second)
      throw UsageError(combo_where[i] + "the point " + v.name + " is listed twice");
    variants.push_back(std::move(v));
  }
  auto is_base = [&](const Variant& v) {
    return std::all_of(varying.begin(), varying.end(),
                       [&](auto* spec) { return v.values.text(spec->name) == base.text(spec->name); });
  };
  auto ref = std::find_if(variants.begin(), variants.end(), is_base);
  (ref != variants.end() ? *ref : variants.front()).reference = true;
  return variants;
}

boost::json::object variant_identity(const Variant& v) {
  boost::json::object params;
  for (auto& [axis, value] : v.params)
    params[axis] = value;
  boost::json::object o{{"name", v.name}, {"platform", v.driver}, {"variant", std::move(params)}};
  if (v.reference)
    o["default_variant"] = true;
  return o;
}

std::vector<std::vector<std::size_t>> form_batches(const std::vector<bool>& capped, std::size_t max_live) {
  std::vector<std::size_t> always, counted;
  for (std::size_t i = 0; i < capped.size(); ++i)
    (capped[i] ? counted : always).push_back(i);
  if (max_live == 0 || counted.size() <= max_live) {
    std::vector<std::size_t> all(capped.size());
    for (std::size_t i = 0; i < all.size(); ++i)
      all[i] = i;
    return {all};
  }
  std::vector<std::vector<std::size_t>> batches;
  for (std::size_t start = 0; start < counted.size(); start += max_live) {
    std::vector<std::size_t> batch = always;
    for (std::size_t i = start; i < std::min(counted.size(), start + max_live); ++i)
      batch.push_back(counted[i]);
    std::sort(batch.begin(), batch.end()); // the run's platform order within a batch
    batches.push_back(std::move(batch));
  }
  return batches;
}

std::size_t max_live_for_memory(std::vector<std::uint64_t> memory_bytes, std::uint64_t host_bytes,
                                std::uint64_t spare_bytes) {
  std::sort(memory_bytes.rbegin(), memory_bytes.rend());
  std::uint64_t used = spare_bytes;
  std::size_t n = 0;
  for (auto m : memory_bytes) {
    if (used + m > host_bytes)
      break;
    used += m;
    ++n;
  }
  return std::max<std::size_t>(n, 1);
}

} // namespace virtbench
