// The precompiled header of the libraries whose sources use Asio (meson's cpp_pch).
// Asio and Boost.JSON are most of every such source file's compile time: parsing them
// took 6-7 s of the 9 s that src/progress.cpp took at -O1, and 17 s once per library
// here. Only the standard library and third-party headers belong here, never one of
// ours: a change to a project header must not rebuild the precompiled one. A source file
// still includes what it uses; this header only makes that fast.
#include <boost/asio.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
