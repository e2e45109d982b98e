#!/usr/bin/env bash
# Instructions the planner executes per request (valgrind callgrind, counting inside reds::plan only: no
# process start, no JSON), for the bundled architectures with one MACs limit per level, with MACs and
# params limits together, and MobileNetV1-224 with a 200 kB peak-activation limit (largest output map, 4 levels, no minimum width). Instruction counts do
# not depend on what else the machine runs, unlike times, so they compare commits on a busy machine.
#
#   bench/solver/planner/plan_instructions.sh                 # every case, bottom_up
#   STRATEGY=joint CASES="dnn_s ds_cnn_l" bench/solver/planner/plan_instructions.sh
#
# Environment: BUILD_DIR (default build), STRATEGY (default bottom_up), CASES (default all below).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../../.."
reds=${BUILD_DIR:-build}/bin/reds
strategy=${STRATEGY:-bottom_up}
cases=${CASES:-"dnn_s dnn_l cnn_s cnn_l ds_cnn_s ds_cnn_l mobilenet_v1_96 dnn_s+params ds_cnn_l+params mobilenet_v1_224+activation"}
command -v valgrind >/dev/null || { echo "plan_instructions.sh: valgrind is missing" >&2; exit 1; }
[[ -x $reds ]] || { echo "plan_instructions.sh: $reds is missing; build first" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A request for case NAME[+params|+activation] on stdout.
request() {
  local name=${1%%+*} extra= options=()
  [[ $1 == *+* ]] && extra=${1#*+}
  # The scale case: 4 levels, and layers may shrink to one unit (the 200 kB limit needs it).
  [[ $extra == activation ]] && options=(--min-width-fraction 0.0001 --levels 0.2,0.4,0.6,0.8)
  "$reds" example "${options[@]}" "$name" | python3 -c '
import json, sys
request = json.load(sys.stdin)
extra, strategy = sys.argv[1], sys.argv[2]
request["strategy"] = strategy
for level in request["levels"]:
    fraction = level["macs"]["fraction"]
    if extra == "params":
        level["params"] = {"fraction": fraction}
    elif extra == "activation":
        level["output_activation"] = {"max": 200000}
json.dump(request, sys.stdout)
' "$extra" "$strategy"
}

printf '%-30s %-10s %15s\n' case strategy instructions
for case in $cases; do
  request "$case" >"$work/request.json"
  count=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null '--toggle-collect=reds::plan(*' \
            "$reds" plan "$work/request.json" 2>&1 >/dev/null | sed -n 's/.*I *refs: *//p' | tr -d ,)
  printf '%-30s %-10s %15s\n' "$case" "$strategy" "$count"
done
