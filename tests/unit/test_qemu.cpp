// The qemu driver's pure parts: the accelerator decision, QEMU's command line on q35 and
// microvm, the scratch disk size, the host CPU accounting of the QEMU process, the boot
// timeline from the console, the guest kernel's command line tuning (src/image.hpp), and the
// remote side (remote_qemu.hpp, the disks' argvs) with its scripts run through a real sh.
#include "drivers/qemu/qemu_command.hpp"
#include "drivers/qemu/qemu_process.hpp"
#include "drivers/qemu/remote_qemu.hpp"
#include "drivers/vm/accel.hpp"
#include "drivers/vm/boot_timeline.hpp"
#include "drivers/vm/disks.hpp"
#include "image.hpp"
#include "ssh.hpp"
#include "test_util.hpp"
#include "util/error.hpp"
#include "util/process.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>

using namespace virtbench;
using namespace virtbench::qemu;
using namespace virtbench::vm;

namespace {
const char* k_cpuinfo_vmx = "processor\t: 0\nvendor_id\t: GenuineIntel\n"
                            "flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr vmx ssse3 sse4_1\n"
                            "vmx flags\t: vnmi preemption_timer posted_intr invvpid ept_x_only\n";
const char* k_cpuinfo_svm = "processor\t: 0\nflags\t\t: fpu vme svm lahf_lm\n";
// As on the build machines: no vmx/svm flag at all.
const char* k_cpuinfo_none = "processor\t: 0\nvendor_id\t: GenuineIntel\n"
                             "flags\t\t: fpu vme de pse tsc msr pae hypervisor lahf_lm abm\n"
                             "bugs\t\t: spectre_v1 spectre_v2\n";

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}
// The value after option `opt` (the first occurrence at or after `from`).
std::string after(const std::vector<std::string>& v, const std::string& opt, std::size_t nth = 0) {
  for (std::size_t i = 0; i + 1 < v.size(); ++i)
    if (v[i] == opt && nth-- == 0)
      return v[i + 1];
  return {};
}
} // namespace

TEST_CASE("hardware virtualization is read from the flags line only, as whole words") {
  CHECK(has_hardware_virtualization(k_cpuinfo_vmx));
  CHECK(has_hardware_virtualization(k_cpuinfo_svm));
  CHECK_FALSE(has_hardware_virtualization(k_cpuinfo_none));
  CHECK_FALSE(has_hardware_virtualization("vmx flags\t: vnmi\nflags\t\t: fpu novmx svmx\n"));
  CHECK_FALSE(has_hardware_virtualization(""));
}

TEST_CASE("auto picks KVM only when the flag, /dev/kvm and a non-PVM KVM are all there") {
  auto d = choose_accel("auto", {k_cpuinfo_vmx, true, false});
  CHECK(d.accel == "kvm");
  CHECK(d.kvm_usable);
  CHECK(d.reason.find("auto") == 0);

  SUBCASE("the build machines: PVM KVM and no vmx/svm") {
    d = choose_accel("auto", {k_cpuinfo_none, true, true});
    CHECK(d.accel == "tcg");
    CHECK(d.reason.find("no hardware virtualization flag") != std::string::npos);
    CHECK(d.reason.find("PVM") != std::string::npos);
  }
  SUBCASE("PVM alone is enough to rule KVM out") {
    d = choose_accel("auto", {k_cpuinfo_vmx, true, true});
    CHECK(d.accel == "tcg");
    CHECK(d.reason.find("kvm_pvm") != std::string::npos);
  }
  SUBCASE("no /dev/kvm") {
    d = choose_accel("auto", {k_cpuinfo_svm, false, false});
    CHECK(d.accel == "tcg");
    CHECK(d.reason.find("/dev/kvm") != std::string::npos);
  }
}

TEST_CASE("--accel kvm where KVM does not work is refused with the reason and a fix") {
  auto d = choose_accel("kvm", {k_cpuinfo_none, true, true});
  CHECK(d.accel.empty());
  CHECK(d.reason.find("--accel tcg") != std::string::npos);
  CHECK(choose_accel("kvm", {k_cpuinfo_vmx, true, false}).accel == "kvm");
  CHECK(choose_accel("tcg", {k_cpuinfo_vmx, true, false}).accel == "tcg");
  CHECK(choose_accel("tcg", {k_cpuinfo_vmx, true, false}).reason == "requested with --accel tcg");
}

