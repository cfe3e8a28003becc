#include "image.hpp"

#include "procstat.hpp"

#include "util/error.hpp"
#include "util/fs.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <charconv>
#include <cmath>

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

GuestImage guest_image_from_manifest(const fs::path& dir, std::string_view manifest_text) {
  GuestImage image;
  image.dir = dir;
  image.base_qcow2 = image.dir / "base.qcow2";
  image.vmlinuz = image.dir / "vmlinuz";
  image.initrd = image.dir / "initrd.img";
  image.rootfs_tar = image.dir / "rootfs.tar";
  boost::system::error_code ec;
  auto v = boost::json::parse(manifest_text, ec);
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
  if (auto* hz = image.manifest.if_contains("kernel_hz"); hz && hz->is_int64())
    image.kernel_hz = static_cast<int>(hz->as_int64());
  return image;
}

GuestImage load_guest_image_dir(const fs::path& dir) {
  for (auto name : {"manifest.json", "base.qcow2", "vmlinuz", "initrd.img", "rootfs.tar"})
    if (!fs::exists(dir / name))
      throw Error("guest image: " + (dir / name).string() + " is missing");
  auto image = guest_image_from_manifest(dir, read_file(dir / "manifest.json"));
  if (fs::exists(image.dir / "vmlinux"))
    image.vmlinux = image.dir / "vmlinux";
  return image;
}

std::optional<std::uint64_t> host_tsc_khz(std::string_view cpuinfo) {
  std::optional<double> bogomips;
  bool tsc = false, constant_tsc = false;
  for (auto flags : cpuinfo_values(cpuinfo, "flags")) {
    tsc = has_word(flags, "tsc");
    constant_tsc = has_word(flags, "constant_tsc");
    if (tsc)
      break;
  }
  for (auto value : cpuinfo_values(cpuinfo, "bogomips")) {
    double v = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
    if (ec == std::errc() && v > 0) {
      bogomips = v;
      break;
    }
  }
  if (!bogomips || !tsc || !constant_tsc)
    return std::nullopt;
  return static_cast<std::uint64_t>(std::llround(*bogomips * 500));
}

std::string guest_kernel_tuning(std::optional<std::uint64_t> tsc_khz, int guest_hz, const std::string& machine) {
  // cryptomgr.notests: the cloud kernel self-tests its crypto at boot (1-2 s under TCG).
  // 8250.nr_uarts=1: the console is the only serial port. random.trust_cpu=on: RDRAND
  // seeds the RNG at once (QEMU's -cpu max has it), so nothing waits for entropy.
  std::string out = "cryptomgr.notests 8250.nr_uarts=1 random.trust_cpu=on";
  if (tsc_khz && *tsc_khz > 0) {
    out += " tsc_early_khz=" + std::to_string(*tsc_khz);
    if (guest_hz > 0)
      out += " lpj=" + std::to_string(*tsc_khz * 1000 / static_cast<std::uint64_t>(guest_hz));
  }
  if (machine == "microvm")
    out += " tsc=reliable";
  return out;
}

std::string guest_kernel_cmdline(const GuestImage& image, bool this_host, const std::string& machine) {
  std::optional<std::uint64_t> tsc_khz;
  if (this_host) {
    try {
      tsc_khz = host_tsc_khz(read_file("/proc/cpuinfo"));
    } catch (const std::exception&) {
    }
  }
  return fmt::format("{} {}", k_guest_kernel_cmdline, guest_kernel_tuning(tsc_khz, image.kernel_hz, machine));
}

} // namespace virtbench
