#pragma once
// A remote host the run measures (--host ssh://...): the Host (host.hpp) whose commands,
// /proc files, cache drops and free space all go through one SshConnection.

#include "host.hpp"
#include "ssh.hpp"

#include <memory>
#include <set>
#include <string>

namespace virtbench {

class RemoteHost final : public Host {
public:
  // `local` answers what stays on this host (the guest image, sysbench's version parser).
  // `scratch_parent`: the remote directory the run's own is made in (default /var/tmp).
  RemoteHost(SshConnection& ssh, HostServices& local, std::string run_id, std::string scratch_parent);
  ~RemoteHost() override;

  // Makes the run's remote directory (scratch_parent/virtbench-RUN_ID, 0700) with an `owner`
  // file naming this controller and process (controller_id(), pid, start time). Throws Error.
  void open();
  // Removes the remote directories under scratch_parent that runs of this controller left
  // when they died (their owner process is gone here); one line each for the user. Never throws.
  std::vector<std::string> sweep();
  // Ends the /proc reader and removes the run's remote directory, reconnecting once if the
  // connection was lost; returns what could not be done ("" when all went well). Never throws.
  std::string close() noexcept;

  CacheDrop drop_caches() override;
  std::uint64_t resident_kib(const std::filesystem::path& path) override;
  GuestImage guest_image(const std::filesystem::path& data_dir) override { return m_local.guest_image(data_dir); }
  std::string guest_kernel_cmdline(const GuestImage& image, bool this_host, const std::string& machine) override {
    return m_local.guest_kernel_cmdline(image, this_host && false, machine); // measured on this host, not the remote
  }
  std::string sysbench_version(std::string_view version_output) override {
    return m_local.sysbench_version(version_output);
  }
  awaitable<ExecResult> exec(ExecRequest request) override;
  std::string location() const override { return m_ssh.settings().target.url(); }
  std::string remote_scratch_dir() const override { return m_scratch; }
  // In the remote data directory (set_data_dir(), else the remote user's default), checked
  // against this host's image (`local`'s, in `data_dir`) when there is one.
  GuestImage host_guest_image(const std::filesystem::path& data_dir) override;
  std::vector<std::string> long_lived_argv(const std::vector<std::string>& argv, const std::string& pid_file) override;
  // Through the connection's master (SshConnection::forward_unix_socket); close() ends the
  // forwards still open.
  awaitable<void> forward_socket(std::string local, std::string remote) override;
  void cancel_forward(const std::string& local, const std::string& remote) noexcept override;
  awaitable<std::string> read_host_file(std::string path) override { return read_through_reader(std::move(path)); }
  // The data directory there (--remote-data-dir); empty: the remote user's default.
  void set_data_dir(std::string dir) { m_data_dir = std::move(dir); }

  boost::json::object describe() override;
  bool can_drop_caches() override;
  // Through one long-lived reader on the remote (an awk that prints the file named on each
  // line of its stdin): no process is started per sample.
  awaitable<std::string> read_proc_stat() override;
  std::uint64_t free_bytes(const std::filesystem::path& path) override;

  // A file of the remote host through the reader (the sampler's path; tools/bench-remote-sampling).
  awaitable<std::string> read_through_reader(std::string path); // (by value: a coroutine)
  // The reader's remote pid (for measuring its cost), 0 before it started.
  long reader_remote_pid() const;

private:
  ProcessResult run_checked(const std::string& what, const std::vector<std::string>& argv,
                            std::chrono::milliseconds timeout);

  SshConnection& m_ssh;
  HostServices& m_local;
  std::string m_run_id, m_scratch_parent, m_scratch, m_data_dir;
  bool m_scratch_made = false;
  struct Reader;
  std::unique_ptr<Reader> m_reader;
  std::set<std::pair<std::string, std::string>> m_forwards; // (local, remote) still forwarded
};

// The remote's describe() from the output of the fixed script it runs (key=value lines;
// no I/O, for tests): kernel, hostname, arch, cpu_model, cpus, memory_bytes, cpu_governor,
// transparent_hugepage, mitigations, and remote (the URL).

boost::json::object parse_remote_host_facts(std::string_view text, const std::string& url);

} // namespace virtbench
