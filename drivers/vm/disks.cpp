#include "drivers/vm/disks.hpp"

#include "util/error.hpp"
#include "util/process.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace virtbench::vm {

namespace fs = std::filesystem;

bool cache_mode_bypasses_host_cache(const std::string& cache_mode) {
  return cache_mode == "none" || cache_mode == "directsync";
}

std::string aio_for_cache_mode(const std::string& cache_mode) {
  return cache_mode_bypasses_host_cache(cache_mode) ? "native" : "threads";
}

std::uint64_t scratch_disk_bytes(std::uint64_t data_bytes) {
  constexpr std::uint64_t mib = 1ull << 20;
  std::uint64_t bytes = std::max<std::uint64_t>(data_bytes + data_bytes / 4 + 256 * mib, 512 * mib);
  return (bytes + mib - 1) / mib * mib;
}

namespace {

std::vector<std::string> overlay_argv(const std::string& base, const std::string& overlay) {
  return {"qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", overlay};
}

// Inode tables and journal initialised now, so no ext4lazyinit thread writes in the guest
// while fileio is measured.
std::vector<std::string> mkfs_argv(const std::string& raw) {
  return {"mke2fs", "-q", "-F", "-t", "ext4", "-m", "0", "-L", "vbscratch",
          "-E", "lazy_itable_init=0,lazy_journal_init=0", raw};
}

std::vector<std::string> convert_argv(const std::string& raw, const std::string& qcow2) {
  return {"qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, qcow2};
}

} // namespace

std::vector<std::vector<std::string>> remote_disk_argvs(const std::string& base, const std::string& dir,
                                                        std::uint64_t data_bytes, const std::string& format,
                                                        std::string& scratch_path) {
  auto raw = dir + "/scratch.raw";
  std::vector<std::vector<std::string>> steps{
      overlay_argv(base, dir + "/root-overlay.qcow2"),
      {"truncate", "-s", std::to_string(scratch_disk_bytes(data_bytes)), "--", raw},
      mkfs_argv(raw),
  };
  scratch_path = raw;
  if (format == "qcow2") {
    scratch_path = dir + "/scratch.qcow2";
    steps.push_back(convert_argv(raw, scratch_path));
    steps.push_back({"rm", "-f", "--", raw});
  }
  return steps;
}

awaitable<void> create_overlay(fs::path base, fs::path overlay) {
  auto argv = overlay_argv(base.string(), overlay.string());
  ProcessOptions quick{std::chrono::seconds(60)};
  co_await check_process(argv, quick);
}

awaitable<fs::path> create_scratch_disk(fs::path dir, std::uint64_t data_bytes, std::string format) {
  auto bytes = scratch_disk_bytes(data_bytes);
  auto raw = dir / "scratch.raw";
  {
    int fd = ::open(raw.c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
      int err = errno;
      if (fd >= 0)
        ::close(fd);
      throw Error("create scratch disk " + raw.string() + ": " + std::strerror(err));
    }
    ::close(fd);
  }
  auto mkfs = mkfs_argv(raw.string());
  ProcessOptions options{std::chrono::minutes(5)};
  co_await check_process(mkfs, options);
  if (format == "qcow2") {
    auto qcow2 = dir / "scratch.qcow2";
    auto convert = convert_argv(raw.string(), qcow2.string());
    co_await check_process(convert, options);
    fs::remove(raw);
    co_return qcow2;
  }
  co_return raw;
}

} // namespace virtbench::vm
