#pragma once
// The per-run disks of a virtbench guest, shared by the qemu and libvirt platforms: a
// qcow2 overlay on the base image, and fileio's scratch disk (ext4 made on the host).

#include "util/asio.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace virtbench::vm {

// True for cache modes that open images with O_DIRECT (the host page cache is bypassed).
bool cache_mode_bypasses_host_cache(const std::string& cache_mode);
// aio=native where QEMU supports it (O_DIRECT: cache=none/directsync), else threads.
std::string aio_for_cache_mode(const std::string& cache_mode);

// The scratch disk's size for `data_bytes` of fileio files: room for ext4's metadata
// and sysbench's own slack, at least 512 MiB, rounded up to a MiB.
std::uint64_t scratch_disk_bytes(std::uint64_t data_bytes);

// qemu-img create -f qcow2 -b base -F qcow2 overlay. Throws Error with qemu-img's stderr.
awaitable<void> create_overlay(std::filesystem::path base, std::filesystem::path overlay);

// DIR/scratch.raw (or .qcow2) sized by scratch_disk_bytes(data_bytes), formatted ext4 with
// its inode tables and journal initialised now (no ext4lazyinit writes while fileio is
// measured). format: raw | qcow2. Returns the disk's path.
awaitable<std::filesystem::path> create_scratch_disk(std::filesystem::path dir, std::uint64_t data_bytes,
                                                     std::string format);

// The argvs that make the same disks on another host, run there one after another through
// HostServices::exec (a remote QEMU's, in its directory `dir` there): the overlay on `base`,
// then the scratch disk's file (truncate), ext4 on it, and for qcow2 its conversion and the
// raw file's removal. No I/O. `scratch_path` is set to the scratch disk's path.
std::vector<std::vector<std::string>> remote_disk_argvs(const std::string& base, const std::string& dir,
                                                        std::uint64_t data_bytes, const std::string& format,
                                                        std::string& scratch_path);

} // namespace virtbench::vm
