"""Exact 0-1 and multiple-choice knapsack (the C++ library reds::knapsack, docs/knapsack.md).

    >>> from reds import knapsack
    >>> knapsack.solve(profits=[10, 40, 30, 50], weights=[5, 4, 6, 3], capacity=10)
    Solution(status='optimal', profit=90, upper_bound=90, weight=7, items=(1, 3))

Profits that are all integers are solved in integer arithmetic and give an ``int`` profit; any real profit
makes every profit real, and the optimum is still exact (the sum of the chosen profits, rounded once).
Weights and the capacity are integers.
"""

from __future__ import annotations

import numbers
import operator
from dataclasses import dataclass
from typing import Any, Sequence, Union

from . import _reds
from ._errors import InvalidArgumentError

__all__ = ["Solution", "solve"]

# A sequence of numbers: a list, a tuple, a NumPy array...
Numbers = Union[Sequence[float], Any]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class Solution:
    """A knapsack solution.

    ``status`` is ``"optimal"`` (proved: ``upper_bound == profit``), ``"feasible"`` (the time limit stopped
    the search: the best solution found, ``upper_bound`` still valid) or ``"infeasible"`` (multiple-choice
    only: even the lightest item of every class together exceed the capacity; ``items`` is empty).
    ``items``: 0-1, the chosen items' indices, ascending; multiple-choice, per class, the index of its chosen
    item. ``profit`` and ``weight`` are the chosen items' sums.
    """

    status: str
    profit: int | float
    upper_bound: int | float
    weight: int
    items: tuple[int, ...]


def _as_list(values: Any, name: str) -> list[Any]:
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of numbers, not {type(values).__name__}")
    if hasattr(values, "tolist"):  # NumPy arrays: one C-level conversion to Python numbers
        values = values.tolist()
    elif not isinstance(values, list):
        try:
            values = list(values)
        except TypeError:
            raise TypeError(f"{name} must be a sequence of numbers, not {type(values).__name__}") from None
    if not isinstance(values, list):
        raise TypeError(f"{name} must be a sequence of numbers, not a single number")
    return values


def _int64(value: Any, name: str) -> int:
    integer = operator.index(value)
    if not _INT64_MIN <= integer <= _INT64_MAX:
        raise InvalidArgumentError(f"{name} = {integer} is outside the 64-bit integer range")
    return integer


def solve(
    profits: Numbers | Sequence[Numbers],
    weights: Numbers | Sequence[Numbers],
    capacity: int,
    *,
    time_limit_ms: int | None = None,
) -> Solution:
    """Solves a knapsack problem exactly.

    0-1: ``profits[j]`` and ``weights[j]`` are item j's; choose items of total weight at most ``capacity``
    maximising their total profit. Multiple-choice: ``profits[i][j]`` and ``weights[i][j]`` are item j of
    class i (classes may differ in size; a 2-D array is classes of equal size); choose exactly one item of
    every class. Which problem is meant follows from ``profits``: numbers, or sequences of numbers.

    ``time_limit_ms``: once it passes, the best solution found so far (status ``"feasible"``).

    Raises ``reds.InvalidArgumentError`` for invalid input (a negative capacity or weight, a non-finite
    profit, sums past 64 bits, lists of different lengths; the message names the item) and ``TypeError``
    for a value that is not a number (or a weight that is not an integer). The GIL is released while it
    solves.
    """
    profit_list = _as_list(profits, "profits")
    weight_list = _as_list(weights, "weights")
    capacity = _int64(capacity, "capacity")
    limit = 0
    if time_limit_ms is not None:
        limit = _int64(time_limit_ms, "time_limit_ms")
        if limit <= 0:
            raise InvalidArgumentError(f"time_limit_ms must be a positive integer, got {limit}")

    if profit_list and not isinstance(profit_list[0], numbers.Number):
        profit_list = [_as_list(values, f"profits[{i}]") for i, values in enumerate(profit_list)]
        weight_list = [_as_list(values, f"weights[{i}]") for i, values in enumerate(weight_list)]
        result = _reds.knapsack_solve_multiple_choice(profit_list, weight_list, capacity, limit)
    else:
        result = _reds.knapsack_solve(profit_list, weight_list, capacity, limit)
    status, profit, upper_bound, weight, items = result
    return Solution(status, profit, upper_bound, weight, tuple(items))
