// What the results store's backends share (store.hpp): the migration's steps.
#include "store.hpp"

#include "util/error.hpp"

#include <fmt/format.h>

namespace virtbench::store {

void migrate(Backend& backend, const std::string& where, const std::function<int()>& lock_and_read_version,
             const std::function<void(int)>& apply, const std::function<void()>& write_version) {
  backend.begin();
  try {
    int version = lock_and_read_version(); // under the lock: another virtbench may have just migrated
    if (version > k_schema_version)
      throw Error(fmt::format("history {}: schema version {} is newer than this virtbench's {}; use a newer "
                              "virtbench with this store",
                              where, version, k_schema_version));
    for (int v = version; v < k_schema_version; ++v)
      apply(v);
    write_version();
    backend.commit();
  } catch (...) {
    backend.rollback();
    throw;
  }
}

} // namespace virtbench::store
