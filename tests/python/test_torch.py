"""reds.torch.plan_request (python/reds/torch.py) against `reds request` on the same model exported to ONNX:
the same layers, units, streams, shortcut inputs, macs and params, unit for unit."""

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


class SmallCnn(nn.Module):
    """A plain chain: convolutions with and without bias and batch norm, ReLU6, pooling, two dense layers."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 12, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(12, 20, 3, stride=2, bias=False), nn.BatchNorm2d(20), nn.ReLU6(),
        )  # fmt: skip
        self.hidden = nn.Linear(20 * 3 * 3, 24)
        self.classifier = nn.Linear(24, 10)

    def forward(self, x: Any) -> Any:
        x = torch.flatten(self.features(x), 1)
        return self.classifier(torch.relu(self.hidden(x)))


class ResidualBlock(nn.Module):
    def __init__(self, inputs: int, outputs: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.projection = None
        if stride != 1 or inputs != outputs:
            self.projection = nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False),
                                            nn.BatchNorm2d(outputs))

    def forward(self, x: Any) -> Any:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        y += x if self.projection is None else self.projection(x)
        return torch.relu(y)


class ResNet8(nn.Module):
    """ResNet-8: a stem and three residual stages, identity shortcuts and projections."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.stages = nn.Sequential(
            ResidualBlock(16, 16, 1), ResidualBlock(16, 32, 2), ResidualBlock(32, 64, 2)
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, 10)

    def forward(self, x: Any) -> Any:
        return self.fc(torch.flatten(self.pool(self.stages(self.stem(x))), 1))


def randomised(module: Any) -> Any:
    """The module with random weights and batch-norm statistics (a fixed seed), in evaluation mode."""
    torch.manual_seed(7)
    for submodule in module.modules():
        if isinstance(submodule, nn.BatchNorm2d):
            nn.init.uniform_(submodule.weight, 0.5, 1.5)
            nn.init.uniform_(submodule.bias, -0.1, 0.1)
            submodule.running_mean.uniform_(-0.1, 0.1)
            submodule.running_var.uniform_(0.5, 1.5)
    return module.eval()


MODELS = {
    "small_cnn": (lambda: SmallCnn(), (1, 1, 16, 16)),
    "resnet8": (lambda: ResNet8(), (1, 1, 28, 28)),
    "resnet18": (lambda: torchvision.models.resnet18(num_classes=10), (1, 3, 64, 64)),
}


def onnx_request(reds_command: pathlib.Path, module: Any, example: Any, directory: pathlib.Path) -> Any:
    path = directory / "model.onnx"
    torch.onnx.export(module, example, str(path))
    result = run([reds_command, "request", path])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def comparable(layer: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """A layer without its importance, its names through `names`, its macs and params only."""
    fields = {key: value for key, value in layer.items() if key != "importance"}
    for key in ("name", "stream", "input"):
        if key in fields:
            fields[key] = names.get(fields[key], fields[key])
    fields["cost"] = {resource: fields["cost"][resource] for resource in ("macs", "params")}
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
    for ours, theirs in zip(layers, expected_layers):
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
    assert depthwise["cost"] == {"macs": {"unit": 9 * 16}, "params": {"unit": 10}}
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
