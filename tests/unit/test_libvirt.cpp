// The libvirt platform's pure parts: domain XML (golden files that libvirt's own schema
// accepts), the domain type decision, agent replies as virDomainQemuAgentCommand returns
// them, URIs and connection errors.
#include "drivers/libvirt/agent_transport.hpp"
#include "drivers/libvirt/connection.hpp"
#include "drivers/libvirt/domain_xml.hpp"
#include "drivers/qemu/qemu_command.hpp"
#include "test_util.hpp"
#include "util/error.hpp"
#include "util/process.hpp"

#include <doctest/doctest.h>

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <filesystem>

using namespace virtbench;
using namespace virtbench::libvirt;
using virtbench::test::data_file;
using virtbench::test::run_sync;

namespace {

std::filesystem::path data_path(const std::string& relative) {
  const char* dir = std::getenv("VIRTBENCH_TEST_DATA");
  return std::filesystem::path(dir ? dir : VIRTBENCH_SOURCE_TEST_DATA) / relative;
}

// The TCG domain of a default run (what `--platform libvirt` builds here).
DomainSpec tcg_spec() {
  DomainSpec s;
  s.name = "virtbench-20261126T004714-5beed2";
  s.domain_type = "qemu";
  s.cpu_mode = "maximum";
  s.vcpus = 2;
  s.memory_bytes = 2ull << 30;
  s.kernel = "/var/lib/virtbench/image/vmlinux";
  s.initrd = "/var/lib/virtbench/image/initrd.img";
  s.firmware = "/usr/share/qemu/qboot.rom";
  s.kernel_cmdline = "console=ttyS0 root=/dev/vda rw init=/sbin/virtbench-init quiet panic=-1";
  s.root_disk = "/run/virtbench/run-uDYKAL/libvirt-RENwOB/root-overlay.qcow2";
  s.scratch_disk = "/run/virtbench/run-uDYKAL/libvirt-RENwOB/scratch.raw";
  s.cache_mode = "none";
  s.io = "native";
  s.console_log = "/tmp/lv/r1/raw/libvirt/console.log";
  s.agent_port_name = "org.qemu.guest_agent.0";
  s.owner = "vm 4242";
  return s;
}

// KVM, a qcow2 scratch disk, writeback, and paths that need escaping.
DomainSpec kvm_spec() {
  auto s = tcg_spec();
  s.domain_type = "kvm";
  s.cpu_mode = "host-passthrough";
  s.vcpus = 4;
  s.memory_bytes = 512ull << 20;
  s.scratch_format = "qcow2";
  s.scratch_disk = "/srv/R&D's <disks>/scratch.qcow2";
  s.cache_mode = "writeback";
  s.io = "threads";
  s.console_log = "/srv/R&D's <disks>/console \"1\".log";
  s.run_as_root = false;
  s.owner = "";
  return s;
}

void check_golden(const DomainSpec& spec, const std::string& golden) {
  auto xml = build_domain_xml(spec);
  std::string expected;
  try {
    expected = data_file("libvirt/" + golden);
  } catch (const Error&) {
    // reported below as a difference, with the actual output to review
  }
  if (xml != expected) {
    auto actual = std::filesystem::temp_directory_path() / ("actual-" + golden);
    write_file_atomic(actual, xml);
    FAIL_CHECK("build_domain_xml differs from tests/data/libvirt/" << golden << "; actual output in " << actual.string());
  }
}

// virt-xml-validate (libxml2-utils + libvirt's schemas) on a file; fails loudly when missing.
void check_valid(const std::filesystem::path& file) {
  std::vector<std::string> argv{"virt-xml-validate", file.string(), "domain"};
  ProcessResult r;
  try {
    r = run_sync(run_process(argv));
  } catch (const Error& e) {
    FAIL("virt-xml-validate could not run (apt-get install libvirt-clients libxml2-utils): " << e.what());
  }
  INFO(r.out, r.err);
  CHECK(r.exit_code == 0);
}

// The words of a command line as a POSIX shell splits it (single quotes only, as virsh
// domxml-to-native prints it).
std::vector<std::string> shell_words(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false, quoted = false;
  for (char c : line) {
    if (quoted) {
      if (c == '\'')
        quoted = false;
      else
        word += c;
    } else if (c == '\'') {
      quoted = in_word = true;
    } else if (c == ' ' || c == '\n') {
      if (in_word)
        words.push_back(std::exchange(word, {}));
      in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word)
    words.push_back(word);
  return words;
}

// The word after the first `option`, "" when absent.
std::string option_value(const std::vector<std::string>& argv, const std::string& option) {
  auto it = std::find(argv.begin(), argv.end(), option);
  return it != argv.end() && it + 1 != argv.end() ? *(it + 1) : std::string();
}

} // namespace

TEST_CASE("the TCG domain XML matches its golden file, which libvirt's schema accepts") {
  check_golden(tcg_spec(), "domain-tcg.xml");
  check_valid(data_path("libvirt/domain-tcg.xml"));
}

TEST_CASE("the KVM domain XML with odd paths matches its golden file, which libvirt's schema accepts") {
  check_golden(kvm_spec(), "domain-kvm-escaped.xml");
  check_valid(data_path("libvirt/domain-kvm-escaped.xml"));
}

TEST_CASE("the domain XML has what the qemu platform's argv has, and nothing that reaches a network") {
  // libvirt's own QEMU command line for the golden TCG domain (recorded, see the README in
  // tests/data/libvirt/9.0.0/) against build_qemu_argv for the same facts.
  auto spec = tcg_spec();
  auto theirs = shell_words(data_file("libvirt/9.0.0/domain-tcg.qemu-argv"));
  qemu::QemuCommand c;
  c.accel = "tcg";
  c.machine = spec.machine;
  c.cpu_model = "max"; // cpu mode='maximum'
  c.vcpus = spec.vcpus;
  c.memory_bytes = spec.memory_bytes;
  c.firmware = spec.firmware;
  c.kernel = spec.kernel;
  c.initrd = spec.initrd;
  c.kernel_cmdline = spec.kernel_cmdline;
  c.root_disk = spec.root_disk;
  c.scratch_disk = spec.scratch_disk;
  c.scratch_format = spec.scratch_format;
  c.cache_mode = spec.cache_mode;
  c.aio = spec.io;
  c.console_log = spec.console_log;
  c.qmp_socket = "/run/q/qmp.sock";
  c.agent_socket = "/run/q/qga.sock";
  c.agent_port_name = spec.agent_port_name;
  c.name = spec.name;
  auto ours = qemu::build_qemu_argv(c);
  CHECK(option_value(theirs, "-machine").starts_with("pc-q35-"));
  CHECK(option_value(ours, "-machine") == "q35");
  for (auto* option : {"-accel", "-cpu", "-bios", "-kernel", "-initrd", "-append"}) {
    INFO(option);
    CHECK(option_value(theirs, option) == option_value(ours, option));
  }
  CHECK(option_value(theirs, "-m") + "M" == option_value(ours, "-m"));
  CHECK(option_value(theirs, "-smp").starts_with(option_value(ours, "-smp") + ","));
  for (auto* flag : {"-nodefaults", "-no-user-config"})
    CHECK((std::find(theirs.begin(), theirs.end(), flag) != theirs.end() &&
           std::find(ours.begin(), ours.end(), flag) != ours.end()));
  // The same two disks in the same order (vda root, vdb scratch), with O_DIRECT and native aio.
  auto files = [](const std::vector<std::string>& argv, const std::string& key) {
    std::vector<std::string> out;
    for (auto& a : argv)
      for (auto at = a.find(key); at != std::string::npos; at = a.find(key, at + 1)) {
        auto start = at + key.size();
        out.push_back(a.substr(start, a.find_first_of(",\"", start) - start));
      }
    return out;
  };
  std::vector<std::string> disks{spec.root_disk, spec.scratch_disk};
  CHECK(files(theirs, "\"filename\":\"") == disks);
  CHECK(files(ours, "file=") == disks);
  auto joined = [](const std::vector<std::string>& argv) {
    std::string all;
    for (auto& a : argv)
      all += a + " ";
    return all;
  };
  CHECK(joined(theirs).find("\"aio\":\"native\"") != std::string::npos);
  CHECK(joined(theirs).find("\"direct\":true") != std::string::npos);
  CHECK(joined(ours).find("cache=none,aio=native") != std::string::npos);
  CHECK(joined(theirs).find("\"name\":\"org.qemu.guest_agent.0\"") != std::string::npos);
  CHECK(joined(ours).find("name=org.qemu.guest_agent.0") != std::string::npos);
  // The virtio devices on pcie.0, as QEMU places them: no pcie-root-port, whose enumeration
  // under TCG cost the guest's kernel part of a second.
  CHECK(joined(theirs).find("pcie-root-port") == std::string::npos);
  CHECK(joined(theirs).find("\"driver\":\"virtio-blk-pci\",\"bus\":\"pcie.0\"") != std::string::npos);
  CHECK(joined(theirs).find("\"driver\":\"virtio-serial-pci\",\"id\":\"virtio-serial0\",\"bus\":\"pcie.0\"") !=
        std::string::npos);
  // No network device on either side.
  for (auto* net : {"-netdev", "-net"})
    CHECK(std::find(theirs.begin(), theirs.end(), net) == theirs.end());
  CHECK(joined(theirs).find("virtio-net") == std::string::npos);
  CHECK(option_value(ours, "-nic") == "none");

  auto xml = build_domain_xml(spec);
  CHECK(xml.find("<interface") == std::string::npos);
  CHECK(xml.find("<graphics") == std::string::npos);
  CHECK(xml.find("<acpi/>") != std::string::npos);
  CHECK(xml.find("<on_reboot>destroy</on_reboot>") != std::string::npos);
  CHECK(xml.find("name='org.qemu.guest_agent.0'") != std::string::npos);
  CHECK(attribute_from_xml(xml, "type", "machine") == "q35");
  CHECK(attribute_from_xml(xml, "cpu", "mode") == "maximum");
  CHECK(element_text_from_xml(xml, "cmdline") == tcg_spec().kernel_cmdline);
  CHECK(owner_from_xml(xml) == "vm 4242");
  // The memory floor is the qemu platform's (-m at least 64M).
  auto tiny = tcg_spec();
  tiny.memory_bytes = 1 << 20;
  CHECK(element_text_from_xml(build_domain_xml(tiny), "memory") == "64");
}

TEST_CASE("XML escaping round-trips through the readers") {
  CHECK(xml_escape("a&b<c>'d\"") == "a&amp;b&lt;c&gt;&apos;d&quot;");
  auto xml = build_domain_xml(kvm_spec());
  CHECK(owner_from_xml(xml) == std::nullopt); // no owner: no <metadata>
  auto s = kvm_spec();
  s.owner = "host<1> & 7";
  CHECK(owner_from_xml(build_domain_xml(s)) == "host<1> & 7");
  CHECK(attribute_from_xml("<serial type='file'><source path='/a&apos;b'/></serial>", "source", "path") == "/a'b");
  CHECK(attribute_from_xml("<typex machine='no'/><type machine=\"pc-q35-7.2\">hvm</type>", "type", "machine") == "pc-q35-7.2");
  CHECK(attribute_from_xml("<cpu/>", "cpu", "mode") == std::nullopt);
}

TEST_CASE("the canonical machine and CPU mode are read back from a live domain's XML") {
  auto live = data_file("libvirt/9.0.0/live-domain.xml");
  CHECK(attribute_from_xml(live, "type", "machine") == "pc-q35-7.2");
  CHECK(attribute_from_xml(live, "cpu", "mode") == "maximum");
  CHECK(owner_from_xml(live).has_value());
}

TEST_CASE("domain type: kvm only when libvirt offers it and the host's KVM really works") {
  auto pvm = "the KVM module is PVM (/sys/module/kvm_pvm), which boots only PVM-enabled guest kernels";
  auto d = decide_domain_type("auto", true, false, pvm);
  CHECK(d.domain_type == "qemu");
  CHECK(d.accel == "tcg");
  CHECK(d.reason == std::string("auto: KVM not usable: libvirt offers kvm, but ") + pvm);
  // The qemu platform's reason is quoted without its own "auto: KVM not usable: " prefix.
  d = decide_domain_type("auto", true, false, std::string("auto: KVM not usable: ") + pvm);
  CHECK(d.reason == std::string("auto: KVM not usable: libvirt offers kvm, but ") + pvm);
  d = decide_domain_type("auto", true, true, "");
  CHECK(d.domain_type == "kvm");
  CHECK(d.accel == "kvm");
  d = decide_domain_type("auto", false, true, "");
  CHECK(d.domain_type == "qemu");
  CHECK(d.reason.find("does not offer domain type kvm") != std::string::npos);
  d = decide_domain_type("auto", true, std::nullopt, "");
  CHECK(d.domain_type == "kvm");
  CHECK(d.reason == "auto: libvirt on the remote host offers kvm");
  d = decide_domain_type("kvm", true, false, pvm);
  CHECK(d.domain_type.empty());
  CHECK(d.reason.find("use --accel tcg") != std::string::npos);
  d = decide_domain_type("tcg", true, true, "");
  CHECK(d.domain_type == "qemu");
  CHECK(d.reason == "requested with --accel tcg");
}

TEST_CASE("agent replies as virDomainQemuAgentCommand returns them (recorded)") {
  auto replies = data_file("libvirt/9.0.0/agent-replies.txt");
  std::vector<std::string> lines;
  for (std::size_t start = 0; start < replies.size();) {
    auto nl = replies.find('\n', start);
    auto line = replies.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (!line.empty() && line[0] != '#')
      lines.push_back(line);
    start = nl == std::string::npos ? replies.size() : nl + 1;
  }
  REQUIRE(lines.size() >= 3);
  // guest-ping, guest-exec, guest-exec-status, in this order.
  CHECK(parse_agent_reply("guest-ping", lines[0]).as_object().empty());
  CHECK(parse_agent_reply("guest-exec", lines[1]).as_object().contains("pid"));
  auto status = parse_agent_reply("guest-exec-status", lines[2]).as_object();
  CHECK(status.at("exited").as_bool());
  CHECK_THROWS_AS(parse_agent_reply("guest-file-open", R"({"error":{"class":"GenericError","desc":"No such file"}})"),
                  vm::AgentCommandError);
  CHECK_THROWS_WITH_AS(parse_agent_reply("guest-exec", "not json"), doctest::Contains("not a JSON object"), Error);
  CHECK_THROWS_WITH_AS(parse_agent_reply("guest-exec", "{}"), doctest::Contains("no \"return\""), Error);
}

TEST_CASE("agent timeouts become whole seconds, at least one") {
  CHECK(agent_timeout_seconds(std::chrono::milliseconds(1)) == 1);
  CHECK(agent_timeout_seconds(std::chrono::milliseconds(1000)) == 1);
  CHECK(agent_timeout_seconds(std::chrono::milliseconds(1001)) == 2);
  CHECK(agent_timeout_seconds(std::chrono::milliseconds(30000)) == 30);
}

TEST_CASE("URIs: local or remote, and what to do when connecting fails") {
  CHECK(is_local_uri("qemu:///system"));
  CHECK(is_local_uri("qemu:///session"));
  CHECK(is_local_uri("qemu+unix:///system"));
  CHECK_FALSE(is_local_uri("qemu+ssh://root@bench-2/system"));
  CHECK_FALSE(is_local_uri("qemu+tcp://10.0.0.5/system"));
  CHECK(connect_fix("qemu:///system", "Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory")
            .find("libvirtd -d") != std::string::npos);
  CHECK(connect_fix("qemu+ssh://root@bench-2/system", "Cannot recv data: Host key verification failed.")
            .find("ssh") != std::string::npos);
}

TEST_CASE("a --host's libvirtd: the URI of its forwarded socket, and which --libvirt-uri can name it") {
  CHECK(forwarded_libvirt_uri("/run/vb/run-1/libvirtd.sock") == "qemu:///system?socket=/run/vb/run-1/libvirtd.sock");
  CHECK(forwarded_libvirt_uri("/tmp/a b&c=d%e#f+g?h'i\"") ==
        "qemu:///system?socket=/tmp/a%20b%26c%3Dd%25e%23f%2Bg%3Fh%27i%22");
  CHECK(remote_socket_of_uri("qemu:///system", "ssh://h").empty());
  CHECK(remote_socket_of_uri("", "ssh://h").empty());
  CHECK(remote_socket_of_uri("qemu:///system?socket=/run/libvirt/virtqemud-sock", "ssh://h") ==
        "/run/libvirt/virtqemud-sock");
  for (const char* other : {"qemu:///session", "qemu+ssh://root@other/system", "qemu:///system?socket=rel",
                            "qemu:///system?socket=/a&mode=direct", "qemu:///system?socket=/a%20b", "test:///default"}) {
    CAPTURE(other);
    CHECK_THROWS_WITH_AS(remote_socket_of_uri(other, "ssh://root@h"),
                         doctest::Contains("through its SSH connection"), UsageError);
  }
}

TEST_CASE("libvirt unescapes the forwarded socket's path: its error names the path itself") {
  auto path = std::string("/nonexistent/a b&c%d+e");
  try {
    open_connection(forwarded_libvirt_uri(path));
    FAIL("connected to a socket that does not exist");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("'" + path + "'") != std::string::npos);
  }
}

