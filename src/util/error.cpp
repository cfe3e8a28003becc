#include "util/error.hpp"

namespace virtbench {

std::string tail_lines(std::string_view text, std::size_t max_lines) {
  while (!text.empty() && text.back() == '\n')
    text.remove_suffix(1);
  std::size_t pos = text.size();
  for (std::size_t n = 0; n < max_lines && pos > 0; ++n) {
    auto nl = text.rfind('\n', pos - 1);
    if (nl == std::string_view::npos) {
      pos = 0;
      break;
    }
    pos = nl;
  }
  auto tail = text.substr(pos);
  if (!tail.empty() && tail.front() == '\n')
    tail.remove_prefix(1);
  return std::string(tail);
}

} // namespace virtbench
