#!/usr/bin/env python3
"""What reds.plan costs on top of the C++ plan, for the bundled examples' requests.

Per request, the median over repetitions of three CPU times (time.process_time, so that other processes on
a shared machine do not count):
  python  reds.plan(dict): json.dumps, the extension, json.loads
  json    reds._reds.plan_json(text): the C++ path alone, as `reds plan` runs it (parse, plan, to_json)
  plan    the answer's solve_seconds: reds::plan alone (a wall time, measured inside the solve)
python - json is what the Python side adds, python / json the factor it puts on the C++ call; json - plan is
the contract's JSON reading and writing.

    PYTHONPATH=build/python python3 bench/python/plan_overhead.py [--repetitions N] [NAME...]

NAME is a `reds example` architecture (default: dnn_s ds_cnn_l); build/bin/reds makes the requests.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import subprocess
import time
from typing import Callable

import reds
from reds import _reds

ROOT = pathlib.Path(__file__).resolve().parents[2]


def median_cpu_seconds(call: Callable[[], object], repetitions: int) -> float:
    times = []
    for _ in range(repetitions):
        start = time.process_time()
        call()
        times.append(time.process_time() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("names", nargs="*", default=["dnn_s", "ds_cnn_l"])
    parser.add_argument("--repetitions", type=int, default=200)
    parser.add_argument("--reds", default=str(ROOT / "build" / "bin" / "reds"))
    arguments = parser.parse_args()

    print(f"{'request':<12} {'python ms':>10} {'json ms':>10} {'plan ms':>10} {'python - json':>14} "
          f"{'python / json':>14}")
    for name in arguments.names:
        text = subprocess.run([arguments.reds, "example", name], check=True, capture_output=True,
                              text=True).stdout
        request = json.loads(text)
        reds.plan(request)  # warm up: first-touch allocations, the module's imports
        python = median_cpu_seconds(lambda: reds.plan(request), arguments.repetitions)
        json_only = median_cpu_seconds(lambda: _reds.plan_json(text), arguments.repetitions)
        plan = statistics.median(reds.plan(request)["solve_seconds"] for _ in range(arguments.repetitions))
        print(f"{name:<12} {python * 1e3:>10.3f} {json_only * 1e3:>10.3f} {plan * 1e3:>10.3f} "
              f"{(python - json_only) * 1e3:>11.3f} ms {python / json_only:>13.2f}x")


if __name__ == "__main__":
    main()
