#pragma once
// Small filesystem helpers that know nothing of virtbench.

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
  // Records this process as the directory's owner (a file `owner`: pid and start time), so
  // that sweep_dead_owners() of a later process removes it if this one dies without doing so.
  void record_owner();
  // Removes the directory now (idempotent).
  void remove();

private:
  std::filesystem::path m_path;
};

// A directory sweep_dead_owners() removed, and why.
struct SweptDir {
  std::filesystem::path path;
  std::string reason; // "its run (pid 123) is no longer running"
};

// Removes the directories `parent`/`prefix`* that a dead process left: those whose `owner`
// (TempDir::record_owner) names a process that is gone, or a process of that pid started at
// another time (the pid was reused); also those without an owner file untouched for a day
// (left by a virtbench that recorded none). A directory holding a `*.pid` file of a live
// process (a daemon of that run, still running) is left alone. `before_remove` (optional)
// runs on each directory about to be removed (to end a helper the dead run left) and what
// it returns is added to the reason. Never throws.
std::vector<SweptDir> sweep_dead_owners(const std::filesystem::path& parent, std::string_view prefix,
                                        const std::function<std::string(const std::filesystem::path&)>& before_remove = {});

// The start time of process `pid` in clock ticks since boot (field 22 of /proc/PID/stat);
// nullopt when there is no such process.
std::optional<unsigned long long> process_start_time(long pid);

// This machine, in owner files and labels that tell controllers apart (a remote run
// directory, a container): /etc/machine-id, else the host name.
std::string controller_id();

// The type of the filesystem holding `p` ("ext4", "xfs", "tmpfs", "overlayfs" ... or its
// magic number in hex), for saying where fileio's files lived.
std::string filesystem_type(const std::filesystem::path& p);

// Where virtbench keeps images and history: --data-dir, else /var/lib/virtbench as root,
// else $XDG_DATA_HOME/virtbench (~/.local/share/virtbench).
std::filesystem::path default_data_dir();

// A private (0700) directory for sockets and per-run state: $XDG_RUNTIME_DIR or /run or /tmp.
std::filesystem::path runtime_parent_dir();

} // namespace virtbench
