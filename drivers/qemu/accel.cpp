#include "drivers/qemu/accel.hpp"

#include "util/fs.hpp"

#include <filesystem>
#include <unistd.h>

namespace virtbench::qemu {

bool has_hardware_virtualization(std::string_view cpuinfo) {
  std::size_t pos = 0;
  while (pos < cpuinfo.size()) {
    auto end = cpuinfo.find('\n', pos);
    if (end == std::string_view::npos)
      end = cpuinfo.size();
    auto line = cpuinfo.substr(pos, end - pos);
    pos = end + 1;
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
      continue;
    auto key = line.substr(0, colon);
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t'))
      key.remove_suffix(1);
    if (key != "flags")
      continue;
    auto flags = line.substr(colon + 1);
    std::size_t i = 0;
    while (i < flags.size()) {
      while (i < flags.size() && (flags[i] == ' ' || flags[i] == '\t'))
        ++i;
      auto j = i;
      while (j < flags.size() && flags[j] != ' ' && flags[j] != '\t')
        ++j;
      auto word = flags.substr(i, j - i);
      if (word == "vmx" || word == "svm")
        return true;
      i = j;
    }
  }
  return false;
}

AccelDecision choose_accel(std::string_view requested, const AccelFacts& facts) {
  AccelDecision d;
  bool hw = has_hardware_virtualization(facts.cpuinfo);
  std::string why_not;
  if (!hw)
    why_not = "the CPU has no hardware virtualization flag (vmx/svm) in /proc/cpuinfo";
  else if (!facts.dev_kvm_exists)
    why_not = "/dev/kvm is missing or not accessible (load kvm_intel/kvm_amd, or add this user to the kvm group)";
  if (facts.kvm_pvm_loaded)
    why_not = (why_not.empty() ? "" : why_not + ", and ") +
              std::string("the KVM module is PVM (/sys/module/kvm_pvm), which boots only PVM-enabled guest kernels");
  d.kvm_usable = why_not.empty();

  if (requested == "tcg") {
    d.accel = "tcg";
    d.reason = "requested with --accel tcg";
  } else if (requested == "kvm") {
    if (d.kvm_usable) {
      d.accel = "kvm";
      d.reason = "requested with --accel kvm";
    } else {
      d.reason = "--accel kvm: KVM is not usable here: " + why_not + "; use --accel tcg (or auto)";
    }
  } else if (d.kvm_usable) {
    d.accel = "kvm";
    d.reason = "auto: hardware virtualization (vmx/svm) and /dev/kvm are present";
  } else {
    d.accel = "tcg";
    d.reason = "auto: KVM not usable: " + why_not;
  }
  return d;
}

AccelDecision choose_accel_for_host(std::string_view requested) {
  std::string cpuinfo;
  try {
    cpuinfo = read_file("/proc/cpuinfo");
  } catch (const std::exception&) {
  }
  AccelFacts facts;
  facts.cpuinfo = cpuinfo;
  facts.dev_kvm_exists = ::access("/dev/kvm", R_OK | W_OK) == 0;
  std::error_code ec;
  facts.kvm_pvm_loaded = std::filesystem::exists("/sys/module/kvm_pvm", ec);
  return choose_accel(requested, facts);
}

} // namespace virtbench::qemu