TEST_CASE("a connection to a libvirtd that does not answer names the URI, libvirt's message and the fix") {
  auto uri = "qemu:///system?socket=/nonexistent/libvirt-sock";
  CHECK_THROWS_WITH_AS(open_connection(uri),
                       doctest::Contains("connect to libvirt at qemu:///system?socket=/nonexistent/libvirt-sock: "),
                       Error);
  try {
    open_connection(uri);
  } catch (const Error& e) {
    std::string what = e.what();
    CHECK(what.find("No such file or directory") != std::string::npos);
    CHECK(what.find("libvirtd -d") != std::string::npos);
  }
}

TEST_CASE("access(2) for the qemu.conf user, from the owner, group and mode bits") {
  std::vector<unsigned> qemu_groups{64055, 108}; // libvirt-qemu, kvm
  CHECK_FALSE(can_read_write(64055, qemu_groups, 0, 0, 0600)); // the kernel's /dev/kvm without udev
  CHECK(can_read_write(64055, qemu_groups, 0, 108, 0660));      // Debian's udev rule: root:kvm 0660
  CHECK_FALSE(can_read_write(64055, qemu_groups, 0, 108, 0640));
  CHECK(can_read_write(64055, qemu_groups, 0, 0, 0666));
  CHECK(can_read_write(0, {0}, 0, 0, 0600));                    // qemu.conf user = "root"
  CHECK(can_read_write(64055, qemu_groups, 64055, 0, 0600));
  CHECK_FALSE(can_read_write(64055, qemu_groups, 64055, 108, 0066)); // the owner gets the owner bits only
}

