#pragma once
// A scripted fake Platform for the runner's tests: every call is recorded, in order, into
// a journal shared by all the fakes of a run; knobs make it fail, lose itself, be slow or
// raise SIGINT at a chosen call. Its sysbench outputs are the recorded real ones in
// tests/data/sysbench/. Needs no root, engine, VM or network.

#include "platform.hpp"
#include "test_util.hpp"
#include "util/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace virtbench::test {

// One call on a fake: its platform and what ("start", "stop", "freeze", "thaw",
// "exec <argv joined by spaces>", "read_file <path>", "drop_caches", "host_accounting").
struct FakeCall {
  std::string platform;
  std::string what;
};

// Every call of every fake of one run, in the order they happened, and the fakes made.
struct Journal {
  std::vector<FakeCall> calls;
  std::vector<std::string> created; // platform names, in the order the factory made them

  // How many calls of `platform` start with `prefix`.
  int count(const std::string& platform, const std::string& prefix) const {
    return static_cast<int>(std::count_if(calls.begin(), calls.end(), [&](const FakeCall& c) {
      return c.platform == platform && c.what.starts_with(prefix);
    }));
  }
};

// The `nth` (1-based) call of the platform whose text starts with `prefix`.
struct CallMatch {
  std::string prefix;
  int nth = 1;
};

struct FakeScript {
  bool guest_view = false;                       // has_guest_view(); read_file gives a guest /proc/stat
  std::optional<std::string> start_error;        // start() throws Error with this text
  std::chrono::milliseconds start_delay{0};      // start() takes this long (cancellable)
  std::chrono::milliseconds run_delay{0};        // each `sysbench ... run` takes this long (cancellable)
  std::optional<CallMatch> lost_at;              // exec throws PlatformLost at this call
  std::optional<CallMatch> interrupt_at;         // raise(SIGINT) at this call, then wait to be cancelled
  int run_exit_code = 0;                         // of `sysbench ... run`
  // What drop_caches() reports; default: one drop of the host's cache.
  std::vector<CacheDrop> drops{CacheDrop{"host", 900000, 100000, true, std::nullopt}};
  std::uint64_t resident_bytes_per_file = 0;     // fincore's RES for each file after the drop
  bool accounting = true;                        // host_accounting() answers (else nullopt)
  std::optional<std::filesystem::path> fileio_storage; // fileio_host_storage()
};

class FakePlatform : public Platform {
public:
  FakePlatform(std::string name, FakeScript script, std::shared_ptr<Journal> journal)
      : m_name(std::move(name)), m_script(std::move(script)), m_journal(std::move(journal)) {}

  std::string name() const override { return m_name; }

  awaitable<void> start() override {
    co_await record("start");
    if (m_script.start_delay.count() > 0)
      co_await sleep_for(m_script.start_delay);
    if (m_script.start_error)
      throw Error(*m_script.start_error);
  }
  awaitable<void> stop() override {
    // Never throws, never interrupts (stop runs after the signal set is gone).
    m_journal->calls.push_back({m_name, "stop"});
    co_return;
  }
  awaitable<void> freeze() override { co_await record("freeze"); }
  awaitable<void> thaw() override { co_await record("thaw"); }

  awaitable<ExecResult> exec(ExecRequest request) override {
    std::string text = "exec";
    for (auto& a : request.argv)
      text += " " + a;
    co_await record(text);
    if (m_script.lost_at && matches(*m_script.lost_at, text))
      throw PlatformLost(fmt::format("exec on {}: the fake is gone (scripted)", m_name));
    ExecResult r;
    r.exit_code = 0;
    r.wall_s = 0.001;
    auto& argv = request.argv;
    if (argv.size() >= 3 && argv[0] == "sysbench" && argv.back() == "run") {
      if (m_script.run_delay.count() > 0)
        co_await sleep_for(m_script.run_delay);
      r.out = data_file(argv[1] == "cpu" ? "sysbench/1.0.20/cpu-max-prime-2000.txt"
                                         : "sysbench/1.0.20/fileio-rndrw-sync.txt");
      r.exit_code = m_script.run_exit_code;
      r.wall_s = 1.0;
      r.process_cpu = CpuSeconds{0.9, 0.05};
    } else if (!argv.empty() && argv[0] == "fincore") {
      for (std::size_t i = 6; i < argv.size(); ++i)
        r.out += fmt::format("{}\n", m_script.resident_bytes_per_file);
    }
    co_return r;
  }

  awaitable<std::string> read_file(std::string path) override {
    co_await record("read_file " + path);
    // A guest /proc/stat whose counters grow by 100 ticks (80 user, 20 system) per read.
    ++m_reads;
    co_return fmt::format("cpu  {} 0 {} 1000 0 0 0 0 0 0\ncpu0 {} 0 {} 1000 0 0 0 0 0 0\n", 80 * m_reads,
                          20 * m_reads, 80 * m_reads, 20 * m_reads);
  }

  awaitable<std::vector<CacheDrop>> drop_caches() override {
    co_await record("drop_caches");
    co_return m_script.drops;
  }

  awaitable<std::optional<CpuSeconds>> host_accounting() override {
    co_await record("host_accounting");
    if (!m_script.accounting)
      co_return std::nullopt;
    ++m_accounting_calls;
    co_return CpuSeconds{0.5 * m_accounting_calls, 0.1 * m_accounting_calls};
  }

  bool has_guest_view() const override { return m_script.guest_view; }
  std::string scratch_dir() const override { return "/scratch/" + m_name; }
  std::optional<HostStorage> fileio_host_storage() const override {
    if (!m_script.fileio_storage)
      return std::nullopt;
    return HostStorage{*m_script.fileio_storage};
  }
  boost::json::object describe() const override { return {{"name", m_name}, {"fake", true}}; }

private:
  // Journals the call; at the scripted call raises SIGINT (the runner's signal_set is
  // armed) and waits until the run cancels it, as a real operation in flight would.
  awaitable<void> record(const std::string& what) {
    m_journal->calls.push_back({m_name, what});
    if (m_script.interrupt_at && matches(*m_script.interrupt_at, what)) {
      ::raise(SIGINT);
      co_await sleep_for(std::chrono::seconds(20));
    }
  }

  // True when the call just journaled (`what`) is `m`'s nth match.
  bool matches(const CallMatch& m, const std::string& what) const {
    return what.starts_with(m.prefix) && m_journal->count(m_name, m.prefix) == m.nth;
  }

  std::string m_name;
  FakeScript m_script;
  std::shared_ptr<Journal> m_journal;
  int m_reads = 0;
  int m_accounting_calls = 0;
};

// A factory for RunConfig::make_platform: fakes scripted by name, a matrix variant's
// ("qemu[vcpus=1]") by its own or else its driver's (unlisted: the defaults), all
// journaling into `journal`.
inline auto fake_factory(std::shared_ptr<Journal> journal, std::map<std::string, FakeScript> scripts) {
  return [journal, scripts](const std::string& name, const PlatformOptions&) -> std::unique_ptr<Platform> {
    journal->created.push_back(name);
    auto it = scripts.find(name);
    if (it == scripts.end())
      it = scripts.find(name.substr(0, name.find('[')));
    return std::make_unique<FakePlatform>(name, it == scripts.end() ? FakeScript{} : it->second, journal);
  };
}

} // namespace virtbench::test
