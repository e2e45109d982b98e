"""reds.torch.plan_request (python/reds/torch.py) against `reds request` on the same model exported to ONNX:
the same layers, units, streams, shortcut inputs and costs (macs, params, peak activation with its held
skip tensors, output activation), unit for unit."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
pytest.importorskip("onnx")  # torch.onnx.export needs it

import reds  # noqa: E402
import reds.torch  # noqa: E402
from conftest import run  # noqa: E402
from torch import nn  # noqa: E402
from torch_models import MODELS, ResNet8, randomised  # noqa: E402


def onnx_request(reds_command: pathlib.Path, module: Any, example: Any, directory: pathlib.Path) -> Any:
    path = directory / "model.onnx"
    torch.onnx.export(module, example, str(path))
    # Unit by unit, as reds.torch.plan_request plans by default (reds request aligns to 8 unless told).
    result = run([reds_command, "request", path, "--block", "1"])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def comparable(layer: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A layer without its importance, its names (and those its `held` terms name) through `names`."""
    fields = {key: value for key, value in layer.items() if key != "importance"}
    for key in ("name", "stream", "input"):
        if key in fields:
            fields[key] = names.get(fields[key], fields[key])
    cost = {resource: dict(terms) for resource, terms in fields["cost"].items()}
    for terms in cost.values():
        if "held" in terms:
            terms["held"] = {names.get(name, name): bytes_ for name, bytes_ in terms["held"].items()}
    fields["cost"] = cost
    return fields


@pytest.mark.parametrize("model", list(MODELS))
def test_request_has_the_layers_and_costs_reds_request_reads_from_the_onnx_export(
    reds_command: pathlib.Path, tmp_path: pathlib.Path, model: str
) -> None:
    build, shape = MODELS[model]
    module = randomised(build())
    example = torch.randn(*shape)

    request = reds.torch.plan_request(module, example)
    expected = onnx_request(reds_command, module, example, tmp_path)

    layers = request["network"]["layers"]
    expected_layers = expected["network"]["layers"]
    assert len(layers) == len(expected_layers)
    # The exporter names a node after its module's path: "layer1.0.conv1" -> "/layer1/layer1.0/conv1/Conv".
    names = {ours["name"]: theirs["name"] for ours, theirs in zip(layers, expected_layers)}
    for ours, theirs in names.items():
        assert ours.split(".")[-1] in theirs, (ours, theirs)
    assert request["network"]["resources"] == expected["network"]["resources"]
    for ours, theirs in zip(layers, expected_layers):
        # Every resource: macs, params, activation (held terms, tables) and output_activation.
        assert comparable(ours, names) == comparable(theirs, {}), ours["name"]
        # The engine's L1 importance of the exported (batch norm folded) float weights.
        assert ours["importance"] == pytest.approx(theirs["importance"], rel=1e-5)
    assert request["levels"] == expected["levels"]


@pytest.mark.parametrize("model", ["resnet8", "resnet18"])
def test_residual_request_validates_and_plans_with_streams(model: str) -> None:
    build, shape = MODELS[model]
    request = reds.torch.plan_request(randomised(build()), torch.randn(*shape), levels=(0.3, 0.6))
    reds.validate(request)
    layers = {layer["name"]: layer for layer in request["network"]["layers"]}
    assert any(layer.get("input") for layer in layers.values())  # the shortcut projections
    answer = reds.plan(request)
    assert len(answer["levels"]) == 2
    for level in answer["levels"]:
        # One width per stream, the classifier whole.
        for name, width in level["widths"].items():
            stream = layers[name].get("stream")
            if stream:
                assert width == level["widths"][stream]
        assert level["widths"][list(layers)[-1]] == 10


def test_depthwise_convolution_is_tied_to_the_layer_before_it() -> None:
    module = nn.Sequential(nn.Conv2d(3, 8, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, groups=8), nn.Conv2d(8, 6, 1),
                           nn.Flatten(), nn.Linear(6 * 4 * 4, 4))
    request = reds.torch.plan_request(module, torch.randn(1, 3, 6, 6))
    depthwise = request["network"]["layers"][1]
    assert depthwise["tied"] is True and "min_units" not in depthwise
    assert {resource: depthwise["cost"][resource] for resource in ("macs", "params")} == {
        "macs": {"unit": 9 * 16}, "params": {"unit": 10}}
    reds.validate(request)


def test_unmappable_operation_is_an_error_naming_the_node() -> None:
    class Concatenating(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.fc = nn.Linear(8 * 4 * 4, 2)

        def forward(self, x: Any) -> Any:
            y = self.conv(x)
            return self.fc(torch.flatten(torch.cat([y, y], 1), 1))

    with pytest.raises(reds.InvalidArgumentError, match="node 'cat' .*cannot describe"):
        reds.torch.plan_request(Concatenating(), torch.randn(1, 3, 6, 6))


def test_grouped_convolution_is_an_error_naming_the_node() -> None:
    module = nn.Sequential(nn.Conv2d(3, 8, 1), nn.Conv2d(8, 8, 3, groups=2), nn.Flatten(), nn.Linear(8, 2))
    with pytest.raises(reds.InvalidArgumentError, match="node '_1' .*grouped convolution"):
        reds.torch.plan_request(module, torch.randn(1, 3, 3, 3))


def test_tracing_leaves_the_module_in_its_mode_and_its_statistics_alone() -> None:
    module = ResNet8().train()
    before = module.stem[1].running_mean.clone()
    reds.torch.plan_request(module, torch.randn(2, 1, 28, 28))
    assert module.training and module.stem[1].training
    assert torch.equal(module.stem[1].running_mean, before)
