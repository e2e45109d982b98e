"""REDS from Python: exact nested subnetwork planning and the knapsack library it is built on.

The planner speaks the plan contract (docs/contract.md) as Python dicts: ``reds.plan(request)`` returns the
very answer ``reds plan`` prints, parsed by ``json``, and a request that breaks a rule of the contract raises
a ``reds.Error`` carrying the contract's code, message and JSON Pointer::

    >>> import reds
    >>> answer = reds.plan(request)                  # request: the contract's JSON as dicts and lists
    >>> [level["widths"] for level in answer["levels"]]

``reds.knapsack.solve`` solves 0-1 and multiple-choice knapsack problems exactly, from lists or NumPy arrays.
Every solve releases the GIL: threads plan in parallel.
"""

from . import knapsack
from ._errors import DeadlineExceededError, Error, InternalError, InvalidArgumentError, ResourceExhaustedError
from ._plan import plan, validate
from ._reds import __version__

__all__ = [
    "DeadlineExceededError",
    "Error",
    "InternalError",
    "InvalidArgumentError",
    "ResourceExhaustedError",
    "__version__",
    "knapsack",
    "plan",
    "validate",
]
