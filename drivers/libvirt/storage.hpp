#pragma once
// libvirt storage for remote hosts: the `virtbench` pool that `virtbench image push` fills
// (virStorageVolUpload), and the per-run volumes a remote domain uses. Blocking calls:
// run them on a worker thread.

#include "drivers/libvirt/connection.hpp"
#include "platform.hpp" // GuestImage

#include <filesystem>
#include <functional>
#include <string>

namespace virtbench::libvirt {

// The pool named k_pool_name; throws Error saying to run `virtbench image push` when missing.
Pool find_pool(virConnectPtr conn, const std::string& uri);

// The pool, created (dir type at k_pool_path, built, started, autostarted) when missing.
Pool ensure_pool(virConnectPtr conn, const std::string& uri, const std::function<void(const std::string&)>& log);

// Volume names of an image in the pool: "<recipe hash, 12>-base.qcow2" and so on.
std::string pushed_volume_name(const GuestImage& image, const std::string& file_name);

// Paths on the pool's host of an image pushed there.
struct PushedImage {
  std::string base_qcow2, vmlinuz, initrd;
};
// Throws Error naming the missing volume and saying to run `virtbench image push --libvirt-uri URI`.
PushedImage find_pushed_image(virStoragePoolPtr pool, const GuestImage& image, const std::string& uri);

// Uploads every file of `image` the pool does not hold yet (or holds with another size,
// or all with force); returns one line per file saying what happened.
std::vector<std::string> push_image(virConnectPtr conn, virStoragePoolPtr pool, const GuestImage& image, bool force,
                                    const std::function<void(const std::string&)>& log);

// A qcow2 volume on top of `backing_path` (a path on the pool's host); returns its path.
std::string create_overlay_volume(virStoragePoolPtr pool, const std::string& name, const std::string& backing_path);

// Creates volume `name` from a local file with virStorageVolUpload; returns its path there.
std::string upload_volume(virConnectPtr conn, virStoragePoolPtr pool, const std::string& name,
                          const std::filesystem::path& file, const std::string& format);

// Writes volume `name` to a local file with virStorageVolDownload.
void download_volume(virConnectPtr conn, virStoragePoolPtr pool, const std::string& name,
                     const std::filesystem::path& file);

// Where a file named `name` would live in the pool's directory (on its host).
std::string pool_file_path(virStoragePoolPtr pool, const std::string& name);

} // namespace virtbench::libvirt
