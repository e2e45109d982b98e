// The service's metrics, written in the Prometheus text exposition format (version 0.0.4) by hand: a
// handful of families does not justify a client library, and the format is a few lines per family.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

#include "reds/plan.h"

namespace reds::server {

class Metrics {
 public:
  // Upper bounds of the plan latency histogram's buckets, in seconds (+Inf is implied).
  static constexpr std::array<double, 15> kPlanSecondsBuckets = {
      0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30};

  // One answered request. `endpoint` is a known path or "other", so that the label set stays bounded
  // whatever paths clients send.
  void count_response(std::string_view endpoint, int status);
  // The time one POST /plan spent parsing, planning and writing its answer while holding a solver slot.
  void observe_plan_seconds(double seconds);
  void count_plan(PlanStatus status);

  // A connection beyond --max-connections (or beyond the process's file descriptors), closed at once.
  void count_refused_connection() { ++refused_connections_; }

  std::atomic<std::int64_t> requests_in_flight{0};
  std::atomic<std::int64_t> solves_in_flight{0};
  // The connections open now, while the server listens.
  std::function<std::int64_t()> open_connections;

  // Plan requests waiting for a solver slot now, while the server listens.
  std::function<std::int64_t()> queued_requests;

  struct Limits {
    int solve_slots;  // --max-inflight
    int queue_size;   // --queue-size
  };
  std::string exposition(const Limits& limits) const;

 private:
  mutable std::mutex responses_mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t> responses_;  // (endpoint, status) -> count

  std::array<std::atomic<std::uint64_t>, kPlanSecondsBuckets.size()> plan_buckets_{};  // not cumulative
  std::atomic<std::uint64_t> plan_count_{0};
  std::atomic<double> plan_seconds_sum_{0.0};
  std::array<std::atomic<std::uint64_t>, 3> plans_by_status_{};  // indexed by PlanStatus
  std::atomic<std::uint64_t> refused_connections_{0};
};

}  // namespace reds::server
