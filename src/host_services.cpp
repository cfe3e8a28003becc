// The core's HostServices: what drivers get done on the host through PlatformOptions::host.
#include "host.hpp"
#include "image.hpp"
#include "sysbench.hpp"

namespace virtbench {

namespace {

class CoreHostServices final : public HostServices {
public:
  CacheDrop drop_caches() override { return drop_host_caches(); }
  std::uint64_t resident_kib(const std::filesystem::path& path) override { return virtbench::resident_kib(path); }
  GuestImage guest_image(const std::filesystem::path& data_dir) override { return load_guest_image(data_dir); }
  std::string guest_kernel_cmdline(const GuestImage& image, bool this_host, const std::string& machine) override {
    return virtbench::guest_kernel_cmdline(image, this_host, machine);
  }
  std::string sysbench_version(std::string_view version_output) override {
    return parse_sysbench_version(version_output);
  }
};

} // namespace

HostServices& host_services() {
  static CoreHostServices k_services;
  return k_services;
}

} // namespace virtbench
