// `virtbench image build|list` and `virtbench doctor`.
#include "commands.hpp"
#include "data_dir.hpp"
#include "doctor.hpp"
#include "host.hpp"
#include "image.hpp"
#include "image_push.hpp"
#include "remote_host.hpp"
#include "results.hpp"
#include "ssh.hpp"
#include "util/error.hpp"
#include "util/fs.hpp"
#include "util/process.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <sys/statvfs.h>
#include <unistd.h>

namespace virtbench {

namespace fs = std::filesystem;

namespace {

// The files whose content defines the image; their hash names it.
std::vector<fs::path> recipe_files(const fs::path& recipe) {
  std::vector<fs::path> files;
  for (auto& name : {"packages.txt", "init", "build.sh"}) {
    auto p = recipe / name;
    if (!fs::exists(p))
      throw UsageError("guest image recipe " + recipe.string() + ": " + name +
                       " is missing; point --recipe at a guest-images/ directory (installed: "
                       "DATADIR/virtbench/guest-images; in the source tree: guest-images/)");
    files.push_back(p);
  }
  return files;
}

std::string recipe_hash(const fs::path& recipe) {
  std::vector<std::string> argv{"sha256sum"};
  for (auto& f : recipe_files(recipe))
    argv.push_back(f.filename().string());
  ProcessOptions po;
  po.cwd = recipe;
  po.timeout = std::chrono::seconds(30);
  auto sums = run_sync(check_process(argv, po));
  // Hash the list of per-file hashes: names and contents both count.
  auto list = fs::temp_directory_path() / fmt::format("virtbench-recipe-{}.txt", ::getpid());
  write_file_atomic(list, sums.out);
  std::vector<std::string> argv2{"sha256sum", list.string()};
  auto r = run_sync(check_process(argv2, po));
  fs::remove(list);
  return r.out.substr(0, 64);
}

struct ImageArgs {
  bool force = false;
  std::string recipe; // --recipe; empty: default_recipe_dir()
  bool json = false;
  std::string host, ssh_config; // doctor --host, --ssh-config; image push --host, --ssh-config
  std::string remote_data_dir;  // image push and doctor --remote-data-dir
  bool pool = false;            // image push --host --pool: the remote libvirt pool too
};

int image_build(const ImageArgs& a, const GlobalOptions& g) {
  auto data_dir = data_dir_of(g);
  fs::path recipe = a.recipe.empty() ? default_recipe_dir() : fs::path(a.recipe);
  auto hash = recipe_hash(recipe);
  std::cerr << fmt::format("guest image recipe {} (hash {})\n", recipe.string(), hash.substr(0, 12));
  auto target = guest_image_dir(data_dir);
  if (!a.force) {
    try {
      auto current = load_guest_image(data_dir);
      if (current.recipe_hash == hash) {
        std::cerr << fmt::format("guest image is up to date (recipe {}), nothing to do: {}\n"
                                 "  (virtbench image build --force rebuilds it)\n",
                                 hash.substr(0, 12), target.string());
        return 0;
      }
      std::cerr << fmt::format("guest image recipe changed ({} -> {}): rebuilding\n", current.recipe_hash.substr(0, 12),
                               hash.substr(0, 12));
    } catch (const Error&) {
      // Not built yet (or incomplete): build it.
    }
  }
  if (::geteuid() != 0)
    throw Error("image build: debootstrap needs root (it chroots to install packages); run `sudo virtbench image build`");
  if (!fs::exists("/usr/sbin/debootstrap"))
    throw Error("image build: debootstrap is not installed; run tools/setup (or apt-get install debootstrap)");

  fs::create_directories(data_dir);
  // Build next to the target so the final rename is atomic; a half-finished build
  // never replaces a good image.
  TempDir work(data_dir, "image.tmp-");
  std::cerr << fmt::format("building the guest image (recipe {}) in {} ...\n", hash.substr(0, 12), work.path().string());
  auto started = std::chrono::steady_clock::now();
  std::vector<std::string> argv{(recipe / "build.sh").string(), work.path().string()};
  ProcessOptions po;
  po.timeout = std::chrono::minutes(30);
  po.pass_through_stderr = true;
  po.env = {{"VIRTBENCH_RECIPE_HASH", hash}, {"VIRTBENCH_DEBOOTSTRAP_CACHE", (data_dir / "debootstrap-cache").string()}};
  fs::create_directories(data_dir / "debootstrap-cache");
  ::chmod(work.path().c_str(), 0755);
  auto r = run_sync(run_process(argv, po));
  if (r.exit_code != 0 || r.timed_out)
    throw Error(fmt::format("image build: {} failed ({}); nothing was replaced{}", format_argv(argv),
                            describe_exit(r, po.timeout),
                            r.out.empty() ? "" : "\n" + tail_lines(r.out, 10)));
  auto built = load_guest_image_dir(work.path()); // every output is there, the manifest parses
  if (built.recipe_hash != hash)
    throw Error("image build: the manifest records recipe " + built.recipe_hash + ", expected " + hash);

  auto old = data_dir / fmt::format("image.old-{}", ::getpid());
  bool had_old = fs::exists(target);
  if (had_old)
    fs::rename(target, old);
  try {
    fs::rename(work.path(), target);
  } catch (...) {
    if (had_old)
      fs::rename(old, target);
    throw;
  }
  std::error_code ec;
  fs::remove_all(old, ec);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cerr << fmt::format("built the guest image in {:.0f} s: {} (sysbench {}, kernel {})\n", seconds, target.string(),
                           built.sysbench_version, built.kernel_version);
  std::cout << target.string() << std::endl;
  return 0;
}

// `virtbench image push --host URL`: the guest image to the remote host's data directory
// (image_push.hpp); without --host, the driver's own push (libvirt's pool) when built in.
int image_push(const ImageArgs& a, const GlobalOptions& g) {
  if (a.host.empty()) {
    if (!a.ssh_config.empty() || !a.remote_data_dir.empty() || a.pool)
      throw UsageError("--ssh-config, --remote-data-dir and --pool are for image push --host ssh://user@host; give "
                       "--host too");
    if (auto code = run_driver_command({"image", "push"}))
      return *code;
    throw UsageError("image push: give --host ssh://user@host[:port], the host to copy the guest image to");
  }
  SshSettings settings{parse_ssh_url(a.host), a.ssh_config};
  check_remote_data_dir(a.remote_data_dir);
  auto image = load_guest_image(data_dir_of(g));
  TempDir runtime(runtime_parent_dir(), "run-"); // the master's socket
  runtime.record_owner();
  SshConnection ssh(std::move(settings), runtime.path());
  ssh.open();
  auto dir = a.remote_data_dir.empty() ? remote_default_data_dir(ssh) : a.remote_data_dir;
  auto log = [](const std::string& line) { std::cerr << "image push: " << line << std::endl; };
  for (auto& line : push_image_to_host(ssh, image, dir, log))
    std::cout << line << "\n";
  int code = 0;
  if (a.pool) {
    // The libvirt driver's push, into the remote libvirtd's pool over the same connection.
    RemoteHost remote(ssh, local_host(), "command", "");
    auto pushed = run_driver_command({"image", "push"}, &remote, runtime.path());
    if (auto problem = remote.close(); !problem.empty())
      std::cerr << "virtbench: warning: " << problem << std::endl;
    if (!pushed)
      throw UsageError("image push --pool: this virtbench is built without the libvirt platform (-Dplatforms)");
    code = *pushed;
  }
  ssh.close();
  return code;
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", b, units[u]);
}

int image_list(const ImageArgs& a, const GlobalOptions& g) {
  auto data_dir = data_dir_of(g);
  GuestImage image;
  try {
    image = load_guest_image(data_dir);
  } catch (const Error& e) {
    if (a.json) {
      std::cout << pretty_json(boost::json::object{{"built", false}, {"dir", guest_image_dir(data_dir).string()},
                                                   {"error", e.what()}})
                << std::endl;
      return 1;
    }
    std::cerr << "no guest image: " << e.what() << std::endl;
    return 1;
  }
  if (a.json) {
    auto m = image.manifest;
    m["dir"] = image.dir.string();
    std::cout << pretty_json(m) << std::endl;
    return 0;
  }
  auto str = [&](const char* k) {
    auto* v = image.manifest.if_contains(k);
    return v && v->is_string() ? std::string(v->as_string()) : std::string("?");
  };
  std::cout << fmt::format("guest image in {}\n", image.dir.string());
  std::cout << fmt::format("  recipe hash   {}\n  built at      {}\n  debian        {}\n  kernel        {}\n"
                           "  sysbench      {} (sha256 {})\n",
                           image.recipe_hash, str("built_at"), str("debian_suite"), image.kernel_version,
                           image.sysbench_version, image.sysbench_sha256);
  for (auto& name : {"base.qcow2", "vmlinuz", "initrd.img", "rootfs.tar"}) {
    std::error_code ec;
    auto size = fs::file_size(image.dir / name, ec);
    std::cout << fmt::format("  {:<13} {}\n", name, ec ? std::string("missing") : human_bytes(static_cast<double>(size)));
  }
  if (auto* p = image.manifest.if_contains("packages"); p && p->is_object())
    std::cout << fmt::format("  packages      {} installed\n", p->as_object().size());
  return 0;
}

int doctor(const ImageArgs& a, const GlobalOptions& g) {
  if (a.host.empty() && (!a.ssh_config.empty() || !a.remote_data_dir.empty()))
    throw UsageError("--ssh-config and --remote-data-dir are for doctor --host; give --host ssh://user@host too");
  check_remote_data_dir(a.remote_data_dir);
  auto checks = a.host.empty() ? run_doctor(data_dir_of(g))
                               : run_remote_doctor(a.host, a.ssh_config, data_dir_of(g), a.remote_data_dir);
  if (a.json) {
    std::cout << pretty_json(doctor_to_json(checks)) << std::endl;
  } else {
    for (auto& c : checks) {
      std::cout << fmt::format("{:<5} {:<13} {}\n", c.status == "ok" ? "ok" : c.status == "warn" ? "WARN" : "FAIL", c.name,
                               c.detail);
      if (!c.fix.empty())
        std::cout << fmt::format("      {:<13} fix: {}\n", "", c.fix);
    }
  }
  bool failed = std::any_of(checks.begin(), checks.end(), [](auto& c) { return c.status == "fail"; });
  return failed ? 1 : 0;
}

} // namespace

std::vector<Command> add_image_commands(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<ImageArgs>();
  auto* image = app.add_subcommand("image", "Build or list the guest image (VM disk, kernel, container rootfs) from guest-images/");
  image->require_subcommand(1);
  auto* build = image->add_subcommand("build", "Build the guest image with debootstrap (root); does nothing when the recipe is unchanged");
  build->add_flag("--force", args->force, "Rebuild even when the recipe is unchanged");
  build->add_option("--recipe", args->recipe,
                    "The recipe directory (default: DATADIR/virtbench/guest-images next to the installed binary, "
                    "the source tree's guest-images/ when run from the build directory; `virtbench doctor` shows which)")
      ->type_name("DIR");
  auto* list = image->add_subcommand("list", "Show the built guest image and its manifest");
  list->add_flag("--json", args->json, "Print the manifest as JSON");
  auto* push = image->add_subcommand(
      "push", "Copy the guest image (manifest, base.qcow2, kernel, initrd) to --host's data directory over SSH for "
              "`run --host URL --platform qemu`; once per recipe hash, an interrupted copy continues where it stopped");
  add_host_options(push, args->host, args->ssh_config, "The host to copy the guest image to");
  push->add_option("--remote-data-dir", args->remote_data_dir,
                   "With --host: the data directory there (default: /var/lib/virtbench as root, else "
                   "~/.local/share/virtbench); the image goes to DIR/image")
      ->type_name("DIR");
  push->add_flag("--pool", args->pool,
                 "With --host: also fill the libvirt storage pool there, through its libvirtd's socket forwarded over "
                 "the same connection (for --host with --platform libvirt)");
  auto* doc = app.add_subcommand("doctor", "Check what works on this host (QEMU, KVM, Docker, images, privileges, disk) "
                                          "and say how to fix what does not; exit 1 when something needed fails");
  doc->add_flag("--json", args->json, "Print the checks as JSON");
  add_host_options(doc, args->host, args->ssh_config, "Check this remote host instead (what `run --host` needs there)");
  doc->add_option("--remote-data-dir", args->remote_data_dir,
                  "With --host: the data directory there whose guest image to check (default: /var/lib/virtbench as "
                  "root, else ~/.local/share/virtbench)")
      ->type_name("DIR");
  return {
      {doc, [args, &global] { return doctor(*args, global); }},
      {build, [args, &global] { return image_build(*args, global); }},
      {push, [args, &global] { return image_push(*args, global); }},
      {list, [args, &global] { return image_list(*args, global); }},
  };
}

} // namespace virtbench