TEST_CASE("QEMU's command line: direct boot, no network, virtio disks with the cache mode, sockets") {
  QemuCommand c;
  c.accel = "tcg";
  c.cpu_model = "max";
  c.vcpus = 4;
  c.memory_bytes = 3ull << 30;
  c.kernel = "/img/vmlinuz";
  c.initrd = "/img/initrd.img";
  c.kernel_cmdline = "console=ttyS0 root=/dev/vda";
  c.root_disk = "/run/x/root-overlay.qcow2";
  c.scratch_disk = "/run/x/odd,name.raw";
  c.cache_mode = "writeback";
  c.aio = aio_for_cache_mode(c.cache_mode);
  c.console_log = "/out/raw/qemu/console.log";
  c.qmp_socket = "/run/x/qmp.sock";
  c.agent_socket = "/run/x/qga.sock";
  c.agent_port_name = "org.qemu.guest_agent.0";
  c.name = "virtbench-test";
  c.extra_args = {"-d", "guest_errors"};
  auto argv = build_qemu_argv(c);

  CHECK(argv.front() == "qemu-system-x86_64");
  CHECK(after(argv, "-accel") == "tcg");
  CHECK(after(argv, "-cpu") == "max");
  CHECK(after(argv, "-machine") == "q35");
  CHECK(after(argv, "-smp") == "4");
  CHECK(after(argv, "-m") == "3072M");
  CHECK(after(argv, "-nic") == "none");
  CHECK(after(argv, "-kernel") == "/img/vmlinuz");
  CHECK(after(argv, "-append") == "console=ttyS0 root=/dev/vda");
  CHECK(after(argv, "-drive", 0) == "file=/run/x/root-overlay.qcow2,if=none,id=root,format=qcow2,cache=writeback,aio=threads");
  // A comma in a path is doubled, or QEMU would read the rest as options.
  CHECK(after(argv, "-drive", 1) == "file=/run/x/odd,,name.raw,if=none,id=scratch,format=raw,cache=writeback,aio=threads");
  CHECK(contains(argv, "socket,id=qmp,path=/run/x/qmp.sock,server=on,wait=off"));
  CHECK(contains(argv, "virtserialport,bus=vser0.0,chardev=qga,name=org.qemu.guest_agent.0"));
  CHECK(contains(argv, "file,id=console,path=/out/raw/qemu/console.log"));
  CHECK(contains(argv, "-nodefaults"));
  // Extra arguments come last, so they can override.
  CHECK(argv[argv.size() - 2] == "-d");
  CHECK(argv.back() == "guest_errors");
}

TEST_CASE("aio=native only where QEMU opens images with O_DIRECT") {
  CHECK(aio_for_cache_mode("none") == "native");
  CHECK(aio_for_cache_mode("directsync") == "native");
  CHECK(aio_for_cache_mode("writeback") == "threads");
  CHECK(aio_for_cache_mode("writethrough") == "threads");
  CHECK(aio_for_cache_mode("unsafe") == "threads");
  CHECK(cache_mode_bypasses_host_cache("none"));
  CHECK_FALSE(cache_mode_bypasses_host_cache("writeback"));
}

TEST_CASE("the scratch disk leaves room for ext4 and is never tiny") {
  constexpr std::uint64_t mib = 1 << 20;
  CHECK(scratch_disk_bytes(0) == 512 * mib);
  CHECK(scratch_disk_bytes(100 * mib) == 512 * mib);
  CHECK(scratch_disk_bytes(2048 * mib) == 2816 * mib);
  CHECK(scratch_disk_bytes(2048 * mib + 1) % mib == 0);
}

TEST_CASE("QEMU's CPU time comes from /proc/PID/stat, whatever its thread names hold") {
  // A real line of qemu-system-x86_64 (utime 2311, stime 43), and one whose comm has ") (".
  auto [user, kernel] = parse_proc_pid_stat_cpu(
      "7291 (qemu-system-x86) S 7286 7291 7286 0 -1 4194560 60337 0 5 0 2311 43 0 0 20 0 9 0 85938 "
      "2585931776 88436 18446744073709551615 1 1 0 0 0 0 0 4096 17987 0 0 0 17 1 0 0 0 0 0\n",
      100);
  CHECK(user == doctest::Approx(23.11));
  CHECK(kernel == doctest::Approx(0.43));
  auto odd = parse_proc_pid_stat_cpu("12 (a) (b c) R 1 12 12 0 -1 0 0 0 0 0 150 50 0 0 20 0 1 0", 100);
  CHECK(odd.first == doctest::Approx(1.5));
  CHECK(odd.second == doctest::Approx(0.5));
  CHECK_THROWS_AS(parse_proc_pid_stat_cpu("12 (short) R 1 2", 100), Error);
}

