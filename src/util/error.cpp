#include "util/error.hpp"

#include "util/failure.hpp"

#include <exception>

namespace virtbench {

void rethrow_with_context(std::string_view context) {
  auto current = std::current_exception();
  if (!current)
    throw Error(std::string(context) + ": unknown error");
  if (is_cancellation(current))
    std::rethrow_exception(current);
  auto prefix = std::string(context) + ": ";
  try {
    std::rethrow_exception(first_of(current));
  } catch (const UsageError& e) {
    throw UsageError(prefix + e.what());
  } catch (const PlatformLost& e) {
    throw PlatformLost(prefix + e.what());
  } catch (const std::exception& e) {
    throw Error(prefix + e.what());
  } catch (...) {
    throw Error(prefix + "unknown error");
  }
}

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
