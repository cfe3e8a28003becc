// The libvirt driver's registry entry.
#include "drivers/libvirt/connection.hpp"
#include "drivers/libvirt/libvirt.hpp"
#include "drivers/libvirt/storage.hpp"
#include "drivers/vm/vm_options.hpp"

#include "driver.hpp"

#include <fmt/format.h>

#include <iostream>

namespace virtbench::libvirt {

namespace {

std::vector<OptionSpec> options() {
  auto all = vm::vm_options();
  all.push_back(OptionSpec::text_option("libvirt-uri", "connection URI", k_default_uri, "URI"));
  return all;
}

// libvirt's domain XML puts the virtio devices on PCI: q35 only.
std::string check_options(const OptionValues& values) {
  if (values.has("machine") && values.text("machine") != "q35")
    return "--machine " + values.text("machine") + " is for the qemu platform only: libvirt runs q35 (its domain XML "
           "puts the virtio devices on PCI); drop libvirt from --platform, or use --machine q35";
  return {};
}

// `virtbench image push`: the guest image into the pool, for a remote host.
DriverCommand image_push() {
  DriverCommand c;
  c.path = {"image", "push"};
  c.help = fmt::format("Copy the guest image into the libvirt storage pool {} (created if missing) for --platform "
                       "libvirt on a remote host",
                       k_pool_name);
  c.options = {OptionSpec::text_option("libvirt-uri", "libvirt connection URI (e.g. qemu+ssh://root@host/system)",
                                       k_default_uri, "URI")};
  c.flags = {"force"};
  c.flag_help = {{"force", "Upload again even when the pool holds files of the same size"}};
  c.takes_host = true; // --host: the system libvirtd there, its socket forwarded as a run's is
  c.run = [](const DriverContext& ctx, const OptionValues& values, const std::map<std::string, bool>& flags) {
    auto image = ctx.host->guest_image(ctx.data_dir);
    auto log = [](const std::string& line) { std::cerr << "image push: " << line << std::endl; };
    auto uri = values.text("libvirt-uri");
    std::string forward, remote_socket;
    if (auto url = ctx.host->location(); !url.empty()) {
      remote_socket = remote_socket_of_uri(uri == k_default_uri ? std::string() : uri, url);
      if (remote_socket.empty())
        remote_socket = run_sync(find_libvirtd_socket(*ctx.host));
      forward = (ctx.runtime_dir / "libvirtd.sock").string();
      run_sync(ctx.host->forward_socket(forward, remote_socket));
      uri = forwarded_libvirt_uri(forward);
      log(fmt::format("libvirtd {} on {} (forwarded over SSH)", remote_socket, url));
    }
    int code = 0;
    {
      auto conn = open_connection(uri);
      auto pool = ensure_pool(conn.get(), uri, log);
      for (auto& line : push_image(conn.get(), pool.get(), image, flags.at("force"), log))
        std::cout << line << "\n";
    }
    if (!forward.empty())
      ctx.host->cancel_forward(forward, remote_socket);
    return code;
  };
  return c;
}

// `doctor --host`: the system libvirtd there, through its socket forwarded as a run's is.
std::vector<Check> doctor_on_host(const DriverContext& ctx) {
  auto where = ctx.host->location();
  std::string forward, remote_socket;
  Check row;
  try {
    remote_socket = run_sync(find_libvirtd_socket(*ctx.host));
    forward = (ctx.runtime_dir / "libvirtd.sock").string();
    run_sync(ctx.host->forward_socket(forward, remote_socket));
    row = doctor_check(forwarded_libvirt_uri(forward), where);
    row.detail += " (" + remote_socket + ")";
  } catch (const std::exception& e) {
    forward.clear(); // nothing forwarded
    row = {"remote libvirt", "warn", e.what(), "needed for --platform libvirt with --host"};
  }
  if (!forward.empty())
    ctx.host->cancel_forward(forward, remote_socket);
  return {row};
}

} // namespace

const Driver& driver() {
  static const Driver k_driver{
      .name = "libvirt",
      .summary = "the qemu platform's guest as a transient libvirt domain, on this host or a remote one",
      .options = options(),
      .make_platform = make_platform,
      .doctor = [](const DriverContext&) { return std::vector<Check>{doctor_check(k_default_uri)}; },
      .doctor_on_host = doctor_on_host,
      .commands = {image_push()},
      .fingerprint_keys = {"accel", "domain_type", "machine", "cpu_model", "cache_mode", "aio", "scratch_format",
                           "vcpus", "memory_bytes", "hypervisor_version", "sysbench_sha256", "image_digest",
                           "guest_kernel"},
      .methodology = {"`virDomainSuspend`", "the guest and the host (with `cache=none` QEMU bypasses the host cache, so "
                                            "that drop is recorded but has nothing to verify)",
                      "the domain's QEMU threads (virDomainGetCPUStats)"},
      .check_options = check_options,
  };
  return k_driver;
}

} // namespace virtbench::libvirt
