"""reds.plan and reds.validate: the plan contract's JSON through the same path as ``reds plan``."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any, Union

from . import _reds
from ._errors import InvalidArgumentError

Request = Union[Mapping[str, Any], str, bytes]


def _json_value(value: Any) -> Any:
    # NumPy arrays and scalars (importance scores often are) become lists and Python numbers.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"a plan request holds dicts, lists, strings and numbers, not {type(value).__name__}")


def _request_json(request: Request, time_limit_ms: int | None = None) -> str | bytes:
    if isinstance(request, (str, bytes)):
        if time_limit_ms is None:
            return request
        request = json.loads(request)
    if not isinstance(request, Mapping):
        raise TypeError(f"a plan request is a dict (or its JSON text), not {type(request).__name__}")
    if time_limit_ms is not None:
        request = {**request, "time_limit_ms": time_limit_ms}
    try:
        return json.dumps(request, default=_json_value, ensure_ascii=False, allow_nan=False)
    except ValueError:
        # JSON has no NaN or infinity; say where the value is, as the contract's errors do.
        found = _non_finite_number(request, "")
        if found is None:
            raise
        path, number = found
        raise InvalidArgumentError(f"expected a finite number, got {number!r}", path) from None


def _non_finite_number(value: Any, pointer: str) -> tuple[str, float] | None:
    """The JSON Pointer and value of the first NaN or infinity in a request, or None."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, float):
        return None if math.isfinite(value) else (pointer, value)
    children: Iterable[tuple[Any, Any]] = ()
    if isinstance(value, Mapping):
        children = value.items()
    elif isinstance(value, (list, tuple)):
        children = enumerate(value)
    for key, child in children:
        found = _non_finite_number(child, f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}")
        if found is not None:
            return found
    return None


def plan(request: Request, *, time_limit_ms: int | None = None) -> dict[str, Any]:
    """Plans the nested subnetworks of a plan request (docs/contract.md).

    ``request`` is the contract's JSON as dicts and lists (NumPy arrays allowed where lists go), or its
    text. ``time_limit_ms`` replaces the request's own ``time_limit_ms``: once it passes, every level holds
    the best plan found (status ``feasible``, with its bound and gap).

    Returns the response as ``json.loads`` reads what ``reds plan`` prints for the same request: ``status``,
    ``strategy``, ``full``, ``order``, ``levels`` (each with ``widths`` per layer, ``cost``,
    ``importance``, ``upper_bound``, ``gap``...), ``solve_seconds``.

    Raises ``reds.InvalidArgumentError`` for a request that breaks a rule (``.code``, ``.message`` and
    ``.path``, the JSON Pointer of the offending value), ``reds.DeadlineExceededError`` when the time limit
    passes before any plan is found, and ``TypeError`` for a value JSON cannot hold. The GIL is released
    while the request is read and planned.
    """
    return json.loads(_reds.plan_json(_request_json(request, time_limit_ms)))


def validate(request: Request) -> None:
    """Checks a plan request against every rule of the contract without planning it.

    Returns None for a valid request; raises what ``reds.plan`` raises for an invalid one.
    """
    _reds.validate_json(_request_json(request))
