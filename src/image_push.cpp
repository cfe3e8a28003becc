#include "image_push.hpp"

#include "image.hpp"
#include "ssh.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <sstream>
#include <unistd.h>

namespace virtbench {

namespace fs = std::filesystem;

namespace {

// $1: the image directory; $2...: the names. "file BYTES NAME" / "part BYTES NAME" for each
// that is there.
constexpr const char* k_state_script = R"sh(d=$1
shift
cd -- "$d" 2>/dev/null || exit 0
for f in "$@"; do
  [ -f "$f" ] && printf 'file %s %s\n' "$(wc -c < "$f")" "$f"
  [ -f "$f.part" ] && printf 'part %s %s\n' "$(wc -c < "$f.part")" "$f"
done
exit 0)sh";

constexpr const char* k_default_data_dir_script = R"sh(if [ "$(id -u)" = 0 ]; then
  echo /var/lib/virtbench
elif [ -n "$XDG_DATA_HOME" ]; then
  echo "$XDG_DATA_HOME/virtbench"
else
  echo "${HOME:-/tmp}/.local/share/virtbench"
fi)sh";

std::string human_size(std::uint64_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20)); }

} // namespace

std::string remote_default_data_dir(SshConnection& ssh) {
  std::vector<std::string> argv{"sh", "-c", k_default_data_dir_script};
  auto r = ssh.run_sync(argv, std::chrono::seconds(30));
  if (r.exit_code == 255)
    ssh.throw_failure("find the data directory on " + ssh.settings().target.url(), r);
  auto dir = r.out.substr(0, r.out.find('\n'));
  if (r.exit_code != 0 || dir.empty() || dir.front() != '/')
    throw Error(fmt::format("find the data directory on {}: unexpected answer \"{}\" ({}); give it with "
                            "--remote-data-dir DIR",
                            ssh.settings().target.url(), dir, tail_lines(r.err, 2)));
  return dir;
}

namespace {

class Pusher {
public:
  Pusher(SshConnection& ssh, std::string dir, const std::function<void(const std::string&)>& log)
      : m_ssh(ssh), m_dir(std::move(dir)), m_log(log), m_where(ssh.settings().target.url()) {}

  // Runs a remote command that must succeed.
  ProcessResult run(const std::string& what, const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                    int stdin_fd = -1) {
    asio::io_context io;
    ProcessOptions po;
    po.timeout = timeout;
    po.stdin_fd = stdin_fd;
    ProcessResult r;
    std::exception_ptr failure;
    asio::co_spawn(io, m_ssh.run(argv, po), [&](std::exception_ptr e, ProcessResult result) {
      failure = e;
      r = std::move(result);
    });
    io.run();
    if (failure)
      std::rethrow_exception(failure);
    if (r.exit_code == 255)
      m_ssh.throw_failure(what + " on " + m_where, r);
    if (r.timed_out)
      throw Error(fmt::format("{} on {}: no end within {} s; run `virtbench image push` again to continue", what,
                              m_where, timeout.count() / 1000));
    if (r.exit_code != 0)
      throw Error(fmt::format("{} on {}: {} exited with code {}: {}", what, m_where, format_argv(argv), r.exit_code,
                              tail_lines(r.err, 3)));
    return r;
  }

  std::string path(const std::string& name) const { return m_dir + "/" + name; }

