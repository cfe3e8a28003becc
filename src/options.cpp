#include "options.hpp"

#include "util/error.hpp"

#include <charconv>

namespace virtbench {

namespace {

[[noreturn]] void undeclared(std::string_view name) {
  throw Error("option \"" + std::string(name) + "\" is declared by no driver (a bug in virtbench: declare it in the "
              "driver's registry entry)");
}

} // namespace

OptionSpec OptionSpec::text_option(std::string name, std::string help, std::string default_value,
                                   std::string value_name) {
  OptionSpec s;
  s.name = std::move(name);
  s.help = std::move(help);
  s.default_value = std::move(default_value);
  s.value_name = std::move(value_name);
  return s;
}

OptionSpec OptionSpec::choice_option(std::string name, std::string help, std::string default_value,
                                     std::vector<std::string> choices) {
  auto s = text_option(std::move(name), std::move(help), std::move(default_value), {});
  s.kind = Kind::choice;
  s.choices = std::move(choices);
  return s;
}

OptionSpec OptionSpec::integer_option(std::string name, std::string help, std::int64_t default_value, std::int64_t min,
                                      std::int64_t max, std::string value_name) {
  auto s = text_option(std::move(name), std::move(help), std::to_string(default_value), std::move(value_name));
  s.kind = Kind::integer;
  s.min = min;
  s.max = max;
  return s;
}

OptionSpec OptionSpec::mebibytes_option(std::string name, std::string help, std::int64_t default_mib,
                                        std::int64_t min, std::int64_t max) {
  auto s = integer_option(std::move(name), std::move(help), default_mib, min, max, "MiB");
  s.mebibytes = true;
  return s;
}

OptionSpec OptionSpec::as_axis(std::string name) const {
  auto s = *this;
  s.axis = true;
  s.axis_name = std::move(name);
  return s;
}

OptionSpec OptionSpec::list_option(std::string name, std::string help, std::string value_name) {
  auto s = text_option(std::move(name), std::move(help), {}, std::move(value_name));
  s.kind = Kind::list;
  return s;
}

const std::string& OptionValues::text(std::string_view name) const {
  auto it = m_text.find(name);
  if (it == m_text.end())
    undeclared(name);
  return it->second;
}

std::int64_t OptionValues::integer(std::string_view name) const {
  auto& t = text(name);
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (ec != std::errc() || end != t.data() + t.size())
    throw Error("option --" + std::string(name) + ": \"" + t + "\" is not a whole number");
  return v;
}

const std::vector<std::string>& OptionValues::list(std::string_view name) const {
  auto it = m_lists.find(name);
  if (it == m_lists.end())
    undeclared(name);
  return it->second;
}

void OptionValues::set(const std::string& name, std::string value) { m_text[name] = std::move(value); }

void OptionValues::set_list(const std::string& name, std::vector<std::string> values) {
  m_lists[name] = std::move(values);
}

bool OptionValues::has(std::string_view name) const { return m_text.contains(name) || m_lists.contains(name); }

void OptionValues::fill_missing(const OptionValues& defaults) {
  m_text.insert(defaults.m_text.begin(), defaults.m_text.end()); // insert keeps what is there
  m_lists.insert(defaults.m_lists.begin(), defaults.m_lists.end());
}

std::string option_problem(const OptionSpec& spec, std::string_view value) {
  switch (spec.kind) {
  case OptionSpec::Kind::choice: {
    std::string allowed;
    for (auto& c : spec.choices) {
      if (c == value)
        return {};
      allowed += (allowed.empty() ? "" : ", ") + c;
    }
    return "must be one of " + allowed;
  }
  case OptionSpec::Kind::integer: {
    if (spec.mebibytes) {
      auto mib = parse_mebibytes(value);
      if (!mib)
        return "must be an amount of memory such as 512M, 2G or a whole number of MiB, from " + std::to_string(spec.min) +
               " to " + std::to_string(spec.max) + " MiB";
      if (*mib < spec.min || *mib > spec.max)
        return "must be from " + std::to_string(spec.min) + " to " + std::to_string(spec.max) + " MiB";
      return {};
    }
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec != std::errc() || end != value.data() + value.size() || value.empty())
      return "must be a whole number from " + std::to_string(spec.min) + " to " + std::to_string(spec.max);
    if (v < spec.min || v > spec.max)
      return "must be from " + std::to_string(spec.min) + " to " + std::to_string(spec.max);
    return {};
  }
  case OptionSpec::Kind::text:
  case OptionSpec::Kind::list:
    return {};
  }
  return {};
}

std::optional<std::int64_t> parse_mebibytes(std::string_view text) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end == text.data() || v < 0)
    return std::nullopt;
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  if (unit.empty() || unit == "M" || unit == "m" || unit == "MiB")
    return v;
  if ((unit == "G" || unit == "g" || unit == "GiB") && v <= (std::int64_t{1} << 40))
    return v * 1024;
  if ((unit == "T" || unit == "t" || unit == "TiB") && v <= (std::int64_t{1} << 30))
    return v * 1024 * 1024;
  if ((unit == "K" || unit == "k" || unit == "KiB") && v % 1024 == 0)
    return v / 1024;
  return std::nullopt;
}

std::string canonical_option_value(const OptionSpec& spec, std::string_view value) {
  if (spec.kind == OptionSpec::Kind::integer && spec.mebibytes)
    if (auto mib = parse_mebibytes(value))
      return std::to_string(*mib);
  return std::string(value);
}

std::string display_option_value(const OptionSpec& spec, std::string_view canonical) {
  if (spec.kind == OptionSpec::Kind::integer && spec.mebibytes)
    if (auto mib = parse_mebibytes(canonical); mib && *mib > 0)
      return *mib % 1024 == 0 ? std::to_string(*mib / 1024) + "G" : std::to_string(*mib) + "M";
  return std::string(canonical);
}

} // namespace virtbench
