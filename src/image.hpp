#pragma once
// The guest image built by `virtbench image build` from guest-images/: one root filesystem
// as a VM disk (with its kernel and initrd) and as a container image, so the VM and the
// container run the very same sysbench binary.

#include "platform.hpp" // GuestImage

#include <boost/json/object.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace virtbench {

// The kernel command line the guest must be booted with (direct kernel boot); the qemu
// and libvirt platforms add guest_kernel_tuning() to it (guest_kernel_cmdline()).
inline constexpr const char* k_guest_kernel_cmdline =
    "console=ttyS0 root=/dev/vda rw init=/sbin/virtbench-init quiet panic=-1";

// The host's TSC frequency in kHz, from /proc/cpuinfo's "bogomips" (x86 kernels derive
// loops_per_jiffy, and so bogomips, from the TSC: bogomips = tsc_khz / 500). nullopt when
// the text has no bogomips, or the "tsc" or "constant_tsc" flag is missing.
std::optional<std::uint64_t> host_tsc_khz(std::string_view cpuinfo);

// Boot options that spare the guest kernel work it does slowly under TCG: no TSC and delay
// loop calibration (tsc_early_khz=, lpj=; only with a host TSC frequency, and lpj= only
// with the guest's HZ), no crypto self-tests, one serial port probed, the CPU's RNG trusted.
// The guest's TSC runs at the host's under TCG and (by default) under KVM. On microvm also
// tsc=reliable: it has no HPET or ACPI PM timer, and under TCG the kernel finds the vCPUs'
// TSCs unsynchronized, so its clock would be jiffies (4 ms steps) for everything timed inside.
std::string guest_kernel_tuning(std::optional<std::uint64_t> tsc_khz, int guest_hz,
                                const std::string& machine = "q35");

// k_guest_kernel_cmdline and guest_kernel_tuning() for this image on this host (reads
// /proc/cpuinfo) and machine type; what the qemu and libvirt platforms boot. For a remote
// libvirt host, this_host = false leaves out what depends on the host.
std::string guest_kernel_cmdline(const GuestImage& image, bool this_host = true, const std::string& machine = "q35");

// Where the image lives under a data directory.
std::filesystem::path guest_image_dir(const std::filesystem::path& data_dir);

// Loads the built image; throws Error naming what is missing and saying to run
// `virtbench image build` (tools/setup does it too).
GuestImage load_guest_image(const std::filesystem::path& data_dir);
// The same for an image directory itself (e.g. a build's output before it is installed).
GuestImage load_guest_image_dir(const std::filesystem::path& image_dir);
// The image described by `manifest_text` (manifest.json) with its files under `dir` (which
// may be on another host; vmlinux is left empty). No I/O; throws Error on invalid JSON.
GuestImage guest_image_from_manifest(const std::filesystem::path& dir, std::string_view manifest_text);

} // namespace virtbench
