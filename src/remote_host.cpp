#include "remote_host.hpp"

#include "image.hpp"
#include "image_push.hpp"
#include "procstat.hpp"
#include "util/child.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <boost/process/v2/environment.hpp>
#include <boost/process/v2/process.hpp>
#include <boost/process/v2/stdio.hpp>

#include <fmt/format.h>

#include <csignal>
#include <sstream>
#include <unistd.h>

namespace virtbench {

namespace bp = boost::process::v2;
namespace fs = std::filesystem;

namespace {

// What describe() runs there: key=value lines (parse_remote_host_facts).
constexpr const char* k_describe_script = R"sh(printf 'kernel=%s %s\n' "$(uname -r)" "$(uname -v)"
printf 'hostname=%s\n' "$(uname -n)"
printf 'arch=%s\n' "$(uname -m)"
printf 'cpus=%s\n' "$(getconf _NPROCESSORS_ONLN)"
sed -n 's/^model name[[:space:]]*: */cpu_model=/p' /proc/cpuinfo | head -n 1
sed -n 's/^MemTotal: *\([0-9]*\) kB/memtotal_kib=\1/p' /proc/meminfo
printf 'cpu_governor=%s\n' "$(cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null)"
printf 'transparent_hugepage=%s\n' "$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)"
for f in /sys/devices/system/cpu/vulnerabilities/*; do
  [ -r "$f" ] && printf 'mitigation.%s=%s\n' "${f##*/}" "$(head -n 1 "$f")"
done
exit 0)sh";

// sync + drop, with "Cached:" around it; exit 3 when drop_caches is not writable.
constexpr const char* k_drop_script = R"sh(grep '^Cached:' /proc/meminfo
sync
echo 3 > /proc/sys/vm/drop_caches || exit 3
grep '^Cached:' /proc/meminfo)sh";

// $1's nearest existing directory's `df -Pk` line.
constexpr const char* k_free_script = R"sh(p=$1
while [ ! -e "$p" ]; do p=$(dirname -- "$p"); done
df -Pk -- "$p" | tail -n 1)sh";

// The reader: its pid first, then for each line of stdin (a path) the file, a marker if it
// could not be read, and the end marker. One awk for the whole run: no fork per sample.
// (mawk reads its stdin in blocks unless -W interactive; gawk and busybox awk answer each line.)
constexpr const char* k_reader_script = R"sh(echo "$$"
case $(awk -W version 2>&1 </dev/null) in *mawk*) i="-W interactive" ;; *) i= ;; esac
exec awk $i '{
  while ((r = (getline line < $0)) > 0) print line
  if (r < 0) print "@@virtbench-unreadable@@"
  close($0)
  print "@@virtbench-end@@"
  fflush()
}')sh";
constexpr std::string_view k_reader_end = "@@virtbench-end@@\n";
constexpr std::string_view k_reader_unreadable = "@@virtbench-unreadable@@\n";

} // namespace

struct RemoteHost::Reader {
  explicit Reader(const asio::any_io_executor& ex) : in(ex), out(ex) {}
  ~Reader() {
    boost::system::error_code ec;
    in.close(ec); // the remote awk sees EOF and ends
    out.close(ec);
    if (process && process->running(ec)) {
      ::kill(-static_cast<pid_t>(process->id()), SIGKILL);
      process->wait(ec);
    }
  }
  asio::writable_pipe in;
  asio::readable_pipe out;
  asio::streambuf buffer{1 << 20}; // a /proc file is a few KiB; more is an error
  std::optional<bp::process> process;
  long remote_pid = 0;
  bool busy = false;
};

RemoteHost::RemoteHost(SshConnection& ssh, HostServices& local, std::string run_id, std::string scratch_parent)
    : m_ssh(ssh), m_local(local), m_run_id(std::move(run_id)),
      m_scratch_parent(scratch_parent.empty() ? std::string("/var/tmp") : std::move(scratch_parent)) {
  // A write to the pipe of a reader whose ssh died is an error, not a SIGPIPE: cli_main
  // ignores SIGPIPE for the whole process.
  m_scratch = m_scratch_parent + "/virtbench-" + m_run_id;
}

RemoteHost::~RemoteHost() { close(); }

