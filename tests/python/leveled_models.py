"""A small model with levels for the fine-tuning tests: ``set_level(i)`` makes ``forward`` compute level
``i`` on prefix slices of the same parameters and batch-norm statistics, as an applied plan does."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as functional
from torch import nn


class SlicedCnn(nn.Module):
    """conv 3x3 -> batch norm -> ReLU -> conv 3x3 -> ReLU -> global average -> linear, on 1-channel images
    with ``units`` channels in the two convolutions; level ``i`` keeps the first ``widths[i]`` of them."""

    def __init__(self, widths: Sequence[tuple[int, int]] = ((2, 3), (4, 5), (6, 8)),
                 units: tuple[int, int] = (6, 8), classes: int = 3):
        super().__init__()
        self.widths = [tuple(pair) for pair in widths]
        first, second = units
        self.conv1 = nn.Conv2d(1, first, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(first)
        self.conv2 = nn.Conv2d(first, second, 3, padding=1)
        self.classifier = nn.Linear(second, classes)
        self.level = len(self.widths) - 1

    @property
    def num_levels(self) -> int:
        return len(self.widths)

    def set_level(self, level: int) -> None:
        if not 0 <= level < self.num_levels:
            raise IndexError(f"level {level} of {self.num_levels}")
        self.level = level

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        first, second = self.widths[self.level]
        x = functional.conv2d(x, self.conv1.weight[:first], self.conv1.bias[:first], padding=1)
        x = functional.batch_norm(
            x, self.bn1.running_mean[:first], self.bn1.running_var[:first], self.bn1.weight[:first],
            self.bn1.bias[:first], self.bn1.training, self.bn1.momentum, self.bn1.eps,
        )  # fmt: skip
        x = functional.conv2d(torch.relu(x), self.conv2.weight[:second, :first], self.conv2.bias[:second],
                              padding=1)
        x = torch.relu(x).mean(dim=(2, 3))
        return functional.linear(x, self.classifier.weight[:, :second], self.classifier.bias)

    def level_parameter_counts(self) -> list[int]:
        classes = self.classifier.out_features
        return [
            (9 + 1) * first + 2 * first + (9 * first + 1) * second + (second + 1) * classes
            for first, second in self.widths
        ]


def global_batches(
    steps: int, batch: int, seed: int = 0, size: int = 6
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``steps`` minibatches of random ``size`` x ``size`` images, classed by their mean: below -0.075, up
    to 0.075, above (about a third each at size 6)."""
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(steps):
        images = torch.randn(batch, 1, size, size, generator=generator)
        means = images.mean(dim=(1, 2, 3))
        batches.append((images, (means > -0.075).long() + (means > 0.075).long()))
    return batches


def seeded_model(seed: int = 0, widths: Sequence[tuple[int, int]] = ((2, 3), (4, 5), (6, 8))) -> SlicedCnn:
    torch.manual_seed(seed)
    model = SlicedCnn(widths)
    # Batch norm with statistics other than the defaults, so that frozen statistics are visible.
    model.bn1.running_mean.uniform_(-0.5, 0.5)
    model.bn1.running_var.uniform_(0.5, 2.0)
    return model
