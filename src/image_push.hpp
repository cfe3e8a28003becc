#pragma once
// `virtbench image push --host ssh://...`: the guest image's VM files copied to the remote
// host's data directory (DIR/image, the local layout) through one SSH ControlMaster, once per
// recipe hash and resumable: each file goes to NAME.part, continued from the bytes already
// there, checked against the manifest's sha256, then renamed; manifest.json comes last, so a
// remote image with a manifest is complete.

#include "platform.hpp" // GuestImage

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace virtbench {

class SshConnection;

// One file of the image as its manifest describes it ("files": {"NAME": {bytes, sha256}}).
struct ImageFile {
  std::string name;
  std::uint64_t bytes = 0;
  std::string sha256;
};

// The files a VM boots from on the remote (base.qcow2, vmlinuz, vmlinux when the manifest
// lists it, initrd.img), from `image`'s manifest; throws Error naming an entry that is missing
// or malformed (rebuild the image).
std::vector<ImageFile> vm_image_files(const GuestImage& image);

// What is on the remote of one file: NAME and NAME.part, with their sizes.
struct RemoteFileState {
  std::optional<std::uint64_t> final_bytes, part_bytes;
};
// The remote state script's lines "file BYTES NAME" and "part BYTES NAME" (others ignored).
std::map<std::string, RemoteFileState> parse_remote_image_state(std::string_view text);

enum class PushAction {
  keep,   // NAME is there with the right size and the remote manifest names this recipe
  check,  // NAME is there with the right size: its sha256 decides (a mismatch copies it anew)
  resume, // NAME.part (or a short NAME, renamed to it) holds `from` bytes: send the rest
  copy,   // send it whole (nothing there, or more bytes than it should have)
};
struct PushStep {
  std::string name;
  PushAction action = PushAction::copy;
  std::uint64_t from = 0; // resume: the bytes already there
  bool from_final = false; // resume: they are in NAME, to be renamed to NAME.part first
};
// What to do with each file (no I/O). `trusted`: the remote manifest.json names this recipe.
std::vector<PushStep> plan_image_push(const std::vector<ImageFile>& files,
                                      const std::map<std::string, RemoteFileState>& remote, bool trusted);

// The remote user's default data directory, as default_data_dir() decides it here:
// /var/lib/virtbench for root, else $XDG_DATA_HOME/virtbench or ~/.local/share/virtbench there.
// Throws Error.
std::string remote_default_data_dir(SshConnection& ssh);

// Copies `image` to `remote_data_dir`/image over `ssh`; says what it does through `log` and
// returns the lines of its summary. Throws Error (an interrupted copy continues next time).
std::vector<std::string> push_image_to_host(SshConnection& ssh, const GuestImage& image,
                                            const std::string& remote_data_dir,
                                            const std::function<void(const std::string&)>& log);

} // namespace virtbench
