#include "util/failure.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/multiple_exceptions.hpp>
#include <boost/system/system_error.hpp>

namespace virtbench {

std::exception_ptr first_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const boost::asio::multiple_exceptions& me) {
    return first_of(me.first_exception());
  } catch (...) {
    return e;
  }
}

bool is_cancellation(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(first_of(e));
  } catch (const boost::system::system_error& se) {
    return se.code() == boost::asio::error::operation_aborted;
  } catch (...) {
    return false;
  }
}

void throw_cancellation() { throw boost::system::system_error(boost::asio::error::operation_aborted); }

std::string what_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(first_of(e));
  } catch (const std::exception& ex) {
    return ex.what();
  } catch (...) {
    return "unknown error";
  }
}

} // namespace virtbench
