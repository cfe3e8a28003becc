#include "drivers/qemu/remote_qemu.hpp"

#include <sstream>

namespace virtbench::qemu {

const char* const k_remote_probe_script = R"sh(grep -m 1 '^flags' /proc/cpuinfo
[ -r /dev/kvm ] && [ -w /dev/kvm ] && echo virtbench:dev_kvm
[ -e /sys/module/kvm_pvm ] && echo virtbench:kvm_pvm
[ -e /usr/share/qemu/qboot.rom ] && echo virtbench:qboot
for t in qemu-system-x86_64 qemu-img mke2fs truncate; do
  command -v "$t" >/dev/null 2>&1 || echo "virtbench:missing $t"
done
exit 0)sh";

RemoteQemuFacts parse_remote_probe(std::string_view text) {
  RemoteQemuFacts facts;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("flags") && facts.cpuinfo.empty())
      facts.cpuinfo = line + "\n";
    else if (line == "virtbench:dev_kvm")
      facts.dev_kvm = true;
    else if (line == "virtbench:kvm_pvm")
      facts.kvm_pvm = true;
    else if (line == "virtbench:qboot")
      facts.qboot = true;
    else if (line.starts_with("virtbench:missing ") && line.size() > 18)
      facts.missing.push_back(line.substr(18));
  }
  return facts;
}

std::string missing_tools_text(const RemoteQemuFacts& facts) {
  std::string tools;
  for (auto& t : facts.missing)
    tools += (tools.empty() ? "" : ", ") + t;
  return tools;
}

std::vector<std::string> wait_for_sockets_argv(const std::string& qmp, const std::string& agent) {
  return {"sh", "-c",
          "i=0\nwhile [ ! -S \"$1\" ] || [ ! -S \"$2\" ]; do\n  i=$((i+1))\n  [ \"$i\" -gt 600 ] && exit 1\n"
          "  sleep 0.05\ndone",
          "sh", qmp, agent};
}

std::vector<std::string> kill_remote_qemu_argv(const std::string& pid_file, const std::string& marker, int grace_s) {
  return {"sh", "-c",
          R"sh(p=$(cat -- "$1" 2>/dev/null) || exit 0
case $p in ''|*[!0-9]*) exit 0 ;; esac
tr '\0' '\n' < "/proc/$p/cmdline" 2>/dev/null | grep -qF -- "$2" || exit 0
kill -TERM "$p" 2>/dev/null
i=0
while kill -0 "$p" 2>/dev/null; do
  i=$((i+1))
  [ "$i" -ge $(( $3 * 20 )) ] && kill -KILL "$p" 2>/dev/null
  [ "$i" -gt $(( $3 * 20 + 200 )) ] && exit 1
  sleep 0.05
done
exit 0)sh",
          "sh", pid_file, marker, std::to_string(grace_s)};
}

} // namespace virtbench::qemu
