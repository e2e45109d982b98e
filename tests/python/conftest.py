"""Shared helpers of the Python module's tests: the `reds` command, whose answers they are compared with.

ctest runs them with PYTHONPATH at build/python and REDS_BIN_DIR at build/bin (tests/CMakeLists.txt).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
from typing import Any

import pytest

SOURCE_DIR = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def reds_command() -> pathlib.Path:
    """The `reds` command of the same build; the tests that need it are skipped without REDS_BUILD_CLI."""
    binary = pathlib.Path(os.environ.get("REDS_BIN_DIR", SOURCE_DIR / "build" / "bin")) / "reds"
    if not binary.is_file():
        pytest.skip(f"{binary} is not built (REDS_BUILD_CLI)")
    return binary


def run(command: list[Any], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(part) for part in command], input=stdin, capture_output=True, text=True)


def example_request(reds_command: pathlib.Path, name: str, *options: str) -> dict[str, Any]:
    """`reds example NAME OPTIONS...` as a dict."""
    result = run([reds_command, "example", *options, name])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def cli_plan(reds_command: pathlib.Path, request_text: str) -> subprocess.CompletedProcess[str]:
    """`reds plan -` on a request's JSON text."""
    return run([reds_command, "plan", "-"], stdin=request_text)
