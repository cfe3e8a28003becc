// The SSH text decoders on any text (src/ssh_text.cpp): an ssh:// address from the command
// line, ssh's stderr, the remote wrapper's stderr with its `times`, and the remote host's
// facts, all of which a remote host (or a user) controls. Seeds: tests/data/openssh/.
#include "fuzz/fuzz.hpp"
#include "remote_host.hpp"
#include "ssh.hpp"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace virtbench;
  auto text = fuzz::text_of(data, size);
  fuzz::refusing_only_with_error([&] {
    auto t = parse_ssh_url(text);
    if (t.host.empty() || parse_ssh_url(t.url()).url() != t.url())
      std::abort(); // an accepted address has a host and prints back to itself
  });
  fuzz::refusing_only_with_error([&] {
    SshTarget t{"root", "bench-2", 2222};
    auto failure = classify_ssh_failure(text, t, "");
    if (failure.message.empty())
      std::abort();
  });
  fuzz::refusing_only_with_error([&] {
    std::string err(text);
    (void)take_remote_times(err);
    if (err.size() > text.size())
      std::abort();
  });
  fuzz::refusing_only_with_error([&] { (void)parse_remote_host_facts(text, "ssh://bench-2"); });
  fuzz::refusing_only_with_error([&] {
    std::vector<std::string> argv{std::string(text), "x"};
    (void)shell_quote(argv);
  });
  return 0;
}
