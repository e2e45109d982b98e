#!/usr/bin/env bash
# Load benchmark of reds-server: wrk POSTs one plan request over and over (DNN S, then DS-CNN L, both from
# `reds example`) and reports plans per second, p50/p99 latency, non-2xx answers, the server's CPU time
# per plan and its resident memory (VmRSS) before, during and after each run.
#
#   bench/server/load.sh                          # 5 minutes per network
#   DURATION=30s bench/server/load.sh             # a quick run
#   CONNECTIONS=16 bench/server/load.sh           # more clients than solver slots: they queue
#
# The server runs with its default options (one solver slot per core, the queue for the rest) plus
# SERVER_ARGS. Environment: DURATION (wrk -d, default 5m), CONNECTIONS (wrk -c, default 4: with 2 a core
# waits while wrk reads one answer and sends the next request, with 4 each core has a request waiting;
# more only lengthen the queue, and so the latency), WRK_THREADS (wrk -t, default 1), NETWORKS
# (architecture names or request files, default "dnn_s ds_cnn_l"), BUILD_DIR (default build), SERVER_ARGS
# (more reds-server options, e.g. "--max-inflight 4").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

duration=${DURATION:-5m}
connections=${CONNECTIONS:-4}
wrk_threads=${WRK_THREADS:-1}
networks=${NETWORKS:-dnn_s ds_cnn_l}
bin=${BUILD_DIR:-build}/bin

for program in "$bin/reds" "$bin/reds-server"; do
  [[ -x $program ]] || { echo "load.sh: $program is missing; build first" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "load.sh: wrk is missing; run scripts/install-deps" >&2; exit 1; }

work=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# shellcheck disable=SC2086 # SERVER_ARGS is a list of options
"$bin/reds-server" --port 0 ${SERVER_ARGS:-} >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 100); do
  [[ -s $work/server.out ]] && break
  sleep 0.05
done
url=$(sed -n 's/^listening on //p' "$work/server.out")
[[ -n $url ]] || { echo "load.sh: the server did not start:" >&2; cat "$work/server.err" >&2; exit 1; }

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status"; }
# CPU time the server has used (user + system, in clock ticks): unlike requests per second, CPU per plan
# does not depend on what else the machine runs.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }
ticks_per_second=$(getconf CLK_TCK)

echo "reds-server ${SERVER_ARGS:-(default options)} at $url, $(nproc) cores; wrk -t$wrk_threads -c$connections -d$duration --latency"
summary=()
for network in $networks; do
  # A bundled architecture's name, or the path of a request file.
  request="$work/$(basename "$network" .json).json"
  if [[ -f $network ]]; then
    cp "$network" "$request"
  else
    "$bin/reds" example "$network" >"$request"
  fi
  # A warm-up first, so that "before" is the memory of a server whose worker threads have all planned
  # (connections move between workers every --keep-alive-requests requests).
  wrk -t1 -c"$connections" -d10s -s bench/server/post.lua "$url/plan" -- "$request" >/dev/null
  rss_before=$(rss_kib)
  ticks_before=$(cpu_ticks)
  # VmRSS every 10 s during the run: growth shows as a rising series, a plateau as a flat one.
  (while sleep 10; do rss_kib; done) >"$work/rss.log" 2>/dev/null &
  sampler=$!
  echo
  echo "== $network ($(wc -c <"$request") byte request)"
  wrk -t"$wrk_threads" -c"$connections" -d"$duration" --latency -s bench/server/post.lua "$url/plan" \
    -- "$request" | tee "$work/wrk.out"
  kill "$sampler"
  rss_after=$(rss_kib)
  ticks_after=$(cpu_ticks)
  echo "VmRSS every 10 s (KiB): $(tr '\n' ' ' <"$work/rss.log")"
  # Growth shows as a later mean above an earlier one; a single before/after pair can land on the
  # allocator returning or retaking pages (jemalloc gives freed pages back after 10 s).
  rss_trend=$(awk '{ rss[NR] = $1 } END {
      n = NR < 6 ? NR : 6
      if (n == 0) { print "no samples"; exit }
      for (i = 1; i <= n; ++i) { first += rss[i]; last += rss[NR - n + i] }
      printf "mean of the first %d samples %d, of the last %d %d KiB", n, first / n, n, last / n }' "$work/rss.log")
  requests=$(awk '/requests in/ {print $1}' "$work/wrk.out")
  rate=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.out")
  p50=$(awk '$1 == "50%" {print $2}' "$work/wrk.out")
  p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.out")
  errors=$(awk '/Non-2xx or 3xx responses:/ {print $5} /Socket errors:/ {print}' "$work/wrk.out")
  cpu_ms=$(awk -v t=$((ticks_after - ticks_before)) -v hz="$ticks_per_second" -v n="$requests" \
    'BEGIN {printf "%.3f", 1000 * t / hz / n}')
  summary+=("$network  $requests plans  $rate plans/s  p50 $p50  p99 $p99  non-2xx ${errors:-0}  server CPU ${cpu_ms} ms/plan  VmRSS ${rss_before} -> ${rss_after} KiB (${rss_trend})")
done

echo
echo "== server metrics"
curl -s "$url/metrics" | grep -E '^reds_(http_requests_total|plan_duration_seconds_(sum|count)|plans_total)'
kill -TERM "$server_pid"
wait "$server_pid"
echo "server exit status $? after SIGTERM"
server_pid=

echo
echo "== summary ($duration per network, $connections connections)"
printf '%s\n' "${summary[@]}"
