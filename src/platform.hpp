#pragma once
// The one interface every platform (native, docker, qemu, libvirt) implements. The
// runner only ever talks to this; a driver's concrete class stays in its .cpp.

#include "options.hpp"
#include "util/asio.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace virtbench {

struct CpuSeconds {
  double user_s = 0;
  double kernel_s = 0;
};

struct ExecRequest {
  std::vector<std::string> argv;          // never a shell string built from input
  std::string cwd;                        // inside the platform; empty: its default
  std::chrono::milliseconds timeout{60000}; // then the command is killed, and timed_out set
};

struct ExecResult {
  int exit_code = -1; // -1 when killed or lost
  bool timed_out = false;
  std::string out;
  std::string err;
  double wall_s = 0;                     // as seen from the host, channel included
  std::optional<CpuSeconds> process_cpu; // the command's own CPU time, when the platform knows it
};

// One cache drop: where it happened and the page cache ("Cached:" in /proc/meminfo) around it.
struct CacheDrop {
  std::string where; // "host" or "guest"
  std::uint64_t cached_before_kib = 0;
  std::uint64_t cached_after_kib = 0;
  // False where the data set cannot be in this cache (QEMU with cache=none bypasses the
  // host's): the drop is recorded, but not expected to free the data set.
  bool holds_data_set = true;
  // What is left of the data set in this cache after the drop, where the platform can
  // tell itself (the host's pages of a VM's scratch disk file); the runner asks the
  // platform's own view (fincore on the files) for the cache its workload reads through.
  std::optional<std::uint64_t> resident_after_kib;
};

// The virtio-serial port name the guest's init starts qemu-ga on.
inline constexpr const char* k_guest_agent_port = "org.qemu.guest_agent.0";

// The guest image built by `virtbench image build` (see image.hpp for how it is made).
struct GuestImage {
  std::filesystem::path dir;        // DATA_DIR/image
  std::filesystem::path base_qcow2; // root disk; use through a qcow2 overlay, never write it
  std::filesystem::path vmlinuz;
  std::filesystem::path vmlinux;    // the same kernel as an ELF with a PVH entry point; empty when absent
  std::filesystem::path initrd;
  std::filesystem::path rootfs_tar; // for the container image (POST /images/create?fromSrc=-)
  boost::json::object manifest;     // manifest.json: recipe_hash, packages, sysbench_sha256, files ...
  std::string recipe_hash;
  std::string sysbench_sha256;
  std::string sysbench_version;
  std::string kernel_version;
  int kernel_hz = 0; // the guest kernel's CONFIG_HZ (manifest kernel_hz), 0 when not recorded
};

// What the core does for drivers on the host virtbench runs on. Handed to every driver
// (PlatformOptions::host, DriverContext::host); tests hand in their own.
class HostServices {
public:
  virtual ~HostServices() = default;
  // sync, then `3 > /proc/sys/vm/drop_caches`, with "Cached:" around it; throws Error
  // suggesting --no-drop-caches when not permitted.
  virtual CacheDrop drop_caches() = 0;
  // KiB of `path` in the host's page cache (a VM's scratch disk file).
  virtual std::uint64_t resident_kib(const std::filesystem::path& path) = 0;
  // The guest image in `data_dir`; throws Error naming `virtbench image build` when absent.
  virtual GuestImage guest_image(const std::filesystem::path& data_dir) = 0;
  // The kernel command line to boot the image's kernel with on `machine` (q35, microvm);
  // `this_host` adds the tuning measured on this host (TSC, loops_per_jiffy).
  virtual std::string guest_kernel_cmdline(const GuestImage& image, bool this_host, const std::string& machine) = 0;
  // "1.0.20" from `sysbench --version` output.
  virtual std::string sysbench_version(std::string_view version_output) = 0;
  // Runs a command on the host (native's workload): a child process here, or through the
  // SSH connection on a remote host (--host). A remote host whose connection is gone throws
  // PlatformLost.
  virtual awaitable<ExecResult> exec(ExecRequest request) = 0;
  // Where the host is: empty for this one, "ssh://user@host:port" for a remote one.
  virtual std::string location() const = 0;
  // On a remote host, the run's private directory there (/var/tmp/virtbench-<run-id>),
  // removed at the end of the run; empty here.
  virtual std::string remote_scratch_dir() const = 0;

