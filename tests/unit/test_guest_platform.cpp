// vm::GuestPlatform's shared behaviour without a VM: a scripted AgentTransport answers
// (or fails) each agent command, and a test platform answers the failure policy's
// questions (is the VM gone, does it still answer its monitor) as each case needs.
#include "drivers/vm/agent_protocol.hpp"
#include "drivers/vm/guest_platform.hpp"
#include "registry.hpp"
#include "test_util.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <functional>
#include <map>

using namespace virtbench;
using namespace std::chrono_literals;
namespace json = boost::json;

namespace {

// Answers agent commands like qemu-ga, from a table of guest files; `fail` (when set)
// throws instead for the commands it names.
class ScriptedTransport final : public vm::AgentTransport {
public:
  std::map<std::string, std::string> files;             // path -> content
  std::map<std::string, std::exception_ptr> fail;       // execute -> what to throw
  std::vector<std::string> commands;                    // every execute, in order
  std::map<std::string, std::string> written;

  awaitable<json::value> call(json::object command, std::chrono::milliseconds) override {
    auto execute = std::string(command.at("execute").as_string());
    commands.push_back(execute);
    if (auto f = fail.find(execute); f != fail.end())
      std::rethrow_exception(f->second);
    auto& args = command["arguments"];
    if (execute == "guest-exec")
      co_return json::object{{"pid", 7}};
    if (execute == "guest-exec-status")
      co_return json::object{{"exited", true}, {"exitcode", 0}, {"out-data", vm::base64_encode("hi\n")}};
    if (execute == "guest-file-open") {
      m_path = std::string(args.at("path").as_string());
      co_return 1000;
    }
    if (execute == "guest-file-read") {
      auto content = files[m_path];
      co_return json::object{{"count", content.size()}, {"buf-b64", vm::base64_encode(content)}, {"eof", true}};
    }
    if (execute == "guest-file-write")
      written[m_path] = vm::base64_decode(args.at("buf-b64").as_string());
    co_return json::object{};
  }
  awaitable<void> send(json::object, std::chrono::milliseconds) override { co_return; }
  awaitable<void> sync(std::chrono::milliseconds) override { co_return; }

private:
  std::string m_path;
};

class TestPlatform final : public vm::GuestPlatform {
public:
  explicit TestPlatform(ScriptedTransport& transport, std::filesystem::path console) : GuestPlatform(options()) {
    m_agent.emplace(transport);
    m_console_log = console.string();
    m_host_cache_reachable = false; // a host drop needs root; covered by the integration tests
    m_accel = "tcg";
    m_accel_reason = "asked for";
    m_machine = "q35";
    m_cpu_model = "max";
    m_boot_to_ready_s = 3.14159;
    m_guest_sysbench_version = "sysbench 1.0.20";
  }

  // The answers to the policy's questions, and what it asked.
  std::optional<std::string> gone;
  std::string hung;
  std::vector<bool> gone_asked; // may_wait of each question
  int alive_asked = 0, ended = 0;

  std::string name() const override { return "test"; }
  awaitable<void> start() override { co_return; }
  awaitable<void> stop() override { co_return; }
  awaitable<void> freeze() override { co_return; }
  awaitable<void> thaw() override { co_return; }
  awaitable<std::optional<CpuSeconds>> host_accounting() override { co_return std::nullopt; }
  std::optional<HostStorage> fileio_host_storage() const override { return std::nullopt; }

private:
  static PlatformOptions options() {
    PlatformOptions o;
    o.values = default_option_values();
    set_option(o.values, "cache-mode", "writeback", "--");
    set_option(o.values, "scratch-format", "qcow2", "--");
    return o;
  }
  void describe_platform(json::object& d) const override { d["own_key"] = 1; }
  awaitable<std::optional<std::string>> gone_reason(bool may_wait) override {
    gone_asked.push_back(may_wait);
    co_return gone;
  }
  awaitable<std::string> check_alive() override {
    ++alive_asked;
    co_return hung;
  }
  awaitable<std::string> end_hung() override {
    ++ended;
    co_return "the test VM was ended";
  }
};

template <typename E>
std::exception_ptr failure(const std::string& message) {
  return std::make_exception_ptr(E(message));
}

struct Fixture {
  TempDir dir{std::filesystem::temp_directory_path(), "guest-platform-"};
  ScriptedTransport transport;
  std::filesystem::path console = dir.path() / "console.log";
  TestPlatform platform{transport, console};
  Fixture() { write_file_atomic(console, "booting\r\nvirtbench-init: agent started (uptime 1.00s)\r\n"); }