TEST_CASE("qemu.conf's user and group, Debian's defaults when commented out") {
  // Debian 12's shipped qemu.conf has only the commented defaults.
  CHECK(qemu_conf_user_group("#user = \"libvirt-qemu\"\n#group = \"libvirt-qemu\"\n") ==
        std::pair<std::string, std::string>("libvirt-qemu", "libvirt-qemu"));
  CHECK(qemu_conf_user_group("user = \"root\"\n  group=\"+0\"  # comment\nuser_xattr = \"x\"\ngroups = \"y\"\n") ==
        std::pair<std::string, std::string>("root", "+0"));
  CHECK(qemu_conf_user_group("user = \"a\"\nuser = \"b\"").first == "b");
}

TEST_CASE("libvirtd re-probes QEMU on every lookup when its probe and its /dev/kvm check disagree") {
  // This host as found: PVM KVM (the probe enables it), /dev/kvm root:root 0600, libvirt 9.0's
  // default user libvirt-qemu (qemu.conf group libvirt-qemu, primary group kvm).
  KvmDeviceFacts f;
  f.exists = true;
  f.owner_uid = 0;
  f.owner_gid = 0;
  f.mode = 0600;
  f.qemu_uid = 64055;
  f.qemu_gids = {64055, 108};
  f.kvm_offered = true;
  auto problem = capabilities_cache_problem(f);
  CHECK(problem.find("probes QEMU again on every capabilities lookup") != std::string::npos);
  CHECK(problem.find("not read/writable by qemu.conf's user libvirt-qemu:libvirt-qemu") != std::string::npos);
  CHECK(problem.find("CAP_DAC_OVERRIDE") != std::string::npos);
  CHECK(capabilities_cache_fix(f).starts_with("chgrp kvm /dev/kvm && chmod 0660 /dev/kvm"));
  // After the fix (what Debian's udev does): no problem.
  f.owner_gid = 108;
  f.mode = 0660;
  CHECK(capabilities_cache_problem(f).empty());
  // The qemu.conf user is root: its check passes whatever the mode.
  f.owner_gid = 0;
  f.mode = 0600;
  f.qemu_uid = 0;
  f.qemu_user = f.qemu_group = "root";
  CHECK(capabilities_cache_problem(f).empty());
  // An unknown user cannot use it.
  f.qemu_uid.reset();
  CHECK_FALSE(capabilities_cache_problem(f).empty());
  // The other way round: open to the user, but QEMU's probe did not enable KVM.
  f.qemu_uid = 64055;
  f.qemu_user = f.qemu_group = "libvirt-qemu";
  f.mode = 0666;
  f.kvm_offered = false;
  CHECK(capabilities_cache_problem(f).find("should be usable now") != std::string::npos);
  CHECK(capabilities_cache_fix(f).find("chmod 0600 /dev/kvm") != std::string::npos);
  // No /dev/kvm, or neither side sees KVM: the cache holds.
  f.mode = 0600;
  CHECK(capabilities_cache_problem(f).empty());
  f.exists = false;
  f.kvm_offered = true;
  CHECK(capabilities_cache_problem(f).empty());
}
