#pragma once
// Where virtbench finds the files it ships besides its binary (the guest-image recipe):
// relative to its own install prefix (PREFIX/bin/virtbench -> PREFIX/share/virtbench), so
// a relocated --prefix or a DESTDIR staging works; the source tree only when the binary
// runs from its meson build directory.

#include <filesystem>
#include <string>
#include <vector>

namespace virtbench {

// The places the recipe is looked for, in order: the source tree's guest-images/ when
// this binary is the one in its build directory, else DATADIR/virtbench/guest-images
// found from /proc/self/exe and the configured bindir and datadir.
std::vector<std::filesystem::path> recipe_search_paths();

// The first of recipe_search_paths() that holds a recipe (build.sh); throws UsageError
// naming every path looked at and --recipe when none does.
std::filesystem::path default_recipe_dir();

} // namespace virtbench
