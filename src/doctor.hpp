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
// accepted), its /proc, sysbench and its version, drop_caches, free space in /var/tmp.
std::vector<Check> run_remote_doctor(const std::string& host_url, const std::string& ssh_config);

boost::json::object doctor_to_json(const std::vector<Check>& checks);

} // namespace virtbench
