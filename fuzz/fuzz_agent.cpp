// The guest agent's decoder on any byte stream, fed in chunks; a 0xFF sync is "sent" at
// the start and again whenever the input's control byte says so, so the resynchronisation
// (drop everything up to the agent's 0xFF) meets stale output, split delimiters and 0xFF
// at line starts. Every reply goes through the answer parsers the operations use.
// Seeds: tests/data/qga/.
#include "drivers/vm/agent_protocol.hpp"
#include "fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace virtbench;
  if (size == 0)
    return 0;
  std::uint8_t control = data[0];
  vm::AgentDecoder decoder;
  decoder.expect_delimiter();
  std::size_t round = 0;
  fuzz::refusing_only_with_error([&] {
    fuzz::feed_in_chunks(fuzz::text_of(data + 1, size - 1), control % 32 + 1, [&](std::string_view piece) {
      decoder.feed(piece);
      if ((control >> 5) != 0 && ++round % (control >> 5) == 0)
        decoder.expect_delimiter();
      while (auto m = decoder.next()) {
        if (m->kind == vm::AgentMessage::Kind::error)
          (void)vm::describe_qmp_error(m->value);
        if (m->kind != vm::AgentMessage::Kind::reply)
          continue;
        fuzz::refusing_only_with_error([&] { (void)vm::parse_exec_status(m->value); });
        fuzz::refusing_only_with_error([&] { (void)vm::parse_exec_started(m->value); });
        fuzz::refusing_only_with_error([&] { (void)vm::parse_file_handle("/proc/stat", m->value); });
        fuzz::refusing_only_with_error([&] { (void)vm::parse_file_read("/proc/stat", m->value); });
      }
    });
  });
  fuzz::refusing_only_with_error([&] { (void)vm::base64_decode(fuzz::text_of(data, size)); });
  return 0;
}
