// `virtbench doctor`'s libvirt row: does libvirtd answer, which hypervisor, which accelerator,
// and (local libvirtd) whether it can keep its QEMU capabilities or probes QEMU on every lookup.
#include "drivers/libvirt/connection.hpp"
#include "drivers/libvirt/domain_xml.hpp"
#include "drivers/libvirt/libvirt.hpp"
#include "drivers/vm/accel.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace virtbench::libvirt {

Check doctor_check(const std::string& uri, const std::string& on_host) {
  Check r;
  r.name = on_host.empty() ? "libvirt" : "remote libvirt";
  bool local = on_host.empty() && is_local_uri(uri); // a forwarded socket's URI looks local
  try {
    auto conn = open_connection(uri);
    unsigned long lib = 0, hv = 0;
    virConnectGetLibVersion(conn.get(), &lib);
    virConnectGetVersion(conn.get(), &hv);
    const char* type = virConnectGetType(conn.get());
    std::string host;
    if (char* h = virConnectGetHostname(conn.get())) {
      host = h;
      std::free(h);
    }
    char* caps = virConnectGetDomainCapabilities(conn.get(), nullptr, "x86_64", nullptr, "kvm", 0);
    bool kvm_offered = caps != nullptr;
    std::free(caps);
    std::optional<bool> host_kvm;
    std::string host_reason;
    if (local) {
      auto d = vm::choose_accel_for_host("auto");
      host_kvm = d.kvm_usable;
      host_reason = d.reason;
    }
    auto decision = decide_domain_type("auto", kvm_offered, host_kvm, host_reason);
    r.status = "ok";
    r.detail = fmt::format("{} answers on {} (libvirt {}.{}.{}, {} {}.{}.{}); domain type {} ({})",
                           on_host.empty() ? uri : "libvirtd (forwarded over SSH)", host,
                           lib / 1000000, lib / 1000 % 1000, lib % 1000, type ? type : "?", hv / 1000000,
                           hv / 1000 % 1000, hv % 1000, decision.domain_type, decision.reason);
    if (local) {
      auto facts = local_kvm_device_facts(kvm_offered);
      if (auto problem = capabilities_cache_problem(facts); !problem.empty()) {
        r.status = "warn";
        r.detail += "; but " + problem;
        r.fix = capabilities_cache_fix(facts);
      }
    }
  } catch (const std::exception& e) {
    r.status = "warn";
    r.detail = e.what();
    r.fix = "the libvirt platform needs libvirtd: start it (virtlogd -d && libvirtd -d without systemd), or pass "
            "--libvirt-uri";
  }
  return r;
}

} // namespace virtbench::libvirt
