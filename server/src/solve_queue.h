// server/src/solve_queue.h: the solver slots of the service (--max-inflight) and the bounded queue of plan
// requests waiting for one (--queue-size, --queue-wait-ms).
//
// A burst of requests beyond the slots waits its turn instead of being refused: each waiting request
// holds a worker thread and its parsed-to-be body, so the queue is bounded, and so is the wait, so that
// a client is told to come back (503 with Retry-After) rather than kept waiting behind work the server
// cannot finish in time. Slots are handed out first come, first served: a freed slot goes to the request
// that has waited longest, which keeps the latency tail short under steady overload.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <mutex>

namespace reds::server {

class SolveQueue {
 public:
  enum class Outcome {
    acquired,      // the caller holds a slot until it calls release()
    queue_full,    // every slot busy and queue_size requests already waiting
    wait_expired,  // waited max_wait without a slot coming free
  };

  SolveQueue(int slots, int queue_size, std::chrono::milliseconds max_wait)
      : free_slots_(slots), queue_size_(queue_size), max_wait_(max_wait) {}
  SolveQueue(const SolveQueue&) = delete;
  SolveQueue& operator=(const SolveQueue&) = delete;

  Outcome acquire();
  // Gives the slot to the request waiting longest, or back to the pool.
  void release();

  // Requests waiting for a slot now.
  std::int64_t waiting() const;

 private:
  struct Waiter {
    std::condition_variable granted_signal;
    bool granted = false;
  };

  mutable std::mutex mutex_;
  int free_slots_;
  const int queue_size_;
  const std::chrono::milliseconds max_wait_;
  std::list<Waiter*> waiters_;  // oldest first; each Waiter lives on its waiting thread's stack
};

// A slot of a SolveQueue for one scope.
class SolveSlot {
 public:
  explicit SolveSlot(SolveQueue& queue) : queue_(queue), outcome_(queue.acquire()) {}
  ~SolveSlot() {
    if (acquired()) queue_.release();
  }
  SolveSlot(const SolveSlot&) = delete;
  SolveSlot& operator=(const SolveSlot&) = delete;

  bool acquired() const { return outcome_ == SolveQueue::Outcome::acquired; }
  SolveQueue::Outcome outcome() const { return outcome_; }

 private:
  SolveQueue& queue_;
  SolveQueue::Outcome outcome_;
};

}  // namespace reds::server
