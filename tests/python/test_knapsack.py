"""reds.knapsack.solve (python/reds/knapsack.py) against brute force over every choice of items."""

from __future__ import annotations

import itertools
import random

import numpy
import pytest

import reds
from reds import knapsack


def brute_force_zero_one(profits: list[float], weights: list[int], capacity: int) -> float:
    best: float = 0
    for chosen in itertools.product((False, True), repeat=len(profits)):
        if sum(w for w, c in zip(weights, chosen) if c) <= capacity:
            best = max(best, sum(p for p, c in zip(profits, chosen) if c))
    return best


def brute_force_multiple_choice(
    profits: list[list[float]], weights: list[list[int]], capacity: int
) -> float | None:
    best = None
    for choice in itertools.product(*(range(len(items)) for items in profits)):
        if sum(weights[i][j] for i, j in enumerate(choice)) <= capacity:
            profit = sum(profits[i][j] for i, j in enumerate(choice))
            best = profit if best is None else max(best, profit)
    return best


def check_zero_one(
    solution: knapsack.Solution, profits: list[float], weights: list[int], capacity: int
) -> None:
    assert solution.status == "optimal"
    assert list(solution.items) == sorted(set(solution.items))
    assert solution.weight == sum(weights[j] for j in solution.items) <= capacity
    assert solution.profit == pytest.approx(sum(profits[j] for j in solution.items), rel=1e-12)
    assert solution.profit == pytest.approx(brute_force_zero_one(profits, weights, capacity), rel=1e-12)
    assert solution.upper_bound == solution.profit


@pytest.mark.parametrize("seed", range(40))
def test_zero_one_is_optimal_with_integer_profits(seed: int) -> None:
    generator = random.Random(seed)
    count = generator.randint(0, 12)
    weights = [generator.randint(0, 30) for _ in range(count)]
    profits = [generator.randint(-5, 40) for _ in range(count)]
    capacity = generator.randint(0, 100)
    solution = knapsack.solve(profits, weights, capacity)
    assert isinstance(solution.profit, int)
    check_zero_one(solution, profits, weights, capacity)


@pytest.mark.parametrize("seed", range(40))
def test_zero_one_is_optimal_with_real_profits(seed: int) -> None:
    generator = random.Random(1000 + seed)
    count = generator.randint(1, 12)
    weights = [generator.randint(1, 30) for _ in range(count)]
    profits = [generator.uniform(-1, 10) for _ in range(count)]
    capacity = generator.randint(0, 100)
    solution = knapsack.solve(profits, weights, capacity)
    assert isinstance(solution.profit, float)
    check_zero_one(solution, profits, weights, capacity)


@pytest.mark.parametrize("seed", range(40))
def test_multiple_choice_is_optimal(seed: int) -> None:
    generator = random.Random(2000 + seed)
    classes = generator.randint(1, 4)
    sizes = [generator.randint(1, 4) for _ in range(classes)]
    weights = [[generator.randint(0, 20) for _ in range(size)] for size in sizes]
    real = seed % 2 == 1
    draw = (lambda: generator.uniform(-5, 20)) if real else (lambda: generator.randint(-5, 20))
    profits = [[draw() for _ in range(size)] for size in sizes]
    capacity = generator.randint(0, 50)
    solution = knapsack.solve(profits, weights, capacity)
    best = brute_force_multiple_choice(profits, weights, capacity)
    if best is None:
        assert solution.status == "infeasible"
        assert solution.items == ()
        return
    assert solution.status == "optimal"
    assert len(solution.items) == classes
    assert all(0 <= j < size for j, size in zip(solution.items, sizes))
    assert solution.weight == sum(weights[i][j] for i, j in enumerate(solution.items)) <= capacity
    chosen_profit = sum(profits[i][j] for i, j in enumerate(solution.items))
    assert solution.profit == pytest.approx(chosen_profit, rel=1e-12)
    assert solution.profit == pytest.approx(best, rel=1e-12)
    assert isinstance(solution.profit, float if real else int)


def test_the_documented_example() -> None:
    solution = knapsack.solve(profits=[10, 40, 30, 50], weights=[5, 4, 6, 3], capacity=10)
    assert solution == knapsack.Solution(status="optimal", profit=90, upper_bound=90, weight=7, items=(1, 3))


def test_real_profits_are_summed_exactly() -> None:
    # Added one by one in floating point, 1e16 + 1.0 + 1.0 stays 1e16 (each 1.0 is lost to rounding); the
    # exact sum, 1e16 + 2, is a double.
    solution = knapsack.solve([1e16, 1.0, 1.0], [1, 1, 1], 3)
    assert solution.items == (0, 1, 2)
    assert solution.profit == 1e16 + 2


