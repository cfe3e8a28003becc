#pragma once
// The two failures of a VM's control channels (the guest agent, QMP) that the failure
// policy of GuestPlatform tells apart from the rest.

#include "util/error.hpp"

namespace virtbench::vm {

// No answer within the call's timeout: the VM may be hung, so its liveness is checked.
class ChannelTimeout : public Error {
public:
  using Error::Error;
};

// The other side answered with an error: it is alive.
class ChannelCommandError : public Error {
public:
  using Error::Error;
};

} // namespace virtbench::vm
