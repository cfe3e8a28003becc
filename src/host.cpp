#include "host.hpp"

#include "procstat.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <filesystem>
#include <sys/utsname.h>
#include <vector>
#include <unistd.h>

namespace virtbench {

namespace {

std::string first_line(const std::filesystem::path& p) {
  try {
    auto s = read_file(p);
    return s.substr(0, s.find('\n'));
  } catch (const std::exception&) {
    return {};
  }
}

} // namespace

boost::json::object describe_host() {
  boost::json::object h;
  utsname u{};
  ::uname(&u);
  h["kernel"] = std::string(u.release) + " " + u.version;
  h["hostname"] = u.nodename;
  h["arch"] = u.machine;
  std::string cpuinfo;
  try {
    cpuinfo = read_file("/proc/cpuinfo");
  } catch (const std::exception&) {
  }
  auto pos = cpuinfo.find("model name");
  if (pos != std::string::npos) {
    auto colon = cpuinfo.find(':', pos);
    auto end = cpuinfo.find('\n', colon);
    h["cpu_model"] = cpuinfo.substr(colon + 2, end - colon - 2);
  }
  h["cpus"] = ::sysconf(_SC_NPROCESSORS_ONLN);
  try {
    h["memory_bytes"] = parse_meminfo_kib(read_file("/proc/meminfo"), "MemTotal") * 1024;
  } catch (const std::exception&) {
  }
  auto governor = first_line("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
  h["cpu_governor"] = governor.empty() ? "unavailable" : governor;
  h["transparent_hugepage"] = first_line("/sys/kernel/mm/transparent_hugepage/enabled");
  boost::json::object mitigations;
  std::error_code ec;
  for (auto& entry : std::filesystem::directory_iterator("/sys/devices/system/cpu/vulnerabilities", ec))
    mitigations[entry.path().filename().string()] = first_line(entry.path());
  h["mitigations"] = std::move(mitigations);
  return h;
}

bool can_drop_host_caches() { return ::access("/proc/sys/vm/drop_caches", W_OK) == 0; }

CacheDrop drop_host_caches() {
  CacheDrop drop;
  drop.where = "host";
  drop.cached_before_kib = parse_meminfo_kib(read_file("/proc/meminfo"), "Cached");
  ::sync();
  int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
  if (fd < 0 || ::write(fd, "3", 1) != 1) {
    int err = errno;
    if (fd >= 0)
      ::close(fd);
    throw Error(std::string("drop caches on the host: /proc/sys/vm/drop_caches: ") + std::strerror(err) +
                "; run virtbench as root, or pass --no-drop-caches (fileio figures then include a warm page cache)");
  }
  ::close(fd);
  drop.cached_after_kib = parse_meminfo_kib(read_file("/proc/meminfo"), "Cached");
  return drop;
}

std::uint64_t resident_kib(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw Error("resident pages of " + path.string() + ": open: " + std::strerror(errno));
  struct stat st{};
  ::fstat(fd, &st);
  std::uint64_t resident = 0;
  if (st.st_size > 0) {
    void* map = ::mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      throw Error("resident pages of " + path.string() + ": mmap: " + std::strerror(err));
    }
    auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    std::vector<unsigned char> vec((static_cast<std::size_t>(st.st_size) + page - 1) / page);
    if (::mincore(map, static_cast<std::size_t>(st.st_size), vec.data()) == 0)
      for (auto v : vec)
        resident += (v & 1) ? page : 0;
    ::munmap(map, static_cast<std::size_t>(st.st_size));
  }
  ::close(fd);
  return resident / 1024;
}

awaitable<std::string> read_host_proc_stat() { co_return read_file("/proc/stat"); }

} // namespace virtbench
