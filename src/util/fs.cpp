#include "util/fs.hpp"

#include "util/error.hpp"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <fmt/format.h>

namespace virtbench {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw Error("read " + path.string() + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file_atomic(const fs::path& path, std::string_view content) {
  auto tmp = path;
  tmp += ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw Error("write " + tmp.string() + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < content.size()) {
    auto n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      throw Error("write " + tmp.string() + ": " + std::strerror(err));
    }
    done += static_cast<std::size_t>(n);
  }
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw Error("rename " + tmp.string() + " to " + path.string() + ": " + std::strerror(err));
  }
}

TempDir::TempDir(const fs::path& parent, std::string_view prefix) {
  std::error_code ec;
  fs::create_directories(parent, ec);
  std::string templ = (parent / (std::string(prefix) + "XXXXXX")).string();
  if (::mkdtemp(templ.data()) == nullptr)
    throw Error("create temporary directory in " + parent.string() + ": " + std::strerror(errno));
  m_path = templ;
  ::chmod(m_path.c_str(), 0700);
}

TempDir::~TempDir() { remove(); }

void TempDir::record_owner() {
  auto pid = static_cast<long>(::getpid());
  write_file_atomic(m_path / "owner", fmt::format("{} {}\n", pid, process_start_time(pid).value_or(0)));
}

std::optional<unsigned long long> process_start_time(long pid) {
  std::string stat;
  try {
    stat = read_file(fmt::format("/proc/{}/stat", pid));
  } catch (const Error&) {
    return std::nullopt;
  }
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so count from the last ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos)
    return std::nullopt;
  std::istringstream in(stat.substr(close + 1));
  std::string field;
  for (int i = 3; i < 22 && in >> field; ++i) {
  }
  unsigned long long start = 0;
  if (!(in >> start))
    return std::nullopt;
  return start;
}

namespace {

// A live process holds a `*.pid` file in `dir` (a daemon the dead run started).
std::optional<long> live_pid_file(const fs::path& dir) {
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() != ".pid")
      continue;
    long pid = 0;
    try {
      pid = std::stol(read_file(entry.path()));
    } catch (const std::exception&) {
      continue;
    }
    if (pid > 0 && process_start_time(pid))
      return pid;
  }
  return std::nullopt;
}

} // namespace

std::vector<SweptDir> sweep_dead_owners(const fs::path& parent, std::string_view prefix,
                                        const std::function<std::string(const fs::path&)>& before_remove) {
  std::vector<SweptDir> swept;
  std::error_code ec;
  for (auto& entry : fs::directory_iterator(parent, ec)) {
    auto name = entry.path().filename().string();
    if (!name.starts_with(prefix) || !entry.is_directory(ec))
      continue;
    std::string reason;
    long pid = 0;
    unsigned long long started = 0;
    std::string owner;
    try {
      owner = read_file(entry.path() / "owner");
    } catch (const Error&) {
    }
    if (std::istringstream(owner) >> pid >> started) {
      auto now = process_start_time(pid);
      if (now && *now == started)
        continue; // its owner runs
      reason = now ? fmt::format("its owner (pid {}) is gone; that pid is another process now", pid)
                   : fmt::format("its owner (pid {}) is no longer running", pid);
    } else {
      auto mtime = fs::last_write_time(entry.path(), ec);
      if (ec || fs::file_time_type::clock::now() - mtime < std::chrono::hours(24))
        continue; // perhaps just created, its owner file not written yet
      reason = "it records no owner and was untouched for more than a day";
    }
    if (auto daemon = live_pid_file(entry.path()))
      continue; // still used by a process of that run; its driver stops it (e.g. a private dockerd)
    if (before_remove) {
      try {
        if (auto did = before_remove(entry.path()); !did.empty())
          reason += "; " + did;
      } catch (...) {
      }
    }
    fs::remove_all(entry.path(), ec);
    if (!ec)
      swept.push_back({entry.path(), reason});
  }
  return swept;
}

void TempDir::remove() {
  if (m_path.empty())
    return;
  std::error_code ec;
  fs::remove_all(m_path, ec);
  m_path.clear();
}

std::string filesystem_type(const fs::path& p) {
  struct statfs s{};
  if (::statfs(p.c_str(), &s) != 0)
    return "unknown";
  switch (static_cast<unsigned long>(s.f_type)) {
  case 0xEF53: return "ext4";
  case 0x58465342: return "xfs";
  case 0x9123683E: return "btrfs";
  case 0x01021994: return "tmpfs";
  case 0x794c7630: return "overlayfs";
  default: return fmt::format("0x{:x}", static_cast<unsigned long>(s.f_type));
  }
}

fs::path default_data_dir() {
  if (::geteuid() == 0)
    return "/var/lib/virtbench";
  if (const char* xdg = std::getenv("XDG_DATA_HOME"); xdg && *xdg)
    return fs::path(xdg) / "virtbench";
  const char* home = std::getenv("HOME");
  return fs::path(home ? home : "/tmp") / ".local/share/virtbench";
}

fs::path runtime_parent_dir() {
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && *xdg && fs::is_directory(xdg))
    return fs::path(xdg) / "virtbench";
  if (::geteuid() == 0 && fs::is_directory("/run"))
    return "/run/virtbench";
  return fs::temp_directory_path() / ("virtbench-" + std::to_string(::geteuid()));
}

std::string controller_id() {
  try {
    auto id = read_file("/etc/machine-id");
    id = id.substr(0, id.find('\n'));
    if (!id.empty())
      return id;
  } catch (const std::exception&) {
  }
  char name[256] = {};
  ::gethostname(name, sizeof name - 1);
  return name;
}

} // namespace virtbench