TEST_CASE("microvm: virtio on virtio-mmio (-device), ACPI on, QEMU's own qboot; q35 can take -bios") {
  QemuCommand c;
  c.kernel = "/img/vmlinux";
  c.initrd = "/img/initrd.img";
  c.root_disk = "/run/x/root.qcow2";
  c.scratch_disk = "/run/x/scratch.raw";
  c.console_log = "/out/console.log";
  c.qmp_socket = "/run/x/qmp.sock";
  c.agent_socket = "/run/x/qga.sock";
  c.agent_port_name = "org.qemu.guest_agent.0";

  auto q35 = build_qemu_argv(c);
  CHECK(after(q35, "-machine") == "q35");
  CHECK(after(q35, "-device", 0) == "virtio-blk-pci,drive=root");
  CHECK(after(q35, "-device", 1) == "virtio-blk-pci,drive=scratch");
  CHECK(after(q35, "-device", 2) == "virtio-serial-pci,id=vser0");
  CHECK_FALSE(contains(q35, "-bios"));
  c.firmware = "/usr/share/qemu/qboot.rom";
  CHECK(after(build_qemu_argv(c), "-bios") == "/usr/share/qemu/qboot.rom");

  c.machine = "microvm";
  c.firmware.clear();
  auto micro = build_qemu_argv(c);
  CHECK(after(micro, "-machine") == "microvm,acpi=on");
  // The root disk first: the guest sees it as vda, the scratch disk as vdb.
  CHECK(after(micro, "-device", 0) == "virtio-blk-device,drive=root");
  CHECK(after(micro, "-device", 1) == "virtio-blk-device,drive=scratch");
  CHECK(after(micro, "-device", 2) == "virtio-serial-device,id=vser0");
  CHECK(after(micro, "-device", 3) == "virtserialport,bus=vser0.0,chardev=qga,name=org.qemu.guest_agent.0");
  CHECK(after(micro, "-serial") == "chardev:console");
  CHECK(after(micro, "-kernel") == "/img/vmlinux");
  CHECK_FALSE(contains(micro, "-bios"));
  for (auto& arg : micro)
    CHECK_MESSAGE(arg.find("-pci") == std::string::npos, arg);

  c.machine = "pc";
  CHECK_THROWS_AS(build_qemu_argv(c), UsageError);
  CHECK(is_known_machine("q35"));
  CHECK(is_known_machine("microvm"));
  CHECK_FALSE(is_known_machine("pc"));
}

TEST_CASE("the boot timeline is read from a real console log: every init step with its uptime") {
  // Recorded from a q35 boot under TCG (tests/data/console/README.md).
  auto steps = parse_boot_timeline(test::data_file("console/6.1.0-50-cloud-amd64/q35.log"));
  REQUIRE(steps.size() == 7);
  CHECK(steps.front().step == "initramfs started");
  CHECK(steps[1].step == "initramfs modules loaded");
  CHECK(steps[2].step == "root mounted");
  CHECK(steps[3].step == "init started");
  CHECK(steps.back().step == "agent started");
  for (std::size_t i = 1; i < steps.size(); ++i)
    CHECK(steps[i].uptime_s >= steps[i - 1].uptime_s);
  CHECK(steps.front().uptime_s > 0.5); // the kernel's own boot comes first
  CHECK(steps.back().uptime_s < 30);

  auto micro = parse_boot_timeline(test::data_file("console/6.1.0-50-cloud-amd64/microvm.log"));
  REQUIRE(micro.size() == steps.size());
  for (std::size_t i = 0; i < micro.size(); ++i)
    CHECK(micro[i].step == steps[i].step);
}

