#include "solve_queue.h"

namespace reds::server {

SolveQueue::Outcome SolveQueue::acquire() {
  std::unique_lock lock(mutex_);
  // Behind others already waiting, a free slot is theirs (release() hands it over), never the newcomer's.
  if (free_slots_ > 0 && waiters_.empty()) {
    --free_slots_;
    return Outcome::acquired;
  }
  if (static_cast<int>(waiters_.size()) >= queue_size_) return Outcome::queue_full;
  Waiter waiter;
  const auto place = waiters_.insert(waiters_.end(), &waiter);
  const bool granted = waiter.granted_signal.wait_for(lock, max_wait_, [&] { return waiter.granted; });
  if (granted) return Outcome::acquired;  // release() took it off the list
  waiters_.erase(place);
  return Outcome::wait_expired;
}

void SolveQueue::release() {
  const std::lock_guard lock(mutex_);
  if (waiters_.empty()) {
    ++free_slots_;
    return;
  }
  Waiter* next = waiters_.front();
  waiters_.pop_front();
  next->granted = true;
  next->granted_signal.notify_one();
}

std::int64_t SolveQueue::waiting() const {
  const std::lock_guard lock(mutex_);
  return static_cast<std::int64_t>(waiters_.size());
}

}  // namespace reds::server
