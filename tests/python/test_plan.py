"""reds.plan and reds.validate (python/reds/_plan.py) against the `reds plan` command, which answers the
same request through the same library calls."""

from __future__ import annotations

import copy
import json
import math
import pathlib
import re
from typing import Any, Callable

import numpy
import pytest

import reds
from conftest import SOURCE_DIR, cli_plan, example_request

# Architectures and options that between them cover every strategy, the objectives, blocks, several
# resources, tied layers and answers with bounds and gaps.
EXAMPLES = [
    ("dnn_s",),
    ("cnn_s", "--levels", "0.2,0.5,0.9"),
    ("ds_cnn_l",),
    ("ds_cnn_s", "--strategy", "joint"),
    ("dnn_m", "--strategy", "top_down", "--objective", "product"),
    ("mobilenet_v1_96", "--strategy", "independent", "--block", "8"),
    ("cnn_l", "--objective", "normalized", "--min-width-fraction", "0.1"),
]


def without_time(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer without solve_seconds, the one field that differs between two solves."""
    assert isinstance(answer.pop("solve_seconds"), float)
    return answer


@pytest.mark.parametrize("example", EXAMPLES, ids=[" ".join(example) for example in EXAMPLES])
def test_plan_answers_what_the_command_prints(reds_command: pathlib.Path, example: tuple[str, ...]) -> None:
    request = example_request(reds_command, example[0], *example[1:])
    printed = cli_plan(reds_command, json.dumps(request))
    assert printed.returncode == 0, printed.stderr

    answer = reds.plan(request)

    assert without_time(answer) == without_time(json.loads(printed.stdout))
    # The same keys in the same order as the command prints them.
    assert list(answer) == [key for key in json.loads(printed.stdout) if key != "solve_seconds"]


def residual_request(strategy: str) -> dict[str, Any]:
    """A ResNet-shaped request of contract 1.1: a stem and two residual blocks adding into one stream, the
    skip tensor held live across each block."""

    def conv(name: str, units: int, seed: int, **fields: Any) -> dict[str, Any]:
        importance = [round(((seed * 7919 + unit * 104729) % 1000) / 100, 2) for unit in range(units)]
        return {"name": name, "units": units, "importance": importance,
                "cost": {"macs": {"unit_input": 9}, "params": {"unit_input": 9, "unit": 1}}, **fields}

    held = {"output_activation": {"unit": 64, "held": {"stem": 64}}}
    layers = [
        conv("stem", 16, 1, stream="main"),
        conv("block1_a", 12, 2, input="stem", cost={"macs": {"unit_input": 9}, **held}),
        conv("block1_b", 16, 3, stream="main"),
        conv("block2_a", 12, 4, input="block1_b"),
        conv("block2_b", 16, 5, stream="main"),
        {"name": "head", "units": 10, "importance": [1] * 10, "prunable": False, "input": "block2_b",
         "cost": {"macs": {"unit_input": 1}}},
    ]
    levels = [{"macs": {"fraction": fraction}} for fraction in (0.3, 0.6)]
    return {"network": {"inputs": 3, "layers": layers}, "levels": levels, "strategy": strategy}


@pytest.mark.parametrize("strategy", ["bottom_up", "joint"])
def test_plan_of_a_residual_request_answers_what_the_command_prints(
    reds_command: pathlib.Path, strategy: str
) -> None:
    request = residual_request(strategy)
    printed = cli_plan(reds_command, json.dumps(request))
    assert printed.returncode == 0, printed.stderr
    answer = reds.plan(request)
    assert answer["levels"][0]["widths"]["stem"] == answer["levels"][0]["widths"]["block2_b"]
    assert without_time(answer) == without_time(json.loads(printed.stdout))


def test_plan_takes_the_request_as_text_too(reds_command: pathlib.Path) -> None:
    text = (SOURCE_DIR / "examples" / "tiny_ds_block.json").read_text()
    printed = cli_plan(reds_command, text)
    assert printed.returncode == 0, printed.stderr
    expected = without_time(json.loads(printed.stdout))
    assert without_time(reds.plan(text)) == expected
    assert without_time(reds.plan(text.encode())) == expected
    assert without_time(reds.plan(json.loads(text))) == expected


def test_plan_of_the_tiny_example() -> None:
    # The README's answer for examples/tiny_ds_block.json, worked by hand in docs/contract.md.
    answer = reds.plan(json.loads((SOURCE_DIR / "examples" / "tiny_ds_block.json").read_text()))
    assert answer["status"] == "optimal"
    assert answer["order"] == {
        "conv": [0, 3, 2, 1], "dw": [0, 3, 2, 1], "pw": [0, 1, 3, 2], "head": [0, 1, 2]
    }
    assert [level["widths"] for level in answer["levels"]] == [
        {"conv": 1, "dw": 1, "pw": 4, "head": 3},
        {"conv": 2, "dw": 2, "pw": 4, "head": 3},
    ]
    assert [level["cost"]["macs"] for level in answer["levels"]] == [219, 426]


def test_plan_takes_numpy_arrays_and_scalars(reds_command: pathlib.Path) -> None:
    request = example_request(reds_command, "dnn_s")
    with_numpy = copy.deepcopy(request)
    for layer in with_numpy["network"]["layers"]:
        layer["importance"] = numpy.asarray(layer["importance"], dtype=numpy.float64)
        layer["units"] = numpy.int64(layer["units"])
    assert without_time(reds.plan(with_numpy)) == without_time(reds.plan(request))


def test_time_limit_keyword_replaces_the_requests_field(reds_command: pathlib.Path) -> None:
    request = example_request(reds_command, "dnn_s")
    request["time_limit_ms"] = 60_000
    # The keyword wins over the request's own field: an invalid keyword is reported at /time_limit_ms.
    with pytest.raises(reds.InvalidArgumentError) as raised:
        reds.plan(request, time_limit_ms=-5)
    assert raised.value.path == "/time_limit_ms"
    assert "-5" in raised.value.message
    assert request["time_limit_ms"] == 60_000  # the caller's dict is left alone
    assert without_time(reds.plan(request, time_limit_ms=60_000)) == without_time(reds.plan(request))


def test_time_limit_stops_a_long_plan(reds_command: pathlib.Path) -> None:
    # Unlimited, this plan takes about a second; stopped after 1 ms it has the best plans found so far, with
    # valid bounds, or none at all.
    request = example_request(reds_command, "ds_cnn_l", "--strategy", "joint", "--levels", "0.2,0.4,0.6,0.8")
    try:
        answer = reds.plan(request, time_limit_ms=1)
    except reds.DeadlineExceededError as error:
        assert error.code == "deadline_exceeded"
        return
    assert answer["status"] == "feasible"
    for level in answer["levels"]:
        assert level["upper_bound"] >= level["importance"]


def cli_error(reds_command: pathlib.Path, request: dict[str, Any]) -> tuple[str, str | None, str]:
    """(code, path, message) of the command's one-line error for a request."""
    printed = cli_plan(reds_command, json.dumps(request))
    assert printed.returncode == 2 and printed.stdout == ""
    match = re.fullmatch(r"reds plan: (\w+)(?: at (\S+))?: (.*)\n", printed.stderr)
    assert match, printed.stderr
    return match.group(1), match.group(2), match.group(3)


def set_units(request: dict[str, Any]) -> None:
    request["network"]["layers"][2]["units"] = 0


def set_strategy(request: dict[str, Any]) -> None:
    request["strategy"] = "sideways"


def drop_levels(request: dict[str, Any]) -> None:
    del request["levels"]


def add_unknown_field(request: dict[str, Any]) -> None:
    request["network"]["layers"][0]["colour"] = "red"


def negative_importance(request: dict[str, Any]) -> None:
    request["network"]["layers"][1]["importance"][3] = -1.0


def fraction_as_text(request: dict[str, Any]) -> None:
    request["levels"][1]["macs"]["fraction"] = "half"


def levels_out_of_order(request: dict[str, Any]) -> None:
    request["levels"].reverse()


INVALID = [set_units, set_strategy, drop_levels, add_unknown_field, negative_importance, fraction_as_text,
           levels_out_of_order]


@pytest.mark.parametrize("mutate", INVALID, ids=[mutate.__name__ for mutate in INVALID])
def test_errors_carry_the_commands_code_path_and_message(
    reds_command: pathlib.Path, mutate: Callable[[dict[str, Any]], None]
) -> None:
    request = example_request(reds_command, "dnn_s")
    mutate(request)
    code, path, message = cli_error(reds_command, request)

    for call in (reds.validate, reds.plan):
        with pytest.raises(reds.Error) as raised:
            call(request)
        error = raised.value
        assert (error.code, error.path, error.message) == (code, path, message)
        assert isinstance(error, reds.InvalidArgumentError) and isinstance(error, ValueError)


def test_error_paths_point_at_the_offending_value(reds_command: pathlib.Path) -> None:
    request = example_request(reds_command, "dnn_s")
    set_units(request)
    with pytest.raises(reds.InvalidArgumentError) as raised:
        reds.validate(request)
    assert raised.value.path == "/network/layers/2/units"
    assert str(raised.value) == f"invalid_argument at /network/layers/2/units: {raised.value.message}"
    assert raised.value.to_dict() == {
        "error": {
            "code": "invalid_argument",
            "message": raised.value.message,
            "path": "/network/layers/2/units",
        }
    }


def test_validate_accepts_a_valid_request(reds_command: pathlib.Path) -> None:
    assert reds.validate(example_request(reds_command, "ds_cnn_s")) is None
    assert reds.validate((SOURCE_DIR / "examples" / "tiny_ds_block.json").read_text()) is None


def test_malformed_json_text_is_an_invalid_argument() -> None:
    with pytest.raises(reds.InvalidArgumentError) as raised:
        reds.validate('{"network": ')
    assert raised.value.code == "invalid_argument"
    assert "malformed JSON" in raised.value.message


def test_not_a_number_is_reported_where_it_is(reds_command: pathlib.Path) -> None:
    request = example_request(reds_command, "dnn_s")
    request["network"]["layers"][1]["importance"][7] = math.nan
    with pytest.raises(reds.InvalidArgumentError) as raised:
        reds.plan(request)
    assert raised.value.path == "/network/layers/1/importance/7"
    assert "nan" in raised.value.message

    request["network"]["layers"][1]["importance"] = numpy.full(144, numpy.inf)
    with pytest.raises(reds.InvalidArgumentError) as raised:
        reds.validate(request)
    assert raised.value.path == "/network/layers/1/importance/0"


def test_values_json_cannot_hold_are_type_errors(reds_command: pathlib.Path) -> None:
    with pytest.raises(TypeError):
        reds.plan([1, 2, 3])  # type: ignore[arg-type]
    request = example_request(reds_command, "dnn_s")
    request["network"]["layers"][0]["importance"] = {0.5, 0.25}
    with pytest.raises(TypeError):
        reds.validate(request)
