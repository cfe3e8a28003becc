#pragma once
// Options a driver declares (OptionSpec) and the values a run gives them (OptionValues):
// on the command line `--NAME VALUE`, in a suite file `[platform.DRIVER]` NAME = VALUE.

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace virtbench {

// An option a driver takes, on the command line (`--NAME`) and in a suite file
// (`[platform.DRIVER]` NAME = ...). Several drivers may declare the same option (vcpus:
// qemu, libvirt, docker); they must then agree on its kind and default, and get one value.
struct OptionSpec {
  enum class Kind { text, choice, integer, list };
  std::string name; // "cache-mode"
  Kind kind = Kind::text;
  std::string help;
  std::string default_value;        // text form ("" for a list); shown in --help
  std::vector<std::string> choices; // Kind::choice
  std::int64_t min = 0, max = 0;    // Kind::integer, inclusive
  std::string value_name;           // --help's placeholder ("MiB", "URI"); empty: from the kind

  static OptionSpec text_option(std::string name, std::string help, std::string default_value, std::string value_name);
  static OptionSpec choice_option(std::string name, std::string help, std::string default_value,
                                  std::vector<std::string> choices);
  static OptionSpec integer_option(std::string name, std::string help, std::int64_t default_value, std::int64_t min,
                                   std::int64_t max, std::string value_name = {});
  // Repeatable: --NAME A --NAME B; in a suite, an array.
  static OptionSpec list_option(std::string name, std::string help, std::string value_name);
};

// The values of the options a run was given, keyed by option name; each declared option
// has one (its default when not given).
class OptionValues {
public:
  // The value as given ("4", "none", "a,b"); throws Error for an option no driver declared.
  const std::string& text(std::string_view name) const;
  std::int64_t integer(std::string_view name) const;
  // Kind::list: every value given, in order.
  const std::vector<std::string>& list(std::string_view name) const;

  void set(const std::string& name, std::string value);
  void set_list(const std::string& name, std::vector<std::string> values);
  bool has(std::string_view name) const;
  // Takes from `defaults` every option this has no value for.
  void fill_missing(const OptionValues& defaults);

private:
  std::map<std::string, std::string, std::less<>> m_text;
  std::map<std::string, std::vector<std::string>, std::less<>> m_lists;
};

// Checks `value` against `spec`; returns the problem ("must be one of none, writeback"),
// empty when it fits.
std::string option_problem(const OptionSpec& spec, std::string_view value);

} // namespace virtbench