  // Appends `local` from byte `from` to the remote `remote` (created when absent).
  void send(const fs::path& local, const std::string& remote, std::uint64_t from, std::uint64_t bytes) {
    int fd = ::open(local.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      throw Error("image push: open " + local.string() + ": " + std::strerror(errno));
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{fd};
    if (::lseek(fd, static_cast<off_t>(from), SEEK_SET) < 0)
      throw Error("image push: seek in " + local.string() + ": " + std::strerror(errno));
    std::vector<std::string> argv{"sh", "-c", "cat >> \"$1\"", "sh", remote};
    // At least 5 MiB/s, and a minute to start.
    auto timeout = std::chrono::seconds(60 + static_cast<long>((bytes - from) / (5u << 20)));
    run("copy " + local.filename().string(), argv, timeout, fd);
  }

  std::string sha256(const std::string& remote) {
    std::vector<std::string> argv{"sha256sum", "--", remote};
    auto r = run("check " + remote, argv, std::chrono::minutes(10));
    return r.out.substr(0, 64);
  }

  void move(const std::string& from, const std::string& to) {
    std::vector<std::string> argv{"mv", "-f", "--", from, to};
    run("rename " + from, argv, std::chrono::seconds(30));
  }

  void remove(const std::string& remote) {
    std::vector<std::string> argv{"rm", "-f", "--", remote};
    run("remove " + remote, argv, std::chrono::seconds(30));
  }

  SshConnection& m_ssh;
  std::string m_dir;
  const std::function<void(const std::string&)>& m_log;
  std::string m_where;
};

} // namespace

std::vector<std::string> push_image_to_host(SshConnection& ssh, const GuestImage& image,
                                            const std::string& remote_data_dir,
                                            const std::function<void(const std::string&)>& log) {
  auto files = vm_image_files(image);
  Pusher p(ssh, remote_data_dir + "/image", log);
  auto where = ssh.settings().target.url();
  std::vector<std::string> mkdir{"mkdir", "-p", "--", p.m_dir};
  p.run("make " + p.m_dir, mkdir, std::chrono::seconds(30));

  // The remote manifest: this recipe's, or not.
  std::vector<std::string> cat{"sh", "-c", "[ ! -f \"$1\" ] || cat -- \"$1\"", "sh", p.path("manifest.json")};
  auto manifest_text = p.run("read " + p.path("manifest.json"), cat, std::chrono::seconds(30)).out;
  std::string remote_recipe;
  if (!manifest_text.empty()) {
    try {
      remote_recipe = guest_image_from_manifest(p.m_dir, manifest_text).recipe_hash;
    } catch (const Error&) {
      // unreadable: pushed anew
    }
  }
  bool trusted = !remote_recipe.empty() && remote_recipe == image.recipe_hash;

  std::vector<std::string> state_argv{"sh", "-c", k_state_script, "sh", p.m_dir};
  for (auto& f : files)
    state_argv.push_back(f.name);
  auto state = parse_remote_image_state(p.run("list " + p.m_dir, state_argv, std::chrono::seconds(30)).out);
  auto steps = plan_image_push(files, state, trusted);
  auto short_hash = image.recipe_hash.substr(0, 12);
  if (std::all_of(steps.begin(), steps.end(), [](auto& s) { return s.action == PushAction::keep; }))
    return {fmt::format("the guest image (recipe {}) is already on {} in {}: nothing copied", short_hash, where,
                        p.m_dir)};

  // From here until the end the remote image is incomplete: no manifest says otherwise.
  if (!manifest_text.empty())
    p.remove(p.path("manifest.json"));
  std::uint64_t sent = 0;
  std::vector<std::string> summary;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    auto& step = steps[i];
    auto& file = files[i];
    auto local = image.dir / file.name;
    auto final_path = p.path(file.name), part = p.path(file.name + ".part");
    if (step.action == PushAction::keep)
      continue;
    if (step.action == PushAction::check) {
      if (p.sha256(final_path) == file.sha256) {
        log(fmt::format("{} is already there ({})", file.name, human_size(file.bytes)));
        continue;
      }
      log(fmt::format("{} on {} differs from this host's: copying it anew", file.name, where));
      step.action = PushAction::copy;
    }
    for (int attempt = 0;; ++attempt) {
      if (step.action == PushAction::resume && step.from_final)
        p.move(final_path, part);
      if (step.action == PushAction::copy) {
        p.remove(final_path);
        p.remove(part);
        step.from = 0;
      }
      if (step.action == PushAction::resume)
        log(fmt::format("resuming {}: {} of {} already there, sending the rest", file.name, human_size(step.from),
                        human_size(file.bytes)));
      else
        log(fmt::format("copying {} ({})", file.name, human_size(file.bytes)));
      auto started = std::chrono::steady_clock::now();
      if (step.from < file.bytes)
        p.send(local, part, step.from, file.bytes);
      else {
        std::vector<std::string> touch{"sh", "-c", ": >> \"$1\"", "sh", part}; // an empty file
        p.run("create " + part, touch, std::chrono::seconds(30));
      }
      sent += file.bytes - step.from;
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      if (p.sha256(part) == file.sha256) {
        p.move(part, final_path);
        summary.push_back(fmt::format("{}: {} {} in {:.1f} s", file.name,
                                      step.action == PushAction::resume ? "resumed, sent" : "sent",
                                      human_size(file.bytes - step.from), s));
        break;
      }
      if (attempt > 0 || step.action == PushAction::copy)
        throw Error(fmt::format("image push: {} on {} does not match the manifest's sha256 after the copy; is the "
                                "local image intact (`virtbench image build --force`) and the remote disk healthy?",
                                part, where));
      log(fmt::format("{} on {}: the resumed copy does not match its sha256; copying it whole", file.name, where));
      step.action = PushAction::copy;
      step.from_final = false;
    }
  }
  // Last: the manifest, which makes the remote image complete.
  {
    auto local = image.dir / "manifest.json";
    auto part = p.path("manifest.json.part");
    p.remove(part);
    auto bytes = fs::file_size(local);
    p.send(local, part, 0, bytes);
    p.move(part, p.path("manifest.json"));
  }
  summary.push_back(fmt::format("the guest image (recipe {}) is on {} in {} ({} sent)", short_hash, where, p.m_dir,
                                human_size(sent)));
  return summary;
}

} // namespace virtbench
