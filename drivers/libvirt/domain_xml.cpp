#include "drivers/libvirt/domain_xml.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace virtbench::libvirt {

namespace {

std::string xml_unescape(std::string_view text) {
  static constexpr std::pair<std::string_view, char> k_entities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&apos;", '\''}, {"&quot;", '"'}};
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    bool replaced = false;
    if (text[i] == '&')
      for (auto& [entity, c] : k_entities)
        if (text.substr(i, entity.size()) == entity) {
          out += c;
          i += entity.size();
          replaced = true;
          break;
        }
    if (!replaced)
      out += text[i++];
  }
  return out;
}

// A slot on q35's pcie.0: an integrated endpoint, as QEMU places -device virtio-*-pci,
// rather than one behind a pcie-root-port of its own (libvirt's default), whose
// enumeration under TCG costs the guest's kernel part of a second.
std::string root_bus_address(int slot) {
  return fmt::format("      <address type='pci' domain='0x0000' bus='0x00' slot='{:#04x}' function='0x0'/>\n", slot);
}

std::string disk_xml(const std::string& file, const std::string& format, const std::string& target, int slot,
                     const DomainSpec& s) {
  return fmt::format("    <disk type='file' device='disk'>\n"
                     "      <driver name='qemu' type='{}' cache='{}' io='{}'/>\n"
                     "      <source file='{}'/>\n"
                     "      <target dev='{}' bus='virtio'/>\n"
                     "{}"
                     "    </disk>\n",
                     xml_escape(format), xml_escape(s.cache_mode), xml_escape(s.io), xml_escape(file), target,
                     root_bus_address(slot));
}

// Position just after `<element` when followed by a space, '>' or '/', else npos.
std::size_t find_element(std::string_view xml, std::string_view element, std::size_t from = 0) {
  std::string open = "<" + std::string(element);
  for (auto pos = xml.find(open, from); pos != std::string_view::npos; pos = xml.find(open, pos + 1)) {
    auto end = pos + open.size();
    if (end < xml.size() && (xml[end] == ' ' || xml[end] == '>' || xml[end] == '/' || xml[end] == '\n'))
      return end;
  }
  return std::string_view::npos;
}

} // namespace

std::string build_domain_xml(const DomainSpec& s) {
  std::string xml;
  xml += fmt::format("<domain type='{}'>\n", xml_escape(s.domain_type));
  xml += fmt::format("  <name>{}</name>\n", xml_escape(s.name));
  if (!s.owner.empty())
    xml += fmt::format("  <metadata>\n    <virtbench:owner xmlns:virtbench='{}'>{}</virtbench:owner>\n  </metadata>\n",
                       k_metadata_namespace, xml_escape(s.owner));
  // The same floor as the qemu platform's -m.
  xml += fmt::format("  <memory unit='MiB'>{}</memory>\n", std::max<std::uint64_t>(s.memory_bytes >> 20, 64));
  xml += fmt::format("  <vcpu>{}</vcpu>\n", s.vcpus);
  xml += "  <os>\n";
  xml += fmt::format("    <type arch='x86_64' machine='{}'>hvm</type>\n", xml_escape(s.machine));
  if (!s.firmware.empty())
    xml += fmt::format("    <loader readonly='yes' type='rom'>{}</loader>\n", xml_escape(s.firmware));
  xml += fmt::format("    <kernel>{}</kernel>\n", xml_escape(s.kernel));
  xml += fmt::format("    <initrd>{}</initrd>\n", xml_escape(s.initrd));
  xml += fmt::format("    <cmdline>{}</cmdline>\n", xml_escape(s.kernel_cmdline));
  xml += "  </os>\n";
  // QEMU's q35 has ACPI on by default; libvirt turns it off unless asked.
  xml += "  <features>\n    <acpi/>\n  </features>\n";
  xml += fmt::format("  <cpu mode='{}'/>\n", xml_escape(s.cpu_mode));
  xml += "  <clock offset='utc'/>\n";
  // Like QEMU's -no-reboot: a guest that powers off, reboots or panics (panic=-1) ends.
  xml += "  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>destroy</on_reboot>\n  <on_crash>destroy</on_crash>\n";
  xml += "  <devices>\n";
  // In this order the guest sees vda (root) and vdb (scratch).
  xml += disk_xml(s.root_disk, "qcow2", "vda", 2, s);
  xml += disk_xml(s.scratch_disk, s.scratch_format, "vdb", 3, s);
  xml += "    <controller type='virtio-serial' index='0'>\n" + root_bus_address(4) + "    </controller>\n";
  // Like QEMU's -nodefaults: no USB, no balloon; no <interface> (no network), no graphics.
  xml += "    <controller type='usb' model='none'/>\n";
  xml += fmt::format("    <serial type='file'>\n      <source path='{}'/>\n      <target port='0'/>\n    </serial>\n",
                     xml_escape(s.console_log));
  xml += fmt::format("    <channel type='unix'>\n      <target type='virtio' name='{}'/>\n    </channel>\n",
                     xml_escape(s.agent_port_name));
  xml += "    <memballoon model='none'/>\n";
  xml += "  </devices>\n";
  if (s.run_as_root)
    xml += "  <seclabel type='static' model='dac' relabel='no'>\n    <label>+0:+0</label>\n  </seclabel>\n";
  xml += "</domain>\n";
  return xml;
}

