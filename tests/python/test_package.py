"""The package around the functions: version, type stubs kept in step with the extension, docstrings, and
the installed form (`cmake --install`)."""

from __future__ import annotations

import ast
import inspect
import json
import os
import pathlib
import subprocess
import sys

import pytest

import reds
from conftest import SOURCE_DIR, run
from reds import _reds, knapsack

PACKAGE_DIR = pathlib.Path(reds.__file__).parent


def test_version_is_the_commands(reds_command: pathlib.Path) -> None:
    assert run([reds_command, "--version"]).stdout == f"reds {reds.__version__}\n"
    if "REDS_VERSION" in os.environ:
        assert reds.__version__ == os.environ["REDS_VERSION"]


def test_stubs_declare_every_function_of_the_extension() -> None:
    assert (PACKAGE_DIR / "py.typed").is_file()
    stub = ast.parse((PACKAGE_DIR / "_reds.pyi").read_text())
    declared = {node.name for node in stub.body if isinstance(node, ast.FunctionDef)}
    compiled = {name for name, value in vars(_reds).items() if callable(value) and not name.startswith("__")}
    assert declared == compiled


def test_stubs_match_the_extensions_parameters() -> None:
    stub = ast.parse((PACKAGE_DIR / "_reds.pyi").read_text())
    for node in stub.body:
        if isinstance(node, ast.FunctionDef):
            # pybind11 writes the signature as the first line of the docstring: name(a: type, b: type) -> ...
            signature = getattr(_reds, node.name).__doc__.splitlines()[0]
            parameters = signature[signature.index("(") + 1 : signature.index(")")].split(",")
            names = [parameter.split(":")[0].strip() for parameter in parameters]
            assert names == [argument.arg for argument in node.args.args], node.name


def test_the_public_api_is_documented() -> None:
    public = [reds.plan, reds.validate, knapsack.solve, knapsack.Solution, reds.Error,
              reds.InvalidArgumentError, reds.ResourceExhaustedError, reds.DeadlineExceededError,
              reds.InternalError]
    for item in public:
        assert inspect.getdoc(item), item
    assert inspect.getdoc(reds) and inspect.getdoc(knapsack)
    assert sorted(reds.__all__) == sorted(name for name in reds.__all__ if hasattr(reds, name))


def test_errors_keep_their_fields_through_pickling() -> None:
    import pickle

    error = reds.InvalidArgumentError("units must be >= 1, got 0", "/network/layers/2/units")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is reds.InvalidArgumentError
    assert (copy.code, copy.message, copy.path) == (error.code, error.message, error.path)


def test_installed_package_plans(tmp_path: pathlib.Path) -> None:
    build_dir = os.environ.get("REDS_BUILD_DIR")
    if not build_dir:
        pytest.skip("REDS_BUILD_DIR is not set (ctest sets it)")
    prefix = tmp_path / "prefix"
    installed = subprocess.run([os.environ.get("REDS_CMAKE_COMMAND", "cmake"), "--install", build_dir,
                                "--prefix", str(prefix)], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    site = prefix / os.environ["REDS_PYTHON_INSTALL_DIR"]
    for name in ("__init__.py", "knapsack.py", "_reds.pyi", "py.typed"):
        assert (site / "reds" / name).is_file(), name

    script = (
        "import json, sys, reds\n"
        "answer = reds.plan(json.load(open(sys.argv[1])))\n"
        "print(json.dumps({'file': reds.__file__, 'version': reds.__version__,\n"
        "                  'widths': [level['widths'] for level in answer['levels']]}))\n"
    )
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    environment["PYTHONPATH"] = str(site)
    tiny = SOURCE_DIR / "examples" / "tiny_ds_block.json"
    result = subprocess.run([sys.executable, "-c", script, str(tiny)], capture_output=True, text=True,
                            cwd=tmp_path, env=environment)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert pathlib.Path(printed["file"]).is_relative_to(site)
    assert printed["version"] == reds.__version__
    assert printed["widths"] == [
        {"conv": 1, "dw": 1, "pw": 4, "head": 3},
        {"conv": 2, "dw": 2, "pw": 4, "head": 3},
    ]