  ExecResult run_true() {
    ExecRequest request;
    request.argv = {"true"};
    return run_sync(platform.exec(std::move(request)));
  }
};

constexpr const char* k_tail = "last console lines (";

} // namespace

TEST_CASE("guest platform: exec and read_file go through the agent") {
  Fixture f;
  f.transport.files["/proc/uptime"] = "12.5 3.0\n";
  auto r = f.run_true();
  CHECK(r.exit_code == 0);
  CHECK(r.out == "hi\n");
  CHECK(run_sync(f.platform.read_file("/proc/uptime")) == "12.5 3.0\n");
  CHECK(f.platform.gone_asked.empty());
  CHECK(f.platform.has_guest_view());
  CHECK(f.platform.scratch_dir() == "/scratch");
}

TEST_CASE("guest platform: a timeout while the VM still answers its monitor is an Error with the console tail") {
  Fixture f;
  f.transport.fail["guest-exec"] = failure<vm::AgentTimeout>("guest agent guest-exec on /q.sock: no answer within the timeout");
  try {
    f.run_true();
    FAIL("no exception");
  } catch (const PlatformLost&) {
    FAIL("lost");
  } catch (const Error& e) {
    std::string m = e.what();
    CHECK(m.starts_with("run true in the guest: guest agent guest-exec on /q.sock: no answer within the timeout\n"));
    CHECK(m.find(k_tail + f.console.string() + "):\n  | booting\n  | virtbench-init: agent started") != std::string::npos);
  }
  CHECK(f.platform.gone_asked == std::vector<bool>{true});
  CHECK(f.platform.alive_asked == 1);
  CHECK(f.platform.ended == 0);
  // Not lost: the next call works.
  f.transport.fail.clear();
  CHECK(f.run_true().exit_code == 0);
}

TEST_CASE("guest platform: a timeout and a failed liveness check lose the platform, for every later call too") {
  Fixture f;
  f.platform.hung = "QMP query-status did not answer within 2 s either";
  f.transport.fail["guest-exec"] = failure<vm::AgentTimeout>("guest agent guest-exec: no answer within the timeout");
  std::string expected = "guest agent guest-exec: no answer within the timeout; QMP query-status did not answer within "
                         "2 s either; the test VM was ended";
  CHECK_THROWS_WITH_AS(f.run_true(), ("run true in the guest: " + expected).c_str(), PlatformLost);
  CHECK(f.platform.ended == 1);
  // The later call says the same cause without asking the VM again.
  f.transport.fail["guest-file-open"] = failure<Error>("guest agent guest-file-open: the socket was closed by QEMU");
  CHECK_THROWS_WITH_AS(run_sync(f.platform.read_file("/proc/stat")), ("read /proc/stat in the guest: " + expected).c_str(),
                       PlatformLost);
  CHECK(f.platform.alive_asked == 1);
  CHECK(f.platform.gone_asked.size() == 1);
}

TEST_CASE("guest platform: a VM that is gone is PlatformLost with its reason and the console tail") {
  Fixture f;
  f.platform.gone = "QEMU exited (signal 9)";
  f.transport.fail["guest-exec"] = failure<Error>("guest agent guest-exec on /q.sock: the socket was closed by QEMU");
  try {
    f.run_true();
    FAIL("no exception");
  } catch (const PlatformLost& e) {
    std::string m = e.what();
    CHECK(m.starts_with("run true in the guest: QEMU exited (signal 9)\n" + std::string(k_tail)));
    CHECK(m.find("  | booting") != std::string::npos);
  }
  CHECK(f.platform.gone_asked == std::vector<bool>{true}); // a channel error: the VM may be on its way out
  CHECK(f.platform.alive_asked == 0);
}

