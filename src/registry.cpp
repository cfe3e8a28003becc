// Maps platform names to the drivers' factories.
#include "platform.hpp"

#include "drivers/docker/docker.hpp"
#include "drivers/libvirt/libvirt.hpp"
#include "drivers/native/native.hpp"
#include "drivers/qemu/qemu.hpp"
#include "util/error.hpp"

#include <map>

namespace virtbench {

namespace {

const std::vector<std::pair<std::string, PlatformFactory>>& registry() {
  static const std::vector<std::pair<std::string, PlatformFactory>> k_registry = {
      {"native", native::make_platform},
      {"qemu", qemu::make_platform},
      {"docker", docker::make_platform},
      {"libvirt", libvirt::make_platform},
  };
  return k_registry;
}

} // namespace

std::vector<std::string> platform_names() {
  std::vector<std::string> names;
  for (auto& [name, factory] : registry())
    names.push_back(name);
  return names;
}

std::unique_ptr<Platform> make_platform(const std::string& name, const PlatformOptions& options) {
  for (auto& [n, factory] : registry())
    if (n == name)
      return factory(options);
  std::string known;
  for (auto& n : platform_names())
    known += (known.empty() ? "" : ", ") + n;
  throw UsageError("unknown platform \"" + name + "\"; known platforms: " + known);
}

} // namespace virtbench
