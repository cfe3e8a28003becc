// The suites that ship inside virtbench. Keys are sysbench's own option names.
#include "suite.hpp"

#include <map>

namespace virtbench {

namespace {

const char* const k_coen241_hw1 = R"(# COEN 241 HW1 "System vs OS Virtualization", exactly as the assignment ran it,
# but one iteration at a time (the original script started five at once with `&`).
name = "coen241-hw1"
description = "The assignment's four sysbench experiments, 5 iterations each"
iterations = 5

[[experiment]]
name = "exp1-cpu-2000"
workload = "cpu"
cpu-max-prime = 2000
time = 10

[[experiment]]
name = "exp2-cpu-20000"
workload = "cpu"
cpu-max-prime = 20000
time = 150

[[experiment]]
name = "exp3-fileio-rndrw"
workload = "fileio"
threads = 16
file-total-size = "100M"
file-test-mode = "rndrw"
time = 10

[[experiment]]
name = "exp4-fileio-rndrw-async"
workload = "fileio"
threads = 16
file-total-size = "100M"
file-test-mode = "rndrw"
file-io-mode = "async"
time = 10
)";

const char* const k_quick = R"(# The assignment's four shapes, short enough for a first look (about a minute per platform).
name = "quick"
description = "The four COEN 241 experiment shapes, 3 short iterations each"
iterations = 3

[[experiment]]
name = "exp1-cpu-2000"
workload = "cpu"
cpu-max-prime = 2000
time = 3

[[experiment]]
name = "exp2-cpu-20000"
workload = "cpu"
cpu-max-prime = 20000
time = 4
warmup = 0

[[experiment]]
name = "exp3-fileio-rndrw"
workload = "fileio"
threads = 16
file-total-size = "32M"
file-test-mode = "rndrw"
time = 3

[[experiment]]
name = "exp4-fileio-rndrw-async"
workload = "fileio"
threads = 16
file-total-size = "32M"
file-test-mode = "rndrw"
file-io-mode = "async"
time = 3
)";

const char* const k_coen241_hw1_matrix = R"(# COEN 241 HW1's configuration variations in one run: the QEMU disk as raw or
# qcow2, -smp 1 or 2, -m 1G or 2G; docker run --cpus 1 or 2, --memory 1G or 2G; on the
# assignment's four experiments, shorter (10 s each, 3 iterations). One factor at a
# time from the defaults (2 vCPUs, 2 GiB, raw), so "x default" in the report's matrix
# table is each variation's own effect, and the run stays under an hour under TCG on a
# 2-core host (a full cross product would be 12 VMs and containers instead of 7).
# Run it with --platform native,qemu,docker.
name = "coen241-hw1-matrix"
description = "The assignment's variations (raw/qcow2, 1/2 vCPUs, 1/2 GiB; docker 1/2 CPUs, 1/2 GiB) on its four experiments, 3 iterations of 10 s"
iterations = 3

[[matrix.points]]
platform = "qemu"
vcpus = 2
memory = "2G"
scratch-format = "raw"

[[matrix.points]]
platform = "qemu"
scratch-format = "qcow2"

[[matrix.points]]
platform = "qemu"
vcpus = 1

[[matrix.points]]
platform = "qemu"
memory = "1G"

[[matrix.points]]
platform = "docker"
cpus = 2
memory = "2G"

[[matrix.points]]
platform = "docker"
cpus = 1

[[matrix.points]]
platform = "docker"
memory = "1G"

[[experiment]]
name = "exp1-cpu-2000"
workload = "cpu"
cpu-max-prime = 2000
time = 10

[[experiment]]
name = "exp2-cpu-20000"
workload = "cpu"
cpu-max-prime = 20000
time = 10

[[experiment]]
name = "exp3-fileio-rndrw"
workload = "fileio"
threads = 16
file-total-size = "100M"
file-test-mode = "rndrw"
time = 10

[[experiment]]
name = "exp4-fileio-rndrw-async"
workload = "fileio"
threads = 16
file-total-size = "100M"
file-test-mode = "rndrw"
file-io-mode = "async"
time = 10
)";

const std::map<std::string, const char*, std::less<>> k_builtin = {
    {"coen241-hw1", k_coen241_hw1},
    {"coen241-hw1-matrix", k_coen241_hw1_matrix},
    {"quick", k_quick},
};

} // namespace

std::vector<std::string> builtin_suite_names() {
  std::vector<std::string> names;
  for (auto& [name, text] : k_builtin)
    names.push_back(name);
  return names;
}

const char* builtin_suite_text(std::string_view name) {
  auto it = k_builtin.find(name);
  return it == k_builtin.end() ? nullptr : it->second;
}

} // namespace virtbench