std::optional<std::string> owner_from_xml(std::string_view xml) {
  auto pos = xml.find(k_metadata_namespace);
  if (pos == std::string_view::npos)
    return std::nullopt;
  auto start = xml.find('>', pos);
  auto end = xml.find('<', start);
  if (start == std::string_view::npos || end == std::string_view::npos)
    return std::nullopt;
  return xml_unescape(xml.substr(start + 1, end - start - 1));
}

std::optional<std::string> attribute_from_xml(std::string_view xml, std::string_view element, std::string_view attribute) {
  auto pos = find_element(xml, element);
  if (pos == std::string_view::npos)
    return std::nullopt;
  auto tag_end = xml.find('>', pos);
  auto tag = xml.substr(pos, tag_end == std::string_view::npos ? std::string_view::npos : tag_end - pos);
  std::string key = " " + std::string(attribute) + "=";
  auto a = tag.find(key);
  if (a == std::string_view::npos || a + key.size() >= tag.size())
    return std::nullopt;
  char quote = tag[a + key.size()];
  auto value_start = a + key.size() + 1;
  auto value_end = tag.find(quote, value_start);
  if (value_end == std::string_view::npos)
    return std::nullopt;
  return xml_unescape(tag.substr(value_start, value_end - value_start));
}

std::optional<std::string> element_text_from_xml(std::string_view xml, std::string_view element) {
  auto pos = find_element(xml, element);
  if (pos == std::string_view::npos)
    return std::nullopt;
  auto start = xml.find('>', pos);
  if (start == std::string_view::npos || xml[start - 1] == '/')
    return std::nullopt;
  auto end = xml.find('<', start);
  if (end == std::string_view::npos)
    return std::nullopt;
  return xml_unescape(xml.substr(start + 1, end - start - 1));
}

} // namespace virtbench::libvirt

namespace virtbench::libvirt {

DomainTypeDecision decide_domain_type(std::string_view requested, bool kvm_offered,
                                      std::optional<bool> host_kvm_usable, std::string_view host_reason) {
  DomainTypeDecision d;
  // The qemu platform's reason reads "auto: KVM not usable: <why>"; only <why> is quoted.
  if (auto pos = host_reason.find("not usable: "); pos != std::string_view::npos)
    host_reason.remove_prefix(pos + 12);
  std::string why_not;
  if (!kvm_offered)
    why_not = "libvirt does not offer domain type kvm (virConnectGetDomainCapabilities)";
  else if (host_kvm_usable && !*host_kvm_usable)
    why_not = "libvirt offers kvm, but " + std::string(host_reason);
  bool usable = why_not.empty();
  if (requested == "tcg") {
    d.reason = "requested with --accel tcg";
  } else if (requested == "kvm") {
    if (!usable) {
      d.reason = "--accel kvm: KVM is not usable through libvirt: " + why_not + "; use --accel tcg (or auto)";
      return d;
    }
    d.reason = "requested with --accel kvm";
  } else if (usable) {
    d.reason = host_kvm_usable ? "auto: libvirt offers kvm and hardware virtualization is usable"
                               : "auto: libvirt on the remote host offers kvm";
  } else {
    d.reason = "auto: KVM not usable: " + why_not;
  }
  bool kvm = requested != "tcg" && usable;
  d.domain_type = kvm ? "kvm" : "qemu";
  d.accel = kvm ? "kvm" : "tcg";
  return d;
}

} // namespace virtbench::libvirt
