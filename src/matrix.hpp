#pragma once
// The configuration matrix: a suite's `[matrix]` (and `[[matrix.points]]`) and the command
// line's `--matrix qemu.vcpus=1,2` turn one driver into several platform entries, its
// variants (`qemu[vcpus=1,scratch-format=qcow2]`), measured interleaved in the same rounds.
// An axis is a driver option its driver marks as one (OptionSpec::axis). No I/O here.

#include "driver.hpp"
#include "options.hpp"

#include <boost/json/object.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace virtbench {

// One axis of one platform: every value it takes, as written.
struct MatrixAxis {
  std::string platform;            // "qemu"
  std::string axis;                // "vcpus", as the matrix names it (OptionSpec::matrix_name())
  std::vector<std::string> values; // "1", "2G", "qcow2"
  std::string where;               // "suite.toml:4: [matrix] qemu." or "--matrix " for messages
};

// One chosen point of one platform (`[[matrix.points]]`), instead of a cross product.
struct MatrixPoint {
  std::string platform;
  std::vector<std::pair<std::string, std::string>> params; // axis -> value as written
  std::string where;
};

struct Matrix {
  std::vector<MatrixAxis> axes;
  std::vector<MatrixPoint> points;
  bool empty() const { return axes.empty() && points.empty(); }
};

// "qemu.vcpus=1,2" (--matrix) as an axis; throws UsageError saying how it is written.
MatrixAxis parse_matrix_arg(std::string_view text);

// The command line's axes over a suite's: an axis replaces the suite's axis of that
// platform and name; a platform the suite lists points for cannot take axes (UsageError).
void override_matrix(Matrix& matrix, const std::vector<MatrixAxis>& axes);

// The driver's axes in their declared order, and "allowed axes of qemu: vcpus (1 to 256),
// memory (MiB, or 512M, 2G), cache-mode (none, writeback, ...)".
std::vector<const OptionSpec*> driver_axes(const Driver& driver);
std::string allowed_axes_text(const Driver& driver);
// The axis `name` of `driver`, or nullptr.
const OptionSpec* find_axis(const Driver& driver, std::string_view name);

// One platform entry of a matrix run.
struct Variant {
  std::string name;   // "qemu[vcpus=1,scratch-format=qcow2]"; the driver's name without varying axes
  std::string driver; // "qemu"
  // The axes that vary, in the driver's declared order: axis name -> value as shown ("2G").
  std::vector<std::pair<std::string, std::string>> params;
  OptionValues values; // the driver's option values for this variant
  // The platform's default variant (reports' "× default"): the one whose axes have the
  // values the platform has without the matrix, else the first.
  bool reference = false;
};

// The variants of `driver` in a run: its axes' cross product (or its points), each on top
// of `base` (defaults, the suite's [platform.NAME], the command line). Without axes for
// it, one variant named after the driver with `base`. Unknown axes and values: UsageError
// naming where they were written, the platform and its allowed axes.
std::vector<Variant> expand_variants(const Driver& driver, const Matrix& matrix, const OptionValues& base);

// "qemu[vcpus=1,scratch-format=qcow2]"; "qemu" with no params.
std::string variant_name(std::string_view driver, const std::vector<std::pair<std::string, std::string>>& params);

// A name for files and engines: "qemu-vcpus1-scratch-formatqcow2" (letters, digits, '-', '_', '.').
std::string variant_slug(std::string_view name);

// A variant's part of its results.json platform entry: "name", "platform" (the driver),
// "variant" {axis: value} and, for the platform's default variant, "default_variant": true.
boost::json::object variant_identity(const Variant& v);

// What a run leaves free of the host's memory when it decides how many variants fit at once.
inline constexpr std::uint64_t k_spare_memory_bytes = std::uint64_t{2} << 30;

// The batches of a run with at most `max_live` platforms that count (`capped[i]`: a VM or a
// container) up at once: every platform that does not count is in every batch (its
// baseline), the others in their order, `max_live` a batch. 0, or enough room: one batch.
std::vector<std::vector<std::size_t>> form_batches(const std::vector<bool>& capped, std::size_t max_live);

// The most capped platforms that fit in `host_bytes` at once with `spare_bytes` left, from
// each one's memory (the largest ones counted first); at least 1.
std::size_t max_live_for_memory(std::vector<std::uint64_t> memory_bytes, std::uint64_t host_bytes,
                                std::uint64_t spare_bytes);

} // namespace virtbench
