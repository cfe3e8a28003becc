#include "util/fs.hpp"

#include "util/error.hpp"

#include <cerrno>
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

} // namespace virtbench
