#pragma once
// The Boost.Process v2 launcher initializer for virtbench's children: a process group of
// their own (so a deadline or Ctrl-C kills everything they started), an environment when
// one is given, and optionally death with virtbench (PR_SET_PDEATHSIG), for a child that
// must not outlive it even when virtbench is SIGKILLed (an SSH master).

#include <boost/process/v2/error.hpp>
#include <boost/system/error_code.hpp>

#include <cerrno>
#include <csignal>
#include <sys/prctl.h>
#include <unistd.h>

namespace virtbench {

struct ChildSetup {
  const char* const* env = nullptr; // a whole environment; nullptr: inherit
  bool die_with_parent = false;
  pid_t parent = 0; // getpid() before the fork, to catch a parent that died during it

  template <typename Launcher, typename Path>
  boost::system::error_code on_setup(Launcher& launcher, const Path&, const char* const*&) {
    if (env)
      launcher.env = env;
    parent = ::getpid();
    return {};
  }

  template <typename Launcher, typename Path>
  boost::system::error_code on_exec_setup(Launcher&, const Path&, const char* const*&) {
    if (::setpgid(0, 0) != 0)
      return boost::system::error_code(errno, boost::system::system_category());
    ::signal(SIGPIPE, SIG_DFL); // virtbench ignores it (pipes to ssh clients); its children must not inherit that
    if (die_with_parent) {
      if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
        return boost::system::error_code(errno, boost::system::system_category());
      if (::getppid() != parent) // the parent died before prctl: no signal will come
        ::_exit(1);
    }
    return {};
  }
};

} // namespace virtbench
