# The compiled part of the package (python/src); the public API is in reds/__init__.py.

__version__: str

def plan_json(request_json: str | bytes) -> bytes: ...
def validate_json(request_json: str | bytes) -> None: ...
def scheduled_activation_json(
    request_json: str | bytes,
    layers: list[tuple[str, list[int], int | None]],
    maps: list[tuple[int | None, int]],
    resource: str,
) -> bytes: ...
def knapsack_solve(
    profits: list[int] | list[float], weights: list[int], capacity: int, time_limit_ms: int
) -> tuple[str, int | float, int | float, int, list[int]]: ...
def knapsack_solve_multiple_choice(
    profits: list[list[int]] | list[list[float]], weights: list[list[int]], capacity: int, time_limit_ms: int
) -> tuple[str, int | float, int | float, int, list[int]]: ...
