#pragma once
// The guest image built by `virtbench image build` from guest-images/: one root filesystem
// as a VM disk (with its kernel and initrd) and as a container image, so the VM and the
// container run the very same sysbench binary.

#include <boost/json/object.hpp>

#include <filesystem>
#include <string>

namespace virtbench {

// The kernel command line the guest must be booted with (direct kernel boot).
inline constexpr const char* k_guest_kernel_cmdline =
    "console=ttyS0 root=/dev/vda rw init=/sbin/virtbench-init quiet panic=-1";
// The virtio-serial port name the guest's init starts qemu-ga on.
inline constexpr const char* k_guest_agent_port = "org.qemu.guest_agent.0";

struct GuestImage {
  std::filesystem::path dir;        // DATA_DIR/image
  std::filesystem::path base_qcow2; // root disk; use through a qcow2 overlay, never write it
  std::filesystem::path vmlinuz;
  std::filesystem::path initrd;
  std::filesystem::path rootfs_tar; // for the container image (POST /images/create?fromSrc=-)
  boost::json::object manifest;     // manifest.json: recipe_hash, packages, sysbench_sha256, files ...
  std::string recipe_hash;
  std::string sysbench_sha256;
  std::string sysbench_version;
  std::string kernel_version;
};

// Where the image lives under a data directory.
std::filesystem::path guest_image_dir(const std::filesystem::path& data_dir);

// Loads the built image; throws Error naming what is missing and saying to run
// `virtbench image build` (tools/setup does it too).
GuestImage load_guest_image(const std::filesystem::path& data_dir);
// The same for an image directory itself (e.g. a build's output before it is installed).
GuestImage load_guest_image_dir(const std::filesystem::path& image_dir);

} // namespace virtbench
