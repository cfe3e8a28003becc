#include "drivers/libvirt/storage.hpp"

#include "drivers/libvirt/domain_xml.hpp"
#include "drivers/libvirt/libvirt.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace virtbench::libvirt {

namespace fs = std::filesystem;

namespace {

std::string push_fix(const std::string& uri) { return "run `virtbench image push --libvirt-uri " + uri + "` first"; }

class Fd {
public:
  Fd(const fs::path& path, int flags, const std::string& what) : m_fd(::open(path.c_str(), flags | O_CLOEXEC, 0600)) {
    if (m_fd < 0)
      throw Error(what + " " + path.string() + ": " + std::strerror(errno));
  }
  ~Fd() { ::close(m_fd); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return m_fd; }

private:
  int m_fd;
};

int read_into_stream(virStreamPtr, char* data, size_t n, void* opaque) {
  return static_cast<int>(::read(*static_cast<int*>(opaque), data, n));
}

int write_from_stream(virStreamPtr, const char* data, size_t n, void* opaque) {
  return static_cast<int>(::write(*static_cast<int*>(opaque), data, n));
}

// The size of the file behind a volume (not a qcow2's virtual size).
std::optional<unsigned long long> physical_size(virStorageVolPtr vol) {
  virStorageVolInfo info{};
  if (virStorageVolGetInfoFlags(vol, &info, VIR_STORAGE_VOL_GET_PHYSICAL) != 0)
    return std::nullopt;
  return info.allocation; // with VIR_STORAGE_VOL_GET_PHYSICAL: the physical size
}

std::string volume_path(virStorageVolPtr vol, const std::string& name) {
  char* p = virStorageVolGetPath(vol);
  if (!p)
    throw_libvirt_error("path of volume " + name);
  std::string path = p;
  std::free(p);
  return path;
}

Volume create_volume(virStoragePoolPtr pool, const std::string& xml, const std::string& name) {
  virStorageVolPtr v = virStorageVolCreateXML(pool, xml.c_str(), 0);
  if (!v)
    throw_libvirt_error("create volume " + name + " in pool " + k_pool_name);
  return Volume(v);
}

} // namespace

Pool find_pool(virConnectPtr conn, const std::string& uri) {
  virStoragePoolPtr p = virStoragePoolLookupByName(conn, k_pool_name);
  if (!p)
    throw Error(fmt::format("find storage pool {} at {}: {}; {}", k_pool_name, uri, last_error().message, push_fix(uri)));
  Pool pool(p);
  if (virStoragePoolIsActive(p) != 1 && virStoragePoolCreate(p, 0) != 0)
    throw Error(fmt::format("start storage pool {} at {}: {}", k_pool_name, uri, last_error().message));
  return pool;
}

Pool ensure_pool(virConnectPtr conn, const std::string& uri, const std::function<void(const std::string&)>& log) {
  if (virStoragePoolPtr p = virStoragePoolLookupByName(conn, k_pool_name)) {
    Pool pool(p);
    if (virStoragePoolIsActive(p) != 1 && virStoragePoolCreate(p, 0) != 0)
      throw Error(fmt::format("start storage pool {} at {}: {}", k_pool_name, uri, last_error().message));
    return pool;
  }
  auto xml = fmt::format("<pool type='dir'>\n  <name>{}</name>\n  <target>\n    <path>{}</path>\n  </target>\n</pool>\n",
                         k_pool_name, xml_escape(k_pool_path));
  virStoragePoolPtr p = virStoragePoolDefineXML(conn, xml.c_str(), 0);
  if (!p)
    throw Error(fmt::format("define storage pool {} ({}) at {}: {}", k_pool_name, k_pool_path, uri, last_error().message));
  Pool pool(p);
  if (virStoragePoolBuild(p, 0) != 0 || virStoragePoolCreate(p, 0) != 0)
    throw Error(fmt::format("build and start storage pool {} ({}) at {}: {}", k_pool_name, k_pool_path, uri,
                            last_error().message));
  virStoragePoolSetAutostart(p, 1);
  if (log)
    log(fmt::format("created storage pool {} (dir {}) at {}", k_pool_name, k_pool_path, uri));
  return pool;
}

std::string pushed_volume_name(const GuestImage& image, const std::string& file_name) {
  return image.recipe_hash.substr(0, 12) + "-" + file_name;
}

PushedImage find_pushed_image(virStoragePoolPtr pool, const GuestImage& image, const std::string& uri) {
  virStoragePoolRefresh(pool, 0);
  auto path_of = [&](const fs::path& local) {
    auto name = pushed_volume_name(image, local.filename().string());
    Volume v{virStorageVolLookupByName(pool, name.c_str())};
    if (!v)
      throw Error(fmt::format("find the guest image's {} in pool {} at {}: no volume {}; {}", local.filename().string(),
                              k_pool_name, uri, name, push_fix(uri)));
    return volume_path(v.get(), name);
  };
  return {path_of(image.base_qcow2), path_of(image.vmlinuz), path_of(image.initrd)};
}

