#pragma once

#include <filesystem>
// Facts about, and operations on, the host virtbench runs on.

#include "platform.hpp"

#include <boost/json/object.hpp>

namespace virtbench {

// kernel, cpu_model, cpus, memory_bytes, hostname, and the performance-relevant settings
// (CPU governor, transparent huge pages, mitigations) for results.json's "host".
boost::json::object describe_host();

// True when this process may write /proc/sys/vm/drop_caches.
bool can_drop_host_caches();

// sync, then `3 > /proc/sys/vm/drop_caches` on the host, with "Cached:" around it.
// Throws Error suggesting --no-drop-caches when not permitted.
CacheDrop drop_host_caches();

// KiB of `path` in the host's page cache (mmap + mincore), e.g. a VM's scratch disk file.
std::uint64_t resident_kib(const std::filesystem::path& path);

// The host a run measures, as the core sees it: this one (local_host()), or one reached
// over SSH (remote_host.hpp). Drivers see it as its HostServices.
class Host : public HostServices {
public:
  // results.json's "host" (describe_host() here).
  virtual boost::json::object describe() = 0;
  // True when the caches can be dropped there (/proc/sys/vm/drop_caches is writable).
  virtual bool can_drop_caches() = 0;
  // The host's /proc/stat, for the host-side sampler.
  virtual awaitable<std::string> read_proc_stat() = 0;
  // Free bytes on the filesystem holding `path` (its nearest existing parent). Throws Error.
  virtual std::uint64_t free_bytes(const std::filesystem::path& path) = 0;
};

// This host (src/host_services.cpp): the functions above, the guest image and sysbench's
// version parser, child processes for exec.
Host& local_host();

// The HostServices handed to drivers when the run is on this host: local_host().
HostServices& host_services();

// The host's /proc/stat (for samplers).
awaitable<std::string> read_host_proc_stat();

} // namespace virtbench
