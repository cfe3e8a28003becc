#pragma once
// The `libvirt` platform: the qemu platform's guest (same image, overlay, scratch disk,
// kernel command line) as a transient libvirt domain, on this host or a remote one;
// guest commands go through virDomainQemuAgentCommand. Also what `virtbench doctor` and
// `virtbench image push` need from libvirt.

#include "driver.hpp" // Check
#include "platform.hpp"

#include <string>

namespace virtbench::libvirt {

std::unique_ptr<Platform> make_platform(const PlatformOptions& options);

// `virtbench doctor`'s "libvirt" row: whether libvirtd answers at `uri` (status ok or warn),
// libvirt and hypervisor versions, host, and the domain type and accelerator it would use.
// `on_host`: the --host whose libvirtd `uri` reaches through a forwarded socket ("remote
// libvirt" row; this host's KVM facts do not apply). Never throws.
Check doctor_check(const std::string& uri, const std::string& on_host = {});

// The system libvirtd's socket on a --host (virtqemud's, else libvirtd's, as libvirt's own
// client picks), found through host.exec; throws Error when neither is there.
awaitable<std::string> find_libvirtd_socket(HostServices& host);

// The URI --libvirt-uri defaults to: the local system libvirtd.
inline constexpr const char* k_default_uri = "qemu:///system";

// The storage pool `virtbench image push` fills on a (remote) host, and where a dir pool it creates lives.
inline constexpr const char* k_pool_name = "virtbench";
inline constexpr const char* k_pool_path = "/var/lib/libvirt/images/virtbench";

} // namespace virtbench::libvirt
