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

const std::map<std::string, const char*, std::less<>> k_builtin = {
    {"coen241-hw1", k_coen241_hw1},
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
