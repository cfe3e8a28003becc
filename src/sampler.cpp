#include "sampler.hpp"

namespace virtbench {

CpuSampler::CpuSampler(Reader read, std::chrono::milliseconds interval)
    : m_read(std::move(read)), m_interval(interval) {}

awaitable<bool> CpuSampler::sample() {
  try {
    m_samples.push_back(parse_proc_stat(co_await m_read()));
    co_return true;
  } catch (const std::exception& e) {
    m_error = e.what();
    co_return false;
  }
}

awaitable<void> CpuSampler::run() {
  m_timer.emplace(co_await asio::this_coro::executor);
  if (!co_await sample())
    co_return;
  while (!m_stopped) {
    m_timer->expires_after(m_interval);
    auto [ec] = co_await m_timer->async_wait(asio::as_tuple(use_awaitable));
    (void)ec; // cancelled by stop(): take the last sample now
    if (!co_await sample())
      co_return;
  }
}

void CpuSampler::stop() {
  m_stopped = true;
  if (m_timer)
    m_timer->cancel();
}

std::optional<CpuSplit> CpuSampler::split() const {
  if (m_samples.size() < 2)
    return std::nullopt;
  return cpu_split(m_samples.front(), m_samples.back());
}

} // namespace virtbench
