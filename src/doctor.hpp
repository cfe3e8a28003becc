#pragma once
// `virtbench doctor`: what works on this host, what does not, and the fix for each.

#include "driver.hpp" // Check

#include <boost/json/object.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace virtbench {

// Runs every check (no check throws; a failure is a "fail" row).
std::vector<Check> run_doctor(const std::filesystem::path& data_dir);

// Checks a remote host over SSH (`doctor --host`): logging in (reachable, host key, key
// accepted), its /proc, sysbench and its version, drop_caches, free space in /var/tmp, then
// each driver's doctor_on_host rows (QEMU and the guest image in `remote_data_dir`, or the
// remote user's default; the engine and libvirtd through forwarded sockets). `data_dir`:
// this host's, whose image the remote one must match.
std::vector<Check> run_remote_doctor(const std::string& host_url, const std::string& ssh_config,
                                     const std::filesystem::path& data_dir, const std::string& remote_data_dir);

boost::json::object doctor_to_json(const std::vector<Check>& checks);

} // namespace virtbench
