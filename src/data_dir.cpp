#include "data_dir.hpp"

#include "install_dirs.hpp"
#include "util/error.hpp"

#include <system_error>

namespace virtbench {

namespace fs = std::filesystem;

namespace {

fs::path self_exe_dir() {
  std::error_code ec;
  auto exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe.parent_path();
}

// bin_dir with `bindir`'s components taken off its end: the prefix the binary runs from
// (empty when bin_dir does not end with them, e.g. a binary copied elsewhere).
fs::path prefix_of(const fs::path& bin_dir, const fs::path& bindir) {
  fs::path prefix = bin_dir;
  std::vector<fs::path> parts(bindir.begin(), bindir.end());
  for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
    if (prefix.filename() != *it)
      return {};
    prefix = prefix.parent_path();
  }
  return prefix;
}

bool same_dir(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec);
}

} // namespace

std::vector<fs::path> recipe_search_paths() {
  auto bin_dir = self_exe_dir();
  if (!bin_dir.empty() && same_dir(bin_dir, VIRTBENCH_BUILD_DIR))
    return {fs::path(VIRTBENCH_SOURCE_DIR) / "guest-images"};
  fs::path datadir = VIRTBENCH_DATADIR;
  if (datadir.is_relative()) {
    fs::path bindir = VIRTBENCH_BINDIR;
    // An absolute bindir under the prefix counts from the prefix; one elsewhere tells
    // nothing about where the prefix went, so the configured one stands.
    auto relative_bindir = bindir.is_relative() ? bindir : bindir.lexically_relative(VIRTBENCH_PREFIX);
    auto prefix = relative_bindir.empty() || *relative_bindir.begin() == ".." ? fs::path()
                                                                              : prefix_of(bin_dir, relative_bindir);
    datadir = (prefix.empty() ? fs::path(VIRTBENCH_PREFIX) : prefix) / datadir;
  }
  return {datadir / "virtbench" / "guest-images"};
}

fs::path default_recipe_dir() {
  auto paths = recipe_search_paths();
  std::string looked;
  for (auto& p : paths) {
    std::error_code ec;
    if (fs::is_regular_file(p / "build.sh", ec))
      return p;
    looked += (looked.empty() ? "" : ", ") + p.string();
  }
  throw UsageError("find the guest image recipe: no build.sh in " + looked +
                   " (this virtbench is not installed with its data, nor run from its build directory); "
                   "install it with `meson install`, or point --recipe at a guest-images/ directory");
}

} // namespace virtbench
