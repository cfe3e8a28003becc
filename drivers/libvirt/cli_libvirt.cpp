// `virtbench image push`: the guest image into a libvirt storage pool (for remote hosts).
#include "commands.hpp"

#include "drivers/libvirt/connection.hpp"
#include "drivers/libvirt/libvirt.hpp"
#include "drivers/libvirt/storage.hpp"
#include "image.hpp"
#include "util/fs.hpp"

#include <iostream>

namespace virtbench {

std::vector<Command> add_libvirt_commands(CLI::App& app, GlobalOptions& global) {
  struct PushArgs {
    std::string uri = "qemu:///system";
    bool force = false;
  };
  auto args = std::make_shared<PushArgs>();
  auto* image = app.get_subcommand("image");
  auto* push = image->add_subcommand("push", std::string("Copy the guest image into the libvirt storage pool ") +
                                                 libvirt::k_pool_name + " (created if missing) for --platform libvirt "
                                                 "on a remote host");
  push->add_option("--libvirt-uri", args->uri, "libvirt connection URI (e.g. qemu+ssh://root@host/system)")
      ->capture_default_str();
  push->add_flag("--force", args->force, "Upload again even when the pool holds files of the same size");
  auto run = [args, &global] {
    auto data_dir = global.data_dir.empty() ? default_data_dir() : std::filesystem::path(global.data_dir);
    auto image = load_guest_image(data_dir);
    auto log = [](const std::string& line) { std::cerr << "image push: " << line << std::endl; };
    auto conn = libvirt::open_connection(args->uri);
    auto pool = libvirt::ensure_pool(conn.get(), args->uri, log);
    for (auto& line : libvirt::push_image(conn.get(), pool.get(), image, args->force, log))
      std::cout << line << "\n";
    return 0;
  };
  return {{push, run}};
}

} // namespace virtbench
