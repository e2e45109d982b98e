"""Solves release the GIL, and plans and knapsack solves from several threads at once give what they give
one at a time."""

from __future__ import annotations

import json
import pathlib
import random
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy
import pytest

import reds
from conftest import example_request
from reds import knapsack


def without_time(answer: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in answer.items() if key != "solve_seconds"}


def test_concurrent_plans_and_solves_equal_sequential_ones(reds_command: pathlib.Path) -> None:
    requests = [
        example_request(reds_command, name, *options)
        for name, *options in [("dnn_s",), ("ds_cnn_s", "--strategy", "joint"), ("cnn_l",), ("ds_cnn_l",)]
    ]
    generator = random.Random(3)
    problems = []
    for _ in range(8):
        count = 3000
        problems.append(([generator.randint(1, 10_000) for _ in range(count)],
                         [generator.randint(1, 10_000) for _ in range(count)], count * 2000))

    tasks: list[Callable[[], Any]] = []
    for request in requests:
        tasks.append(lambda request=request: without_time(reds.plan(request)))
    for profits, weights, capacity in problems:
        tasks.append(lambda p=profits, w=weights, c=capacity: knapsack.solve(p, w, c))
    invalid = json.loads(json.dumps(requests[0]))
    invalid["levels"][0]["macs"]["fraction"] = 2.5
    tasks.append(lambda: pytest.raises(reds.InvalidArgumentError, reds.validate, invalid).value.path)

    sequential = [task() for task in tasks]
    with ThreadPoolExecutor(max_workers=6) as pool:
        for _ in range(3):
            concurrent = list(pool.map(lambda task: task(), tasks * 2))
            assert concurrent == sequential * 2


def runs_without_the_gil(solve: Callable[[], object]) -> bool:
    """Whether the main thread runs Python code while another thread is inside `solve`.

    With a switch interval longer than the test, a thread that holds the GIL keeps it until it blocks or
    ends: the main thread, waiting in Thread.start(), gets the GIL back while `solve` runs only if `solve`
    releases it.
    """
    solved = threading.Event()

    def worker() -> None:
        solve()
        solved.set()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        thread = threading.Thread(target=worker)
        thread.start()
        during_solve = not solved.is_set()
        thread.join()
    finally:
        sys.setswitchinterval(interval)
    return during_solve


def test_plan_releases_the_gil(reds_command: pathlib.Path) -> None:
    # About a second of planning: much longer than the main thread needs to wake.
    request = example_request(reds_command, "ds_cnn_l", "--strategy", "joint", "--levels", "0.2,0.4,0.6,0.8")
    text = json.dumps(request)
    assert runs_without_the_gil(lambda: reds.plan(text))


def test_knapsack_releases_the_gil() -> None:
    # Sorting 400,000 items by efficiency alone takes tens of milliseconds.
    generator = numpy.random.default_rng(9)
    profits = generator.integers(1, 1_000_000, size=400_000)
    weights = generator.integers(1, 1_000_000, size=400_000)
    assert runs_without_the_gil(lambda: knapsack.solve(profits, weights, int(weights.sum()) // 3))
