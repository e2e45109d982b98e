#!/usr/bin/env python3
"""Asks reds-server for a nested plan from Python, with the standard library only.

    python3 examples/plan_over_http.py [URL] [REQUEST.json]

URL defaults to http://127.0.0.1:8080 and REQUEST.json to examples/tiny_ds_block.json. In a training
pipeline the request is built from the model instead of read from a file: per layer its units, cost terms
and one importance score per unit (a torch tensor's .tolist(), say); see the plan contract in the README.

Prints one line per level: status, cost against the limit, importance and its gap to the upper bound, and
the width of every layer. A request the server refuses exits 1 with the server's explanation, including
the JSON Pointer of the offending value.
"""
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


class PlanError(Exception):
    """The server refused the request (4xx) or failed (5xx); the message is the server's."""


def plan(url, request, timeout_s=60, attempts=5):
    """POSTs `request` (a dict in the plan contract) to URL/plan and returns the response as a dict.

    All solver slots busy (503) is retried after the server's Retry-After, up to `attempts` times.
    """
    body = json.dumps(request).encode()
    for attempt in range(attempts):
        post = urllib.request.Request(f"{url}/plan", data=body, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(post, timeout=timeout_s) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 503 and attempt + 1 < attempts:
                time.sleep(float(error.headers.get("Retry-After", "1")))
                continue
            problem = json.load(error).get("error", {})
            where = f" (at {problem['path']})" if problem.get("path") else ""
            raise PlanError(f"HTTP {error.code} {problem.get('code')}: {problem.get('message')}{where}") from None
    raise AssertionError("unreachable")


def describe(level, layer_names):
    """One line for a level of the response."""
    if level["status"] == "infeasible":
        return f"infeasible under {level['limits']}"
    costs = ", ".join(f"{name} {level['cost'][name]} of {limit}" for name, limit in level["limits"].items())
    widths = " ".join(f"{name}={level['widths'][name]}" for name in layer_names)
    return (f"{level['status']}, {costs}, importance {level['importance']:.6g} (gap {level['gap']:.2g}), "
            f"widths {widths}")


def main(argv):
    url = argv[1] if len(argv) > 1 else "http://127.0.0.1:8080"
    path = Path(argv[2]) if len(argv) > 2 else Path(__file__).with_name("tiny_ds_block.json")
    request = json.loads(path.read_text())
    try:
        response = plan(url, request)
    except PlanError as error:
        print(f"plan_over_http.py: {error}", file=sys.stderr)
        return 1
    layer_names = [layer["name"] for layer in request["network"]["layers"]]
    for number, level in enumerate(response["levels"], start=1):
        print(f"level {number}: {describe(level, layer_names)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