  // --- For a VMM run on the host (qemu): this one, or the remote one over SSH ---
  // The guest image as the host has it: guest_image(data_dir) here; on a remote host the one
  // `virtbench image push --host URL` copied to its data directory (paths there), which must
  // be this host's recipe when this host has an image. Throws Error naming that command.
  virtual GuestImage host_guest_image(const std::filesystem::path& data_dir) = 0;
  // The argv that starts `argv` as a long-lived process on the host as virtbench's child:
  // `argv` itself here; on a remote host the ssh command that runs it there with its pid in
  // `pid_file` and ends it (SIGTERM, SIGKILL 5 s later) when this ssh's stdin closes, so its
  // starter holds a pipe open on that stdin while it should live. Its exit code is the
  // process's (128+N for signal N), 255 when the connection failed.
  virtual std::vector<std::string> long_lived_argv(const std::vector<std::string>& argv,
                                                   const std::string& pid_file) = 0;
  // Makes the Unix socket path `local` on this host (in the run's runtime directory) lead to
  // the Unix socket `remote` on the host (ssh -O forward -L through the run's connection) until
  // cancel_forward() or the end of the run: a remote engine's or libvirtd's API socket. Here
  // nothing is forwarded and `remote` must be `local`. Throws Error (UsageError: a path ssh
  // cannot carry; PlatformLost: the connection is gone).
  virtual awaitable<void> forward_socket(std::string local, std::string remote) = 0;
  // Ends forward_socket(local, remote) and removes `local`; never throws.
  virtual void cancel_forward(const std::string& local, const std::string& remote) noexcept = 0;
  // A file of the host (/proc/PID/stat): read here, through the one reader on a remote host.
  virtual awaitable<std::string> read_host_file(std::string path) = 0;
};

// What a driver gets to make a platform: the run's places and the options' values (each
// driver declares its options in its registry entry, src/driver.hpp).
struct PlatformOptions {
  std::filesystem::path data_dir;    // images, history
  std::filesystem::path runtime_dir; // private 0700 directory for sockets and state of this run
  std::filesystem::path raw_dir;     // DIR/raw/<platform>/ for console logs and the like
  std::string run_id;                // unique per run; labels containers, names domains
  std::uint64_t scratch_bytes = 0;   // fileio needs at least this much scratch space
  std::function<void(const std::string&)> log; // progress messages for the user (stderr)
  HostServices* host = nullptr;                // the core's services (host_services())
  OptionValues values;                         // every declared option's value (registry.hpp)
};

// Where on the measured host (this one, or the --host) a platform will write fileio's data
// set, for the preflight's free-space check before anything starts.
struct HostStorage {
  std::filesystem::path path; // a directory; the nearest existing parent is what gets checked
};

class Platform {
public:
  virtual ~Platform() = default;

  // "native", "docker", "qemu", "libvirt".
  virtual std::string name() const = 0;

  // Brings the environment up (boot the VM, create the container). Throws Error with a fix.
  virtual awaitable<void> start() = 0;
  // Tears everything down; idempotent, never throws, safe after a failed or partial start.
  virtual awaitable<void> stop() = 0;

  // Stop using the CPU while another platform is measured, and resume (no-op natively).
  virtual awaitable<void> freeze() = 0;
  virtual awaitable<void> thaw() = 0;

  // Runs a command inside the platform and waits for it (or its timeout).
  virtual awaitable<ExecResult> exec(ExecRequest request) = 0;

  // Contents of a file inside the platform (/proc/stat, /proc/meminfo ...).
  virtual awaitable<std::string> read_file(std::string path) = 0;

  // sync + drop the page cache, dentries and inodes wherever this platform's I/O is cached
  // (guest and/or host), and report "Cached:" before and after each drop.
  virtual awaitable<std::vector<CacheDrop>> drop_caches() = 0;

  // Cumulative host CPU seconds charged to this platform (QEMU's threads, the container's
  // cgroup), or nullopt where the workload's own process accounting is the answer (native).
  virtual awaitable<std::optional<CpuSeconds>> host_accounting() = 0;

  // True when read_file("/proc/stat") is a guest kernel's own view, not the host's.
  virtual bool has_guest_view() const = 0;

  // Directory inside the platform where fileio's files live (comparable storage).
  virtual std::string scratch_dir() const = 0;

  // Where fileio's files will land on this host, known from the options alone (before
  // start()); nullopt when they are not on this host (a remote libvirt) or not known yet.
  virtual std::optional<HostStorage> fileio_host_storage() const = 0;

  // Facts for results.json's "platforms" entry: versions, accel and reason, limits, digests.
  virtual boost::json::object describe() const = 0;
};

} // namespace virtbench
