// The QMP state machine on any byte stream from "QEMU", fed in chunks whose sizes come from
// the input's first byte; qmp_capabilities is sent when the greeting arrives, as the client
// does, so the negotiating and ready states are reached too. Seeds: tests/data/qmp/.
#include "drivers/qemu/qmp_protocol.hpp"
#include "fuzz/fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace virtbench;
  if (size == 0)
    return 0;
  qemu::QmpProtocol qmp;
  fuzz::refusing_only_with_error([&] {
    fuzz::feed_in_chunks(fuzz::text_of(data + 1, size - 1), data[0] % 64 + 1, [&](std::string_view piece) {
      qmp.feed(piece);
      while (auto m = qmp.next()) {
        std::uint64_t id = 0;
        if (m->kind == qemu::QmpMessage::Kind::greeting && qmp.state() == qemu::QmpProtocol::State::negotiating)
          (void)qmp.encode("qmp_capabilities", {}, id);
        if (m->kind == qemu::QmpMessage::Kind::reply) {
          fuzz::refusing_only_with_error([&] { (void)qemu::parse_query_version(m->value); });
          (void)qemu::parse_query_status(m->value);
        }
        if (m->kind == qemu::QmpMessage::Kind::error)
          (void)vm::describe_qmp_error(m->value);
      }
      if (qmp.ready()) {
        std::uint64_t id = 0;
        (void)qmp.encode("query-status", {}, id);
      }
    });
  });
  return 0;
}
