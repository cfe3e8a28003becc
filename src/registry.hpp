#pragma once
// The drivers built into this virtbench (meson option `platforms`), known to the core only
// through their Driver entries: names, factories, options, doctor rows, extra commands,
// fingerprint keys and methodology facts. The one place the core learns about drivers.

#include "driver.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace virtbench {

// The built-in drivers, in the order reports list them (native, qemu, docker, libvirt).
const std::vector<const Driver*>& drivers();

// The driver named `name`, or nullptr.
const Driver* find_driver(std::string_view name);

// The platforms virtbench knows, in the order reports list them.
std::vector<std::string> platform_names();

// Creates a platform by name; throws UsageError naming the known platforms.
std::unique_ptr<Platform> make_platform(const std::string& name, const PlatformOptions& options);

// An option as the command line and suites see it: one per name, with every driver that
// declared it (vcpus: qemu, docker, libvirt).
struct DeclaredOption {
  OptionSpec spec;
  std::vector<std::string> drivers;
};

// Every built-in driver's options merged by name, in the drivers' order. Two drivers that
// declare one name differently (kind, default, choices, range) are a bug: Error.
const std::vector<DeclaredOption>& declared_options();
const DeclaredOption* find_option(std::string_view name);

// Every declared option at its default.
OptionValues default_option_values();

// Sets `name` (a declared option) to `value` in `values` after checking it; throws
// UsageError "<where>NAME VALUE: <problem>" with the allowed values. For a list option the
// value is appended.
void set_option(OptionValues& values, std::string_view name, const std::string& value, const std::string& where);

// The platform facts keys of results.json that change performance, for `platform`; for a
// platform not built in, those of every built-in driver.
std::vector<std::string> fingerprint_keys(std::string_view platform);

// What the methodology says of `platform`; neutral words for a platform not built in.
MethodologyFacts methodology_facts(std::string_view platform);

} // namespace virtbench
