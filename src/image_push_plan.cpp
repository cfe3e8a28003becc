// image push --host's decisions, without I/O (unit-tested and fuzzed: fuzz/fuzz_remote.cpp):
// the VM's files from the manifest, the remote state script's output, the plan per file.
#include "image_push.hpp"

#include "util/error.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <sstream>

namespace virtbench {

namespace {

bool is_sha256(const std::string& s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

} // namespace

std::vector<ImageFile> vm_image_files(const GuestImage& image) {
  auto* files = image.manifest.if_contains("files");
  if (!files || !files->is_object())
    throw Error("image push: the manifest of " + image.dir.string() +
                " has no \"files\" (sizes and sha256); rebuild the image with `virtbench image build --force`");
  std::vector<ImageFile> out;
  for (auto name : {"base.qcow2", "vmlinuz", "vmlinux", "initrd.img"}) {
    auto* entry = files->as_object().if_contains(name);
    if (!entry) {
      if (std::string_view(name) == "vmlinux")
        continue; // optional: the kernel as an ELF for PVH boot
      throw Error(fmt::format("image push: the manifest of {} has no files.{}; rebuild the image with "
                              "`virtbench image build --force`",
                              image.dir.string(), name));
    }
    auto* bytes = entry->is_object() ? entry->as_object().if_contains("bytes") : nullptr;
    auto* sha = entry->is_object() ? entry->as_object().if_contains("sha256") : nullptr;
    if (!bytes || !bytes->is_int64() || bytes->as_int64() < 0 || !sha || !sha->is_string() ||
        !is_sha256(std::string(sha->as_string())))
      throw Error(fmt::format("image push: the manifest of {}: files.{} needs \"bytes\" (a number) and \"sha256\" "
                              "(64 hex digits); rebuild the image with `virtbench image build --force`",
                              image.dir.string(), name));
    out.push_back({name, static_cast<std::uint64_t>(bytes->as_int64()), std::string(sha->as_string())});
  }
  return out;
}

std::map<std::string, RemoteFileState> parse_remote_image_state(std::string_view text) {
  std::map<std::string, RemoteFileState> state;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string kind, name;
    std::uint64_t bytes = 0;
    if (!(fields >> kind >> bytes >> name) || (kind != "file" && kind != "part"))
      continue;
    (kind == "file" ? state[name].final_bytes : state[name].part_bytes) = bytes;
  }
  return state;
}

std::vector<PushStep> plan_image_push(const std::vector<ImageFile>& files,
                                      const std::map<std::string, RemoteFileState>& remote, bool trusted) {
  std::vector<PushStep> steps;
  for (auto& f : files) {
    PushStep step{f.name};
    auto it = remote.find(f.name);
    RemoteFileState there = it == remote.end() ? RemoteFileState{} : it->second;
    if (there.final_bytes && *there.final_bytes == f.bytes) {
      step.action = trusted ? PushAction::keep : PushAction::check;
    } else if (there.final_bytes && *there.final_bytes < f.bytes) {
      // A short file (cut off): continued like a .part, then checked.
      step.action = PushAction::resume;
      step.from = *there.final_bytes;
      step.from_final = true;
    } else if (!there.final_bytes && there.part_bytes && *there.part_bytes <= f.bytes) {
      step.action = PushAction::resume;
      step.from = *there.part_bytes;
    } else {
      step.action = PushAction::copy;
    }
    steps.push_back(step);
  }
  return steps;
}

} // namespace virtbench
