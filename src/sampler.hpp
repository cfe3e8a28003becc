#pragma once
// Samples a /proc/stat (the host's, or a guest's through its platform) through a run.

#include "procstat.hpp"
#include "util/asio.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace virtbench {

class CpuSampler {
public:
  using Reader = std::function<awaitable<std::string>()>;

  CpuSampler(Reader read, std::chrono::milliseconds interval);

  // Takes a sample at once, then one per interval until stop(), then a last one.
  // A failing read ends sampling and is kept in error(); it never fails the run.
  awaitable<void> run();
  // Ends run() after the read in flight, if any (never cancels a read half-way).
  void stop();

  // The split from the first to the last sample, when there were two.
  std::optional<CpuSplit> split() const;
  std::size_t samples() const { return m_samples.size(); }
  const std::string& error() const { return m_error; }

private:
  awaitable<bool> sample();

  Reader m_read;
  std::chrono::milliseconds m_interval;
  std::optional<asio::steady_timer> m_timer;
  bool m_stopped = false;
  std::vector<CpuTimes> m_samples;
  std::string m_error;
};

} // namespace virtbench
