// Boost.JSON compiled into the fuzz targets with their instrumentation (instead of linking
// Debian's libboost_json), so the fuzzer sees coverage inside the JSON parser too.
#include <boost/json/src.hpp>
