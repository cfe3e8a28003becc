#include "image.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"

#include <boost/json.hpp>

namespace virtbench {

namespace fs = std::filesystem;

fs::path guest_image_dir(const fs::path& data_dir) { return data_dir / "image"; }

GuestImage load_guest_image(const fs::path& data_dir) {
  try {
    return load_guest_image_dir(guest_image_dir(data_dir));
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + "; build the image with `virtbench image build`" +
                (data_dir == default_data_dir() ? std::string() : " --data-dir " + data_dir.string()));
  }
}

GuestImage load_guest_image_dir(const fs::path& dir) {
  GuestImage image;
  image.dir = dir;
  image.base_qcow2 = image.dir / "base.qcow2";
  image.vmlinuz = image.dir / "vmlinuz";
  image.initrd = image.dir / "initrd.img";
  image.rootfs_tar = image.dir / "rootfs.tar";
  for (auto& f : {image.dir / "manifest.json", image.base_qcow2, image.vmlinuz, image.initrd, image.rootfs_tar})
    if (!fs::exists(f))
      throw Error("guest image: " + f.string() + " is missing");
  auto text = read_file(image.dir / "manifest.json");
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object())
    throw Error("guest image: " + (image.dir / "manifest.json").string() + " is not valid JSON");
  image.manifest = v.as_object();
  auto str = [&](const char* key) {
    auto* p = image.manifest.if_contains(key);
    return p && p->is_string() ? std::string(p->as_string()) : std::string();
  };
  image.recipe_hash = str("recipe_hash");
  image.sysbench_sha256 = str("sysbench_sha256");
  image.sysbench_version = str("sysbench_version");
  image.kernel_version = str("kernel_version");
  return image;
}

} // namespace virtbench
