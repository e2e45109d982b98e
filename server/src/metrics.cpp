#include "metrics.h"

#include <algorithm>
#include <charconv>
#include <sstream>

namespace reds::server {
namespace {

void family(std::ostringstream& out, const char* name, const char* type, const char* help) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
}

// The shortest text that reads back as the same double ("0.0005", not "0.00050000000000000001").
std::string number(double value) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, value, std::chars_format::general).ptr;
  return std::string(text, end);
}

}  // namespace

void Metrics::count_response(std::string_view endpoint, int status) {
  const std::lock_guard lock(responses_mutex_);
  ++responses_[{std::string(endpoint), status}];
}

void Metrics::observe_plan_seconds(double seconds) {
  const auto bucket = std::lower_bound(kPlanSecondsBuckets.begin(), kPlanSecondsBuckets.end(), seconds);
  if (bucket != kPlanSecondsBuckets.end()) ++plan_buckets_[bucket - kPlanSecondsBuckets.begin()];
  plan_seconds_sum_ += seconds;
  ++plan_count_;
}

void Metrics::count_plan(PlanStatus status) { ++plans_by_status_[static_cast<std::size_t>(status)]; }

std::string Metrics::exposition(const Limits& limits) const {
  std::ostringstream out;

  family(out, "reds_http_requests_total", "counter", "HTTP requests answered, by endpoint and status code.");
  {
    const std::lock_guard lock(responses_mutex_);
    for (const auto& [key, count] : responses_) {
      out << "reds_http_requests_total{endpoint=\"" << key.first << "\",code=\"" << key.second << "\"} "
          << count << '\n';
    }
  }

  family(out, "reds_http_requests_in_flight", "gauge", "HTTP requests being handled now.");
  out << "reds_http_requests_in_flight " << requests_in_flight.load() << '\n';

  family(out, "reds_plan_solves_in_flight", "gauge",
         "Plan requests being parsed and solved now (at most reds_plan_solve_slots).");
  out << "reds_plan_solves_in_flight " << solves_in_flight.load() << '\n';

  family(out, "reds_plan_solve_slots", "gauge", "Plans solved at once at most (--max-inflight).");
  out << "reds_plan_solve_slots " << limits.solve_slots << '\n';

  family(out, "reds_plan_queued", "gauge", "Plan requests waiting for a solver slot now.");
  out << "reds_plan_queued " << (queued_requests ? queued_requests() : 0) << '\n';

  family(out, "reds_plan_queue_size", "gauge",
         "Plan requests waiting for a solver slot at most (--queue-size).");
  out << "reds_plan_queue_size " << limits.queue_size << '\n';

  family(out, "reds_http_connections_open", "gauge",
         "Client connections open now (at most --max-connections).");
  out << "reds_http_connections_open " << (open_connections ? open_connections() : 0) << '\n';

  family(out, "reds_http_connections_refused_total", "counter",
         "Connections closed on arrival because the server held --max-connections (or ran out of file "
         "descriptors).");
  out << "reds_http_connections_refused_total " << refused_connections_.load() << '\n';

  family(out, "reds_plan_duration_seconds", "histogram",
         "Time one POST /plan spent parsing, planning and writing its answer, errors included.");
  // Read the count first: observations racing with this read then make +Inf at least the buckets' sum.
  const std::uint64_t count = plan_count_.load();
  std::uint64_t cumulative = 0;
  for (std::size_t bucket = 0; bucket < kPlanSecondsBuckets.size(); ++bucket) {
    cumulative += plan_buckets_[bucket].load();
    out << "reds_plan_duration_seconds_bucket{le=\"" << number(kPlanSecondsBuckets[bucket]) << "\"} "
        << std::min(cumulative, count) << '\n';
  }
  out << "reds_plan_duration_seconds_bucket{le=\"+Inf\"} " << count << '\n';
  out << "reds_plan_duration_seconds_sum " << number(plan_seconds_sum_.load()) << '\n';
  out << "reds_plan_duration_seconds_count " << count << '\n';

  family(out, "reds_plans_total", "counter", "Plans answered with 200, by the plan's status.");
  for (const PlanStatus status : {PlanStatus::optimal, PlanStatus::feasible, PlanStatus::infeasible}) {
    out << "reds_plans_total{status=\"" << to_string(status) << "\"} "
        << plans_by_status_[static_cast<std::size_t>(status)].load() << '\n';
  }
  return out.str();
}

}  // namespace reds::server
