#pragma once
// A private Docker engine for one run, for hosts where none answers: `dockerd` with its
// own socket, exec root and pidfile in the run's private runtime directory, its own data
// root under the data directory (so the imported image persists between runs), no bridge
// and no iptables. Owned like any child: stop() (SIGTERM, bounded wait, SIGKILL of its
// process group) runs from the destructor too.

#include "util/asio.hpp"

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <string>

namespace virtbench::docker {

struct PrivateEngineOptions {
  std::filesystem::path runtime_dir;   // 0700: socket, exec root, pidfile, config
  std::filesystem::path data_dir;      // the data root is data_dir/docker (or a per-run one if that is in use)
  std::filesystem::path log_file;      // dockerd's stdout and stderr
  std::string run_id;
  std::function<void(const std::string&)> log;
};

class PrivateEngine {
public:
  explicit PrivateEngine(PrivateEngineOptions options);
  ~PrivateEngine();
  PrivateEngine(const PrivateEngine&) = delete;
  PrivateEngine& operator=(const PrivateEngine&) = delete;

  // Starts dockerd and waits (at most `timeout`) until it answers /_ping. Throws Error with
  // the tail of its log when it exits or does not answer in time.
  awaitable<void> start(std::chrono::seconds timeout = std::chrono::seconds(60));
  // SIGTERM, up to `grace` for it to exit, then SIGKILL to its process group; removes a
  // per-run data root. Idempotent, never throws, blocks the calling thread.
  void stop(std::chrono::seconds grace = std::chrono::seconds(20)) noexcept;

  const std::string& socket_path() const { return m_socket_path; }
  // True while the dockerd process has not exited.
  bool running();

private:
  PrivateEngineOptions m_options;
  std::string m_socket_path;
  std::filesystem::path m_data_root;
  bool m_data_root_per_run = false;
  int m_lock_fd = -1; // flock on data_dir/docker.lock while the shared data root is ours
  pid_t m_pid = 0;
};

// Where dockerd is installed, or empty.
std::filesystem::path find_dockerd();

} // namespace virtbench::docker