ProcessResult RemoteHost::run_checked(const std::string& what, const std::vector<std::string>& argv,
                                      std::chrono::milliseconds timeout) {
  auto r = m_ssh.run_sync(argv, timeout);
  if (r.exit_code == 255 || (r.exit_code == -1 && !m_ssh.alive()))
    m_ssh.throw_failure(what + " on " + location(), r);
  if (r.timed_out)
    throw Error(fmt::format("{} on {}: no answer within {} s", what, location(), timeout.count() / 1000));
  return r;
}

void RemoteHost::open() {
  auto pid = static_cast<long>(::getpid());
  auto owner = fmt::format("{} {} {}", controller_id(), pid, process_start_time(pid).value_or(0));
  std::vector<std::string> argv{"sh", "-c", "mkdir -m 700 -- \"$1\" && printf '%s\\n' \"$2\" > \"$1/owner\"", "sh",
                                m_scratch, owner};
  auto r = run_checked("make the run's directory", argv, std::chrono::seconds(30));
  if (r.exit_code != 0)
    throw Error(fmt::format("make the run's directory {} on {}: {}; pick another parent with --scratch-dir DIR",
                            m_scratch, location(), tail_lines(r.err, 3)));
  m_scratch_made = true;
}

std::vector<std::string> RemoteHost::sweep() {
  std::vector<std::string> swept;
  try {
    std::vector<std::string> list{"sh", "-c",
                                  "for f in \"$1\"/virtbench-*/owner; do [ -f \"$f\" ] && printf '%s %s\\n' "
                                  "\"${f%/owner}\" \"$(head -n 1 \"$f\")\"; done; exit 0",
                                  "sh", m_scratch_parent};
    auto r = run_checked("list the runs' directories", list, std::chrono::seconds(30));
    auto me = controller_id();
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string dir, id;
      long pid = 0;
      unsigned long long started = 0;
      if (!(fields >> dir >> id >> pid >> started) || id != me || dir == m_scratch)
        continue;
      if (auto now = process_start_time(pid); now && *now == started)
        continue; // its run is still running here
      std::vector<std::string> rm{"rm", "-rf", "--", dir};
      if (run_checked("remove a dead run's directory", rm, std::chrono::seconds(120)).exit_code == 0)
        swept.push_back(fmt::format("virtbench: removed {} on {}, left behind by a run that did not end cleanly: its "
                                    "owner (pid {}) is no longer running",
                                    dir, location(), pid));
    }
  } catch (const std::exception& e) {
    swept.push_back(fmt::format("warning: could not sweep {} on {}: {}", m_scratch_parent, location(), e.what()));
  }
  return swept;
}

awaitable<void> RemoteHost::forward_socket(std::string local, std::string remote) {
  // Recorded first: cancelling a forward that failed is harmless.
  m_forwards.emplace(local, remote);
  return m_ssh.forward(std::move(local), std::move(remote));
}

void RemoteHost::cancel_forward(const std::string& local, const std::string& remote) noexcept {
  m_ssh.cancel_forward(local, remote);
  m_forwards.erase({local, remote});
}

std::string RemoteHost::close() noexcept {
  while (!m_forwards.empty()) { // (a platform's stop() ends its own; this is the backstop)
    auto [local, remote] = *m_forwards.begin();
    cancel_forward(local, remote);
  }
  m_reader.reset();
  if (!m_scratch_made)
    return {};
  std::string problem;
  try {
    std::vector<std::string> argv{"rm", "-rf", "--", m_scratch};
    if (!m_ssh.alive()) {
      // The connection was lost during the run: one new one to clean up.
      m_ssh.close();
      m_ssh.open();
    }
    auto r = run_checked("remove the run's directory", argv, std::chrono::seconds(120));
    if (r.exit_code != 0)
      problem = fmt::format("could not remove {} on {}: {}", m_scratch, location(), tail_lines(r.err, 3));
  } catch (const std::exception& e) {
    problem = fmt::format("could not remove {} on {}: {}", m_scratch, location(), e.what());
  }
  m_scratch_made = false;
  return problem;
}

