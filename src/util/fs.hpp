#pragma once
// Small filesystem helpers that know nothing of virtbench.

#include <filesystem>
#include <string>
#include <string_view>

namespace virtbench {

// Reads a whole file; throws Error("read <path>: <strerror>").
std::string read_file(const std::filesystem::path& path);

// Writes `content` to `path` atomically: a temporary file in the same directory,
// fsync, then rename, so a reader (or a crash) never sees half a file.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

// A directory created with mode 0700 (mkdtemp under `parent`), removed with everything
// in it by remove() or when the owner is destroyed.
class TempDir {
public:
  explicit TempDir(const std::filesystem::path& parent, std::string_view prefix = "virtbench-");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return m_path; }
  // Removes the directory now (idempotent).
  void remove();

private:
  std::filesystem::path m_path;
};

// The type of the filesystem holding `p` ("ext4", "xfs", "tmpfs", "overlayfs" ... or its
// magic number in hex), for saying where fileio's files lived.
std::string filesystem_type(const std::filesystem::path& p);

// Where virtbench keeps images and history: --data-dir, else /var/lib/virtbench as root,
// else $XDG_DATA_HOME/virtbench (~/.local/share/virtbench).
std::filesystem::path default_data_dir();

// A private (0700) directory for sockets and per-run state: $XDG_RUNTIME_DIR or /run or /tmp.
std::filesystem::path runtime_parent_dir();

} // namespace virtbench
