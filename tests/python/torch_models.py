"""Torch models the reds.torch tests share: small CNN, ResNet-8 and torchvision's, with random weights."""

from __future__ import annotations

from typing import Any

import torch
import torchvision
from torch import nn


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


class Operators(nn.Module):
    """Every kind of layer the engine reads from torch's export, and paddings priced three ways: a padded
    convolution that is Keras' 'same' (stride 2 on an odd size), an average pool that counts its padding
    (torch writes a Pad before it) and a padded max pool after a ReLU (a zero padding layer)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 12, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(12)
        self.pool1 = nn.AvgPool2d(3, 1, 1)
        self.depthwise = nn.Conv2d(12, 12, 3, padding=1, groups=12)
        self.pointwise = nn.Conv2d(12, 16, 1)
        self.pool2 = nn.MaxPool2d(3, 2, 1)
        self.dropout = nn.Dropout(0.2)
        self.hidden = nn.Linear(16 * 4 * 4, 20)
        self.classifier = nn.Linear(20, 5)

    def forward(self, x: Any) -> Any:
        x = nn.functional.leaky_relu(self.conv1(x), 0.1)
        x = self.pool1(torch.relu(self.bn2(self.conv2(x))))
        x = nn.functional.relu6(self.depthwise(x))
        x = self.pool2(torch.relu(self.pointwise(x)))
        x = self.dropout(torch.flatten(x, 1))
        return self.classifier(torch.relu(self.hidden(x)))


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


# Name: (a new module, the shape of one example input).
MODELS = {
    "small_cnn": (lambda: SmallCnn(), (1, 1, 16, 16)),
    "operators": (lambda: Operators(), (1, 3, 15, 15)),
    "resnet8": (lambda: ResNet8(), (1, 1, 28, 28)),
    "resnet18": (lambda: torchvision.models.resnet18(num_classes=10), (1, 3, 64, 64)),
    "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(num_classes=10), (1, 3, 32, 32)),
}