TEST_CASE("boot timeline lines: other lines, \\r, odd numbers and a second boot are skipped") {
  auto steps = parse_boot_timeline("[    0.000000] Linux version 6.1.0\r\n"
                                   "virtbench-init: init started (uptime 2.50s)\r\n"
                                   "virtbench-init: agent on /dev/vport1p1 (pid 115)\r\n"
                                   "virtbench-init: no uptime (uptime ?s)\n"
                                   "virtbench-init: bad (uptime 1.2.3s)\n"
                                   "[    3.1] virtbench-init: agent started (uptime 3.25s)\n"
                                   "virtbench-init: (uptime 4.00s)\n"
                                   "virtbench-init: init started (uptime 1.10s)\n"
                                   "virtbench-init: agent started (uptime 2.00s)");
  REQUIRE(steps.size() == 2);
  CHECK(steps[0].step == "init started");
  CHECK(steps[0].uptime_s == doctest::Approx(2.5));
  CHECK(steps[1].step == "agent started");
  CHECK(steps[1].uptime_s == doctest::Approx(3.25));
  CHECK(parse_boot_timeline("").empty());
  CHECK(parse_boot_timeline("virtbench-init: truncated (uptime 1.2").empty());
}

TEST_CASE("/proc/uptime's first field") {
  CHECK(parse_proc_uptime("12.34 5.67\n").value() == doctest::Approx(12.34));
  CHECK(parse_proc_uptime("7.00\n").value() == doctest::Approx(7.0));
  CHECK_FALSE(parse_proc_uptime("").has_value());
  CHECK_FALSE(parse_proc_uptime("up 12 s").has_value());
  CHECK_FALSE(parse_proc_uptime("-1.0 2.0").has_value());
}

TEST_CASE("the boot timeline in results.json: framed by the kernel's start and the agent's answer") {
  std::vector<BootStep> steps{{"init started", 2.5}, {"agent started", 3.0}};
  auto t = boot_timeline_json(steps, 0.75, 4.0);
  REQUIRE(t.size() == 4);
  CHECK(t[0].as_object().at("step") == "kernel started");
  CHECK(t[0].as_object().at("uptime_s").to_number<double>() == 0.0);
  CHECK(t[0].as_object().at("since_qemu_start_s").to_number<double>() == doctest::Approx(0.75));
  CHECK(t[1].as_object().at("since_qemu_start_s").to_number<double>() == doctest::Approx(3.25));
  CHECK(t[3].as_object().at("step") == "agent answered");
  CHECK(t[3].as_object().at("uptime_s").to_number<double>() == doctest::Approx(3.25));
  CHECK(t[3].as_object().at("since_qemu_start_s").to_number<double>() == doctest::Approx(4.0));

  SUBCASE("without the guest's uptime the agent's answer has only QEMU's clock") {
    auto u = boot_timeline_json(steps, std::nullopt, 4.0);
    REQUIRE(u.size() == 4);
    CHECK_FALSE(u[1].as_object().contains("since_qemu_start_s"));
    CHECK_FALSE(u[3].as_object().contains("uptime_s"));
    CHECK(u[3].as_object().at("since_qemu_start_s").to_number<double>() == doctest::Approx(4.0));
  }
}

TEST_CASE("the guest kernel's tuning: the host's TSC from bogomips, lpj from the guest's HZ") {
  const char* cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu MHz\t\t: 1996.249\n"
                        "flags\t\t: fpu tsc msr constant_tsc nonstop_tsc rdrand\nbogomips\t: 3992.49\n"
                        "processor\t: 1\nbogomips\t: 3992.00\n";
  CHECK(host_tsc_khz(cpuinfo).value() == 1996245);
  CHECK_FALSE(host_tsc_khz("processor\t: 0\nflags\t\t: fpu tsc msr\nbogomips\t: 3992.49\n").has_value());
  CHECK_FALSE(host_tsc_khz("flags\t\t: fpu tsc constant_tsc\n").has_value());
  CHECK_FALSE(host_tsc_khz("").has_value());

  auto tuned = guest_kernel_tuning(1996245, 250);
  CHECK(tuned.find("tsc_early_khz=1996245") != std::string::npos);
  CHECK(tuned.find("lpj=7984980") != std::string::npos);
  CHECK(tuned.find("cryptomgr.notests") != std::string::npos);
  auto no_hz = guest_kernel_tuning(1996245, 0);
  CHECK(no_hz.find("tsc_early_khz=1996245") != std::string::npos);
  CHECK(no_hz.find("lpj=") == std::string::npos);
  auto remote = guest_kernel_tuning(std::nullopt, 250);
  CHECK(remote.find("tsc_early_khz") == std::string::npos);
  CHECK(remote.find("lpj=") == std::string::npos);
  CHECK(remote.find("8250.nr_uarts=1") != std::string::npos);
  // q35 keeps its HPET clock; microvm has none, so its TSC is declared reliable.
  CHECK(tuned.find("tsc=reliable") == std::string::npos);
  CHECK(guest_kernel_tuning(1996245, 250, "microvm").find(" tsc=reliable") != std::string::npos);
}

