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

// The HostServices handed to drivers (PlatformOptions::host): the functions above, the
// guest image and sysbench's version parser (src/host_services.cpp).
HostServices& host_services();

// The host's /proc/stat (for samplers).
awaitable<std::string> read_host_proc_stat();

} // namespace virtbench