std::vector<std::string> push_image(virConnectPtr conn, virStoragePoolPtr pool, const GuestImage& image, bool force,
                                    const std::function<void(const std::string&)>& log) {
  virStoragePoolRefresh(pool, 0);
  std::vector<std::string> lines;
  for (auto& file : {image.base_qcow2, image.vmlinuz, image.initrd}) {
    auto name = pushed_volume_name(image, file.filename().string());
    auto size = fs::file_size(file);
    if (Volume existing{virStorageVolLookupByName(pool, name.c_str())}) {
      if (!force && physical_size(existing.get()) == size) {
        lines.push_back(fmt::format("{}: already in pool {} as {}", file.string(), k_pool_name,
                                    volume_path(existing.get(), name)));
        continue;
      }
      if (virStorageVolDelete(existing.get(), 0) != 0)
        throw_libvirt_error("delete the outdated volume " + name);
    }
    if (log)
      log(fmt::format("uploading {} ({} MiB) as volume {}", file.string(), size >> 20, name));
    auto path = upload_volume(conn, pool, name, file, "raw");
    lines.push_back(fmt::format("{}: uploaded to {}", file.string(), path));
  }
  virStoragePoolRefresh(pool, 0);
  return lines;
}

std::string create_overlay_volume(virStoragePoolPtr pool, const std::string& name, const std::string& backing_path) {
  // libvirt runs qemu-img create -b on the pool's host; the capacity is the backing file's.
  auto xml = fmt::format("<volume>\n  <name>{}</name>\n  <capacity>0</capacity>\n  <target>\n    <format type='qcow2'/>\n"
                         "  </target>\n  <backingStore>\n    <path>{}</path>\n    <format type='qcow2'/>\n"
                         "  </backingStore>\n</volume>\n",
                         xml_escape(name), xml_escape(backing_path));
  auto v = create_volume(pool, xml, name);
  return volume_path(v.get(), name);
}

std::string upload_volume(virConnectPtr conn, virStoragePoolPtr pool, const std::string& name, const fs::path& file,
                          const std::string& format) {
  Fd fd(file, O_RDONLY, "open");
  auto size = fs::file_size(file);
  // Created as a sparse file of the upload's size; the bytes (a qcow2 too) are written as they are.
  auto xml = fmt::format("<volume>\n  <name>{}</name>\n  <capacity unit='bytes'>{}</capacity>\n"
                         "  <allocation>0</allocation>\n  <target>\n    <format type='{}'/>\n  </target>\n</volume>\n",
                         xml_escape(name), size, xml_escape(format));
  auto vol = create_volume(pool, xml, name);
  Stream stream{virStreamNew(conn, 0)};
  if (!stream)
    throw_libvirt_error("upload " + file.string());
  if (virStorageVolUpload(vol.get(), stream.get(), 0, size, 0) != 0)
    throw_libvirt_error("upload " + file.string() + " to volume " + name);
  int raw_fd = fd.get();
  if (virStreamSendAll(stream.get(), read_into_stream, &raw_fd) != 0) {
    auto e = last_error();
    virStreamAbort(stream.get());
    virStorageVolDelete(vol.get(), 0);
    throw Error("upload " + file.string() + " to volume " + name + ": " + e.message);
  }
  if (virStreamFinish(stream.get()) != 0)
    throw_libvirt_error("finish the upload of " + file.string() + " to volume " + name);
  return volume_path(vol.get(), name);
}

void download_volume(virConnectPtr conn, virStoragePoolPtr pool, const std::string& name, const fs::path& file) {
  Volume vol{virStorageVolLookupByName(pool, name.c_str())};
  if (!vol)
    throw_libvirt_error("find volume " + name);
  Fd fd(file, O_WRONLY | O_CREAT | O_TRUNC, "create");
  Stream stream{virStreamNew(conn, 0)};
  if (!stream || virStorageVolDownload(vol.get(), stream.get(), 0, 0, 0) != 0)
    throw_libvirt_error("download volume " + name);
  int raw_fd = fd.get();
  if (virStreamRecvAll(stream.get(), write_from_stream, &raw_fd) != 0) {
    auto e = last_error();
    virStreamAbort(stream.get());
    throw Error("download volume " + name + ": " + e.message);
  }
  if (virStreamFinish(stream.get()) != 0)
    throw_libvirt_error("finish the download of volume " + name);
}

std::string pool_file_path(virStoragePoolPtr pool, const std::string& name) {
  char* xml = virStoragePoolGetXMLDesc(pool, 0);
  if (!xml)
    throw_libvirt_error(std::string("describe storage pool ") + k_pool_name);
  auto dir = element_text_from_xml(xml, "path");
  std::free(xml);
  if (!dir)
    throw Error(std::string("storage pool ") + k_pool_name + " has no target path (it must be a dir pool)");
  return *dir + "/" + name;
}

} // namespace virtbench::libvirt