TEST_CASE("parse_remote_probe: cpuinfo flags, /dev/kvm, PVM, qboot and missing tools") {
  auto f = qemu::parse_remote_probe("flags\t\t: fpu vme vmx sse\nvirtbench:dev_kvm\nvirtbench:qboot\n"
                                    "virtbench:missing qemu-img\nvirtbench:missing \nflags : second\n");
  CHECK(f.cpuinfo == "flags\t\t: fpu vme vmx sse\n");
  CHECK(f.dev_kvm);
  CHECK_FALSE(f.kvm_pvm);
  CHECK(f.qboot);
  CHECK(f.missing == std::vector<std::string>{"qemu-img"});
  auto none = qemu::parse_remote_probe("");
  CHECK(none.cpuinfo.empty());
  CHECK_FALSE(none.dev_kvm);
}

TEST_CASE("the remote probe script runs in a POSIX sh and names what is missing") {
  std::vector<std::string> argv{"sh", "-c", qemu::k_remote_probe_script};
  auto r = run_sync(run_process(argv));
  CHECK(r.exit_code == 0);
  auto f = qemu::parse_remote_probe(r.out);
  CHECK(f.cpuinfo.starts_with("flags"));
}

TEST_CASE("remote_disk_argvs: overlay, truncate, mke2fs and for qcow2 the conversion, paths as data") {
  std::string scratch;
  auto raw = vm::remote_disk_argvs("/img/base.qcow2", "/d", 0, "raw", scratch);
  REQUIRE(raw.size() == 3);
  CHECK(raw[0] == std::vector<std::string>{"qemu-img", "create", "-q", "-f", "qcow2", "-b", "/img/base.qcow2", "-F",
                                           "qcow2", "/d/root-overlay.qcow2"});
  CHECK(raw[1] == std::vector<std::string>{"truncate", "-s", std::to_string(vm::scratch_disk_bytes(0)), "--",
                                           "/d/scratch.raw"});
  CHECK(raw[2].front() == "mke2fs");
  CHECK(raw[2].back() == "/d/scratch.raw");
  CHECK(scratch == "/d/scratch.raw");
  auto qcow2 = vm::remote_disk_argvs("/img/b", "/d; rm -rf $(x)", 1 << 20, "qcow2", scratch);
  REQUIRE(qcow2.size() == 5);
  CHECK(qcow2[3].back() == "/d; rm -rf $(x)/scratch.qcow2");
  CHECK(qcow2[4] == std::vector<std::string>{"rm", "-f", "--", "/d; rm -rf $(x)/scratch.raw"});
  CHECK(scratch == "/d; rm -rf $(x)/scratch.qcow2");
}

TEST_CASE("kill_remote_qemu_argv in a real sh: only a process with the marker, never a bad pid file's") {
  TempDir dir(std::filesystem::temp_directory_path(), "vbtest-rq-$(touch x) 'q' ");
  auto marker = dir.path().string();
  auto pid_file = (dir.path() / "qemu.pid").string();
  auto kill_through_sh = [&](const std::string& m) {
    std::vector<std::string> argv{"sh", "-c", shell_quote(qemu::kill_remote_qemu_argv(pid_file, m, 0))};
    return run_sync(run_process(argv)).exit_code;
  };
  CHECK(kill_through_sh(marker) == 0); // no pid file: nothing to do
  // This test's own pid, whose command line lacks the marker: left alone.
  write_file_atomic(pid_file, std::to_string(::getpid()) + "\n");
  CHECK(kill_through_sh(marker) == 0);
  CHECK(kill_through_sh("/elsewhere") == 0);
  for (std::string bad : {"1; kill -9 0", "$(id)", "-1", "", "0 1"}) {
    write_file_atomic(pid_file, bad);
    CHECK(kill_through_sh(marker) == 0);
  }
  CHECK_FALSE(std::filesystem::exists("x"));
}
