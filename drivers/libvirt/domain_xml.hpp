#pragma once
// The libvirt domain XML of a virtbench guest, built without I/O (unit-tested against
// golden files that virt-xml-validate accepts), and the few facts read back from XML.

#include "util/xml.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace virtbench::libvirt {

// The same facts the qemu platform turns into QEMU's argv (drivers/qemu/qemu_command.hpp); the libvirt platform does not include it.
struct DomainSpec {
  std::string name;            // virtbench-<run id>
  std::string domain_type = "qemu"; // kvm | qemu (TCG)
  std::string machine = "q35";
  std::string cpu_mode = "maximum"; // "host-passthrough" under KVM (QEMU's -cpu host), else -cpu max
  int vcpus = 2;
  std::uint64_t memory_bytes = 2ull << 30;
  std::string kernel, initrd, kernel_cmdline;
  std::string firmware;               // a ROM for QEMU's -bios (qboot), or "" for libvirt's SeaBIOS
  std::string root_disk;              // qcow2 overlay (vda)
  std::string scratch_disk;           // fileio's disk (vdb)
  std::string scratch_format = "raw"; // raw | qcow2
  std::string cache_mode = "none";
  std::string io = "native";          // native | threads
  std::string console_log;            // serial console to this file
  std::string agent_port_name;        // org.qemu.guest_agent.0
  bool run_as_root = true;            // static DAC label +0:+0, relabel='no' (see README)
  std::string owner;                  // recorded in <metadata>: "<client host> <pid>"
};

// The <domain> document for virDomainCreateXML.
std::string build_domain_xml(const DomainSpec& spec);

// The XML namespace of virtbench's <metadata> element.
inline constexpr const char* k_metadata_namespace = "https://virtbench.invalid/libvirt/1";
inline constexpr const char* k_domain_prefix = "virtbench-";

// The owner ("<client host> <pid>") recorded in a domain's XML, if any.
std::optional<std::string> owner_from_xml(std::string_view xml);

// The value of the first attribute `attribute` of the first element `element` (e.g.
// "type" of "<type" gives "hvm"; "machine" gives the canonical machine), unescaped.
std::optional<std::string> attribute_from_xml(std::string_view xml, std::string_view element, std::string_view attribute);

// The text of the first <element>...</element> (e.g. "model" inside <cpu>), unescaped.
std::optional<std::string> element_text_from_xml(std::string_view xml, std::string_view element);

} // namespace virtbench::libvirt

namespace virtbench::libvirt {

// The domain type (kvm or qemu, i.e. TCG) and why, from --accel and what is known.
struct DomainTypeDecision {
  std::string domain_type; // "kvm" or "qemu"; empty when the request cannot be met
  std::string accel;       // "kvm" or "tcg", as the qemu platform records it
  std::string reason;      // for describe()'s accel_reason, or the error with its fix
};

// requested: auto | kvm | tcg. kvm_offered: libvirt's domain capabilities list type kvm.
// host_kvm_usable/host_reason: the qemu platform's decision for this host (choose_accel_for_host),
// only known for a local URI (nullopt remotely: there PVM-only KVM cannot be told apart).
// A host_reason in the qemu platform's form ("auto: KVM not usable: <why>") is quoted as <why>.
DomainTypeDecision decide_domain_type(std::string_view requested, bool kvm_offered,
                                      std::optional<bool> host_kvm_usable, std::string_view host_reason);

} // namespace virtbench::libvirt
