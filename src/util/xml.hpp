#pragma once
// Text for XML documents we write (libvirt domain XML, JUnit reports).

#include <string>
#include <string_view>

namespace virtbench {

// Characters &, <, >, ' and " as XML entities.
std::string xml_escape(std::string_view text);

} // namespace virtbench
