#pragma once
// What every fuzz target shares: the input as text, and the one rule of hostile input —
// a decoder may refuse it only with virtbench's Error (which names what was wrong); any
// other exception escaping (std::out_of_range from std::stoi, boost::system::system_error
// from Boost.JSON's .at() or as_*()) is a bug, reported as a crash with its message.

#include "util/error.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string_view>
#include <typeinfo>

namespace virtbench::fuzz {

inline std::string_view text_of(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Calls feed(piece) for `bytes` in pieces of `chunk` bytes (the last one shorter): how bytes
// arrive from a socket, so that state machines meet every split of their input.
template <typename F>
void feed_in_chunks(std::string_view bytes, std::size_t chunk, F&& feed) {
  while (!bytes.empty()) {
    auto n = std::min(chunk, bytes.size());
    feed(bytes.substr(0, n));
    bytes.remove_prefix(n);
  }
}

// Runs `f`; an Error is an accepted refusal, anything else aborts the fuzzer with its message.
template <typename F>
void refusing_only_with_error(F&& f) {
  try {
    f();
  } catch (const Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: an exception other than virtbench::Error escaped: %s: %s\n", typeid(e).name(),
                 e.what());
    std::abort();
  }
}

} // namespace virtbench::fuzz
