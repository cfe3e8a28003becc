// What a remote host prints back to the qemu platform and to `image push --host`
// (drivers/qemu/remote_qemu.cpp, src/image_push_plan.cpp), on any text: the probe
// script's facts, and the state script's file sizes with the plan made from them. Seeds:
// tests/data/remote/ (the scripts' real output on this host).
#include "drivers/qemu/remote_qemu.hpp"
#include "fuzz/fuzz.hpp"
#include "image_push.hpp"

#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace virtbench;
  auto text = fuzz::text_of(data, size);
  fuzz::refusing_only_with_error([&] {
    auto facts = qemu::parse_remote_probe(text);
    if (facts.cpuinfo.size() > text.size() + 1)
      std::abort();
  });
  fuzz::refusing_only_with_error([&] {
    auto state = parse_remote_image_state(text);
    std::vector<ImageFile> files{{"base.qcow2", 293928960, std::string(64, 'a')},
                                 {"vmlinuz", 14149568, std::string(64, 'b')},
                                 {"initrd.img", 0, std::string(64, 'c')}};
    for (bool trusted : {false, true}) {
      auto plan = plan_image_push(files, state, trusted);
      if (plan.size() != files.size())
        std::abort(); // one step per file, in order
      for (std::size_t i = 0; i < plan.size(); ++i)
        if (plan[i].name != files[i].name || (plan[i].action == PushAction::resume && plan[i].from > files[i].bytes))
          std::abort(); // never resumed past the file's end
    }
  });
  return 0;
}