CacheDrop RemoteHost::drop_caches() {
  std::vector<std::string> argv{"sh", "-c", k_drop_script};
  auto r = run_checked("drop caches", argv, std::chrono::seconds(120));
  if (r.exit_code == 3)
    throw Error(fmt::format("drop caches on {}: /proc/sys/vm/drop_caches is not writable there ({}); log in as root "
                            "(ssh://root@...), or pass --no-drop-caches",
                            location(), tail_lines(r.err, 1)));
  if (r.exit_code != 0)
    throw Error(fmt::format("drop caches on {}: exit code {}: {}", location(), r.exit_code, tail_lines(r.err, 3)));
  auto nl = r.out.find('\n');
  CacheDrop drop;
  drop.where = "host";
  try {
    drop.cached_before_kib = parse_meminfo_kib(r.out.substr(0, nl), "Cached");
    drop.cached_after_kib = parse_meminfo_kib(r.out.substr(nl == std::string::npos ? r.out.size() : nl + 1), "Cached");
  } catch (const std::exception& e) {
    throw Error(fmt::format("drop caches on {}: unexpected output ({}): {}", location(), e.what(), tail_lines(r.out, 3)));
  }
  return drop;
}

std::uint64_t RemoteHost::resident_kib(const fs::path& path) {
  throw Error("resident pages of " + path.string() + ": not measured on a remote host (" + location() + ")");
}

awaitable<ExecResult> RemoteHost::exec(ExecRequest request) {
  ProcessOptions po;
  po.timeout = request.timeout;
  auto what = format_argv(request.argv);
  auto r = co_await m_ssh.run(remote_exec_argv(request.cwd, request.argv), po);
  if (r.exit_code == 255 && !m_ssh.alive())
    m_ssh.throw_failure(what + " on " + location(), r);
  ExecResult result;
  result.exit_code = r.exit_code;
  result.timed_out = r.timed_out;
  result.out = std::move(r.out);
  result.err = std::move(r.err);
  if (auto times = take_remote_times(result.err))
    result.process_cpu = CpuSeconds{times->first, times->second};
  else if (r.exit_code == 255)
    m_ssh.throw_failure(what + " on " + location(), r); // ssh's own failure, not the command's
  if (r.exit_code == 125)
    result.err += fmt::format("\nvirtbench: cannot change to {} on {}\n", request.cwd, location());
  if (r.output_limited)
    result.err += fmt::format("\nvirtbench: the command printed more than {} MiB on stdout or stderr and was "
                              "killed (a limit against runaway output)\n",
                              po.max_output >> 20);
  result.wall_s = r.wall_s;
  co_return result;
}

boost::json::object RemoteHost::describe() {
  std::vector<std::string> argv{"sh", "-c", k_describe_script};
  auto r = run_checked("describe the host", argv, std::chrono::seconds(30));
  return parse_remote_host_facts(r.out, location());
}

bool RemoteHost::can_drop_caches() {
  std::vector<std::string> argv{"test", "-w", "/proc/sys/vm/drop_caches"};
  return run_checked("check drop_caches", argv, std::chrono::seconds(30)).exit_code == 0;
}

std::uint64_t RemoteHost::free_bytes(const fs::path& path) {
  std::vector<std::string> argv{"sh", "-c", k_free_script, "sh", path.string()};
  auto r = run_checked("free space of " + path.string(), argv, std::chrono::seconds(30));
  std::istringstream in(r.out);
  std::string fs_name;
  std::uint64_t blocks = 0, used = 0, available = 0;
  if (r.exit_code != 0 || !(in >> fs_name >> blocks >> used >> available))
    throw Error(fmt::format("preflight: free space of {} on {}: unexpected `df -Pk` output: {}", path.string(),
                            location(), tail_lines(r.out + r.err, 3)));
  return available * 1024;
}

awaitable<std::string> RemoteHost::read_proc_stat() { return read_through_reader("/proc/stat"); }

long RemoteHost::reader_remote_pid() const { return m_reader ? m_reader->remote_pid : 0; }

