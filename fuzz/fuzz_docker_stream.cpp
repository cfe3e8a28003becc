// Docker's multiplexed stream framing (8-byte headers) on any bytes, fed in chunks whose
// size comes from the first byte. Seeds: tests/data/docker/1.41/exec-start-*.bin.
#include "drivers/docker/protocol.hpp"
#include "fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace virtbench;
  if (size == 0)
    return 0;
  docker::StreamDecoder decoder;
  fuzz::refusing_only_with_error([&] {
    fuzz::feed_in_chunks(fuzz::text_of(data + 1, size - 1), data[0] % 17 + 1,
                         [&](std::string_view piece) { decoder.feed(piece); });
    decoder.finish();
  });
  return 0;
}