TEST_CASE("guest platform: an error answer proves the VM alive; it is an Error and the exit is not waited for") {
  Fixture f;
  f.transport.fail["guest-file-open"] =
      failure<vm::AgentCommandError>("guest-file-open: GenericError: failed to open file '/nope'");
  CHECK_THROWS_WITH_AS(run_sync(f.platform.read_file("/nope")),
                       "read /nope in the guest: guest-file-open: GenericError: failed to open file '/nope'", Error);
  CHECK(f.platform.gone_asked == std::vector<bool>{false});
  CHECK(f.platform.alive_asked == 0);
}

TEST_CASE("guest platform: PlatformLost from the transport gets the context; UsageError and cancellation pass as they are") {
  Fixture f;
  f.transport.fail["guest-exec"] = failure<PlatformLost>("guest agent guest-exec (via virDomainQemuAgentCommand): "
                                                         "domain is not running");
  CHECK_THROWS_WITH_AS(f.run_true(),
                       "run true in the guest: guest agent guest-exec (via virDomainQemuAgentCommand): domain is not "
                       "running",
                       PlatformLost);
  f.transport.fail["guest-exec"] = failure<UsageError>("bad argument");
  CHECK_THROWS_WITH_AS(f.run_true(), "bad argument", UsageError);
  f.platform.gone_asked.clear();
  f.transport.fail["guest-exec"] =
      std::make_exception_ptr(boost::system::system_error(asio::error::operation_aborted));
  CHECK_THROWS_AS(f.run_true(), boost::system::system_error);
  CHECK(f.platform.gone_asked.empty()); // a cancellation is not a question for the VM
}

TEST_CASE("guest platform: drop_caches drops in the guest with Cached: around it (no host drop when out of reach)") {
  Fixture f;
  f.transport.files["/proc/meminfo"] = "MemTotal: 2000000 kB\nCached:  123456 kB\n";
  auto drops = run_sync(f.platform.drop_caches());
  REQUIRE(drops.size() == 1);
  CHECK(drops[0].where == "guest");
  CHECK(drops[0].cached_before_kib == 123456);
  CHECK(drops[0].holds_data_set);
  CHECK(f.transport.written["/proc/sys/vm/drop_caches"] == "3");
  // A failed guest drop goes through the policy.
  f.transport.fail["guest-exec"] = failure<vm::AgentTimeout>("guest agent guest-exec: no answer within the timeout");
  f.platform.hung = "QMP query-status says the VM is shutdown";
  CHECK_THROWS_AS(run_sync(f.platform.drop_caches()), PlatformLost);
}

TEST_CASE("guest platform: describe() has the common keys, then the platform's") {
  Fixture f;
  auto d = f.platform.describe();
  CHECK(d.at("name") == "test");
  CHECK(d.at("accel") == "tcg");
  CHECK(d.at("accel_reason") == "asked for");
  CHECK(d.at("machine") == "q35");
  CHECK(d.at("cpu_model") == "max");
  CHECK(d.at("cache_mode") == "writeback");
  CHECK(d.at("aio") == "threads");
  CHECK(d.at("scratch_format") == "qcow2");
  CHECK(d.at("fileio_storage") == "virtio scratch disk (qcow2, ext4)");
  CHECK(d.at("boot_to_ready_s").to_number<double>() == doctest::Approx(3.142));
  CHECK(d.at("sysbench_version") == "sysbench 1.0.20");
  CHECK(d.at("own_key") == 1);
  for (auto* key : {"vcpus", "memory_bytes", "image_digest", "sysbench_sha256", "guest_kernel"})
    CHECK(d.contains(key));
}

TEST_CASE("console tail: the last 20 lines, carriage returns dropped, quoted; an empty log says so") {
  std::string text;
  for (int i = 1; i <= 25; ++i)
    text += "line " + std::to_string(i) + "\r\n";
  auto tail = vm::format_console_tail(text, "/r/console.log");
  CHECK(tail.starts_with("last console lines (/r/console.log):\n  | line 6\n"));
  CHECK(tail.ends_with("  | line 25"));
  CHECK(tail.find('\r') == std::string::npos);
  CHECK(vm::format_console_tail("", "/r/c.log") == "last console lines (/r/c.log):\n  (no console output)");
}