awaitable<std::string> RemoteHost::read_through_reader(std::string path) {
  auto what = fmt::format("read {} on {}", path, location());
  try {
    auto executor = co_await asio::this_coro::executor;
    // One read at a time (the sampler's, a VM's accounting): the others wait their turn.
    for (int i = 0; m_reader && m_reader->busy; ++i) {
      if (i == 2500)
        throw Error("another read is still in flight after 5 s");
      asio::steady_timer turn(executor, std::chrono::milliseconds(2));
      co_await turn.async_wait(use_awaitable);
    }
    if (!m_reader) {
      auto reader = std::make_unique<Reader>(executor);
      std::vector<std::string> remote{"sh", "-c", k_reader_script};
      auto argv = m_ssh.ssh_argv(shell_quote(remote));
      auto exe = bp::environment::find_executable(argv.front());
      std::vector<std::string> args(argv.begin() + 1, argv.end());
      reader->process.emplace(executor, exe, args, bp::process_stdio{reader->in, reader->out, nullptr},
                              ChildSetup{nullptr, true});
      m_reader = std::move(reader);
      asio::steady_timer timer(executor, std::chrono::seconds(10));
      // (Named operations, no temporaries inside co_await: GCC 12, CONTRIBUTING.md.)
      auto read_pid = asio::async_read_until(m_reader->out, m_reader->buffer, '\n', use_awaitable);
      auto wait_pid = timer.async_wait(use_awaitable);
      auto first = co_await (std::move(read_pid) || std::move(wait_pid));
      if (first.index() != 0)
        throw Error("the reader did not start within 10 s");
      std::istream line(&m_reader->buffer);
      line >> m_reader->remote_pid;
      line.ignore(1);
    }
    auto* reader = m_reader.get();
    reader->busy = true;
    struct Idle {
      Reader* r;
      ~Idle() { r->busy = false; }
    } idle{reader};
    auto request = path + "\n";
    auto write = asio::async_write(reader->in, asio::buffer(request), use_awaitable);
    co_await std::move(write);
    asio::steady_timer timer(executor, std::chrono::seconds(5));
    std::string end(k_reader_end);
    auto read = asio::async_read_until(reader->out, reader->buffer, end, use_awaitable);
    auto wait = timer.async_wait(use_awaitable);
    auto got = co_await (std::move(read) || std::move(wait));
    if (got.index() != 0)
      throw Error("no answer within 5 s");
    auto n = std::get<0>(got);
    std::string text(asio::buffers_begin(reader->buffer.data()), asio::buffers_begin(reader->buffer.data()) + n);
    reader->buffer.consume(n);
    text.resize(text.size() - k_reader_end.size());
    if (text.ends_with(k_reader_unreadable))
      throw Error("the file cannot be read there");
    co_return text;
  } catch (...) {
    m_reader.reset(); // the next read starts another (and fails the same way if the host is gone)
    if (!m_ssh.alive())
      throw PlatformLost(fmt::format("{}: lost the SSH connection", what));
    rethrow_with_context(what);
  }
}

GuestImage RemoteHost::host_guest_image(const fs::path& data_dir) {
  auto where = location();
  auto push = fmt::format("`virtbench image push --host {}{}`", where,
                          m_data_dir.empty() ? "" : " --remote-data-dir " + m_data_dir);
  if (m_data_dir.empty())
    m_data_dir = remote_default_data_dir(m_ssh);
  auto dir = m_data_dir + "/image";
  std::vector<std::string> cat{"sh", "-c", "[ ! -f \"$1\" ] || cat -- \"$1\"", "sh", dir + "/manifest.json"};
  auto r = run_checked("read the guest image's manifest", cat, std::chrono::seconds(30));
  if (r.exit_code != 0 || r.out.empty())
    throw Error(fmt::format("the guest image is not on {} (no {}/manifest.json there); copy it with {}", where, dir,
                            push));
  GuestImage image;
  try {
    image = guest_image_from_manifest(dir, r.out);
  } catch (const Error& e) {
    throw Error(fmt::format("the guest image on {}: {}; copy it again with {}", where, e.what(), push));
  }
  std::optional<GuestImage> here;
  try {
    here = m_local.guest_image(data_dir);
  } catch (const Error&) {
    // No image here: the remote's is used as it is.
  }
  if (here && here->recipe_hash != image.recipe_hash)
    throw Error(fmt::format("the guest image on {} (recipe {}) is not this host's (recipe {}); copy this one with {}",
                            where, image.recipe_hash.substr(0, 12), here->recipe_hash.substr(0, 12), push));
  if (auto* files = image.manifest.if_contains("files"); files && files->is_object() && files->as_object().contains("vmlinux"))
    image.vmlinux = dir + "/vmlinux";
  return image;
}

std::vector<std::string> RemoteHost::long_lived_argv(const std::vector<std::string>& argv, const std::string& pid_file) {
  return m_ssh.ssh_argv(shell_quote(remote_long_lived_argv(pid_file, argv)));
}

} // namespace virtbench
