// parse_sysbench_output on any text, for the workload this target is built for
// (VIRTBENCH_FUZZ_WORKLOAD: cpu or fileio). Seeds: tests/data/sysbench/.
#include "fuzz/fuzz.hpp"
#include "sysbench.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace virtbench;
  auto text = fuzz::text_of(data, size);
  fuzz::refusing_only_with_error([&] {
    auto m = parse_sysbench_output(text, Workload::VIRTBENCH_FUZZ_WORKLOAD);
    (void)metrics_to_json(m);
  });
  fuzz::refusing_only_with_error([&] { (void)parse_sysbench_version(text); });
  return 0;
}
