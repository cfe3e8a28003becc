#pragma once

namespace virtbench {
// virtbench's own version: `git describe --always --dirty --tags` at build time.
const char* version();
}
