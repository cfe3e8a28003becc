// The results.json loader behind report, compare and history --add, on any text, and the
// analysis every one of them runs first on what it loaded (report_model: the metric series
// per experiment and platform, their statistics, the slowdowns against native).
// Seeds: tests/data/results/.
#include "fuzz/fuzz.hpp"
#include "report_model.hpp"
#include "results.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace virtbench;
  fuzz::refusing_only_with_error([&] {
    auto results = parse_results(fuzz::text_of(data, size), "results.json");
    (void)analyze(results);
  });
  return 0;
}
