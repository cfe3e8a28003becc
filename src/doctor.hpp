#pragma once
// `virtbench doctor`: what works on this host, what does not, and the fix for each.

#include <boost/json/object.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace virtbench {

struct Check {
  std::string name;   // "qemu", "kvm", "docker", "guest image" ...
  std::string status; // "ok", "warn" or "fail"
  std::string detail; // what was found
  std::string fix;    // what to do; empty when ok
};

// Runs every check (no check throws; a failure is a "fail" row).
std::vector<Check> run_doctor(const std::filesystem::path& data_dir);

boost::json::object doctor_to_json(const std::vector<Check>& checks);

} // namespace virtbench
