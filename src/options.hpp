#pragma once
// Options a driver declares (OptionSpec) and the values a run gives them (OptionValues):
// on the command line `--NAME VALUE`, in a suite file `[platform.DRIVER]` NAME = VALUE.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
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
  // Kind::integer in MiB that also takes sizes ("512M", "1G", "1T"; a plain number is MiB).
  bool mebibytes = false;
  // A configuration-matrix axis (`[matrix] qemu = { vcpus = [1, 2] }`, `--matrix qemu.vcpus=1,2`):
  // the option may take a different value in each variant of the platform.
  bool axis = false;
  std::string axis_name; // the axis's name in a matrix when it differs from the option's ("cpus")

  // This option as a matrix axis, named `name` there (empty: the option's own name).
  OptionSpec as_axis(std::string name = {}) const;
  // The axis's name in a matrix (axis_name, else name).
  const std::string& matrix_name() const { return axis_name.empty() ? name : axis_name; }

  static OptionSpec text_option(std::string name, std::string help, std::string default_value, std::string value_name);
  static OptionSpec choice_option(std::string name, std::string help, std::string default_value,
                                  std::vector<std::string> choices);
  static OptionSpec integer_option(std::string name, std::string help, std::int64_t default_value, std::int64_t min,
                                   std::int64_t max, std::string value_name = {});
  // An amount of memory in MiB, also written "512M", "1G".
  static OptionSpec mebibytes_option(std::string name, std::string help, std::int64_t default_mib, std::int64_t min,
                                     std::int64_t max);
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

// The value in the form OptionValues holds it: a mebibytes option's "1G" is "1024"; any
// other value as given. Check it with option_problem() first.
std::string canonical_option_value(const OptionSpec& spec, std::string_view value);

// The value as a matrix variant's name shows it: a mebibytes option's "1024" is "1G",
// "1536" is "1536M"; any other value as held.
std::string display_option_value(const OptionSpec& spec, std::string_view canonical);

// MiB of "512", "512M", "1G", "2T", "4096K" (whole MiB only); nullopt when it is none of them.
std::optional<std::int64_t> parse_mebibytes(std::string_view text);

} // namespace virtbench