@pytest.mark.parametrize("profit_type", [numpy.int64, numpy.int32, numpy.uint8, numpy.float64, numpy.float32])
@pytest.mark.parametrize("weight_type", [numpy.int64, numpy.int16, numpy.uint32])
def test_numpy_arrays_give_what_lists_give(profit_type: type, weight_type: type) -> None:
    generator = numpy.random.default_rng(7)
    profits = generator.integers(0, 100, size=300).astype(profit_type)
    weights = generator.integers(1, 60, size=300).astype(weight_type)
    from_arrays = knapsack.solve(profits, weights, numpy.int64(4000))
    from_lists = knapsack.solve(profits.tolist(), weights.tolist(), 4000)
    assert from_arrays == from_lists
    assert from_arrays.status == "optimal"
    assert isinstance(from_arrays.profit, float if profit_type in (numpy.float64, numpy.float32) else int)
    assert from_arrays.weight == int(weights[list(from_arrays.items)].sum()) <= 4000


def test_multiple_choice_from_a_two_dimensional_array_and_from_ragged_arrays() -> None:
    generator = numpy.random.default_rng(11)
    profits = generator.uniform(0, 10, size=(6, 5))
    weights = generator.integers(0, 20, size=(6, 5))
    from_array = knapsack.solve(profits, weights, 40)
    from_lists = knapsack.solve(profits.tolist(), weights.tolist(), 40)
    assert from_array == from_lists
    best = brute_force_multiple_choice(profits.tolist(), weights.tolist(), 40)
    assert from_array.profit == pytest.approx(best, rel=1e-12)

    ragged_profits = [numpy.array([3, 1]), numpy.array([4, 1, 5]), (9,)]
    ragged_weights = [numpy.array([2, 1]), [3, 1, 4], numpy.array([2])]
    solution = knapsack.solve(ragged_profits, ragged_weights, 7)
    best = brute_force_multiple_choice([[3, 1], [4, 1, 5], [9]], [[2, 1], [3, 1, 4], [2]], 7)
    assert solution.profit == best


def test_multiple_choice_without_a_fitting_choice_is_infeasible() -> None:
    solution = knapsack.solve([[5, 6], [1]], [[3, 4], [2]], 4)
    assert solution == knapsack.Solution(status="infeasible", profit=0, upper_bound=solution.upper_bound,
                                         weight=0, items=())


def test_invalid_problems_are_invalid_arguments() -> None:
    cases = [
        (([1, 2], [1, 2], -1), "capacity"),
        (([1, 2], [1, -2], 5), "weight"),
        (([1, 2, 3], [1, 2], 5), "profits has 3 entries but weights has 2"),
        (([1.0, float("nan")], [1, 2], 5), "profit"),
        (([1, 2], [1, 2], 2**70), "capacity"),
        (([2**70, 1], [1, 2], 3), "profits[0]"),
        (([[1, 2], []], [[1, 2], []], 5), "class"),
        (([[1, 2], [3]], [[1, 2]], 5), "profits has 2 classes but weights has 1"),
    ]
    for arguments, named in cases:
        with pytest.raises(reds.InvalidArgumentError) as raised:
            knapsack.solve(*arguments)
        assert raised.value.code == "invalid_argument"
        assert named in raised.value.message, raised.value.message
    with pytest.raises(reds.InvalidArgumentError):
        knapsack.solve([1], [1], 1, time_limit_ms=0)


def test_values_that_are_not_numbers_are_type_errors() -> None:
    with pytest.raises(TypeError, match=r"weights\[1\] must be an integer"):
        knapsack.solve([1, 2], [1, 2.5], 5)
    with pytest.raises(TypeError, match=r"profits\[1\] must be a number"):
        knapsack.solve([1, "a"], [1, 2], 5)
    with pytest.raises(TypeError):
        knapsack.solve("12", [1, 2], 5)
    with pytest.raises(TypeError):
        knapsack.solve([1, 2], [1, 2], 5.0)
    with pytest.raises(TypeError, match=r"weights\[0\] must be a sequence"):
        knapsack.solve([[1, 2]], [3], 5)


def test_time_limit_keeps_the_answer_of_a_quick_solve() -> None:
    generator = random.Random(5)
    profits = [generator.randint(1, 1000) for _ in range(2000)]
    weights = [generator.randint(1, 1000) for _ in range(2000)]
    unlimited = knapsack.solve(profits, weights, 50_000)
    assert knapsack.solve(profits, weights, 50_000, time_limit_ms=60_000) == unlimited
