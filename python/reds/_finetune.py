"""Joint fine-tuning of every level of a nested network (reds-paper section 7.2), in PyTorch.

A model with levels is a module with ``num_levels`` and ``set_level(i)``, after which ``forward`` computes
level ``i`` (0 the smallest, ``num_levels - 1`` the largest) on slices of the same parameters, as the
``NestedModule`` of ``reds.torch.apply_plan`` does. One joint step runs every level on the same minibatch,
weights level ``s``'s loss by ``pi_s``, sums the losses and takes one optimizer step with the gradient of
the sum, as ``reds finetune`` does. With the reference's weights ``pi_s = sqrt(p_s) / sum_j sqrt(p_j)``
(``p_s``: the level's share of the parameters) a level's pull on the shared weights follows how many of them
it uses. A plan with a level at 1 (all of the resource) trains the full network with the others.

The functions take the model itself or the model wrapped in ``torch.nn.parallel.DistributedDataParallel``
and work the same: every level's forward goes through the wrapper, and the summed loss has one backward, so
DDP averages each parameter's gradient once per step. A level's slice of a parameter gives the whole
parameter a gradient (zero past the slice), so no parameter goes unused and ``find_unused_parameters`` is
not needed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable, NamedTuple, Optional, Union

import torch
import torch.nn.functional as functional
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ._errors import InvalidArgumentError

__all__ = [
    "Distillation",
    "JointLoss",
    "evaluate_levels",
    "finetune",
    "freeze_batch_norm",
    "joint_loss",
    "joint_step",
    "reference_level_weights",
]

Criterion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


@dataclass(frozen=True)
class Distillation:
    """In-place distillation from the largest level: every smaller level's loss becomes
    ``(1 - weight) * criterion(level, targets) + weight * temperature**2 * KL(teacher || level)`` on the
    outputs divided by ``temperature``, the teacher being the largest level's output of the same step,
    detached (it learns from the targets alone). ``temperature**2`` keeps the soft term's gradients at the
    scale of the hard term's whatever the temperature (Hinton et al., 2015)."""

    temperature: float = 1.0
    weight: float = 0.5

    def __post_init__(self) -> None:
        if not (math.isfinite(self.temperature) and self.temperature > 0.0):
            raise InvalidArgumentError(
                f"the distillation temperature must be positive, got {self.temperature}"
            )
        if not 0.0 <= self.weight <= 1.0:
            raise InvalidArgumentError(f"the distillation weight must be between 0 and 1, got {self.weight}")

    def loss(self, student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
        """The soft term alone, a batch mean: ``T**2 * KL(softmax(teacher / T) || softmax(student / T))``."""
        temperature = self.temperature
        return temperature * temperature * functional.kl_div(
            functional.log_softmax(student / temperature, dim=1),
            functional.log_softmax(teacher.detach() / temperature, dim=1),
            reduction="batchmean",
            log_target=True,
        )


class JointLoss(NamedTuple):
    """One joint step's loss: ``total`` (the weighted sum, to call ``backward`` on), and per level its
    unweighted criterion on the targets and how many examples it classified right (detached)."""

    total: torch.Tensor
    losses: list[float]
    correct: list[int]


def reference_level_weights(
    levels: Union[Sequence[float], Mapping[str, Any]], *, resource: str = "params"
) -> list[float]:
    """The reference's loss weight ``pi_s = sqrt(p_s) / sum_j sqrt(p_j)`` per level, smallest first, from
    the levels' parameter counts (``p_s`` is a count over the full network's, a factor the normalisation
    cancels) or from a ``reds.plan`` answer whose request priced ``resource``, as the requests of
    ``reds.torch.plan_request`` price ``params``: one weight per level of the plan."""
    if isinstance(levels, Mapping):
        try:
            counts = [level["cost"][resource] for level in levels["levels"]]
        except (KeyError, TypeError) as error:
            raise InvalidArgumentError(
                f"the plan gives no '{resource}' cost for every level ({error!r})"
            ) from None
    else:
        counts = list(levels)
    if not counts:
        raise InvalidArgumentError("no levels to weight")
    if not all(math.isfinite(count) and count > 0 for count in counts):
        raise InvalidArgumentError(f"level sizes must be positive, got {counts}")
    roots = [math.sqrt(count) for count in counts]
    return [root / sum(roots) for root in roots]


def _leveled(model: nn.Module) -> nn.Module:
    """The module that has ``set_level``: the model, or the one a wrapper (DDP) holds as ``module``."""
    inner = model
    while not hasattr(inner, "set_level") and isinstance(getattr(inner, "module", None), nn.Module):
        inner = inner.module
    if not (hasattr(inner, "set_level") and hasattr(inner, "num_levels")):
        raise InvalidArgumentError(
            f"{type(model).__name__} has no set_level and num_levels: apply a plan to it first"
        )
    return inner


def _check_weights(weights: Sequence[float], num_levels: int) -> None:
    if len(weights) != num_levels:
        raise InvalidArgumentError(f"got {len(weights)} loss weights for {num_levels} levels")


def joint_loss(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    weights: Sequence[float],
    *,
    distillation: Optional[Distillation] = None,
    criterion: Criterion = functional.cross_entropy,
) -> JointLoss:
    """Every level of ``model`` (a module with levels, or it wrapped in DDP) on the same minibatch:
    ``sum_s weights[s] * loss_s``, the largest level first so that its output can teach the others
    (``distillation``). The model's level is restored. Call ``backward`` once on ``total``."""
    leveled = _leveled(model)
    num_levels = int(leveled.num_levels)
    _check_weights(weights, num_levels)
    largest = num_levels - 1
    previous = getattr(leveled, "level", largest)
    total: Optional[torch.Tensor] = None
    losses = [0.0] * num_levels
    correct = [0] * num_levels
    teacher: Optional[torch.Tensor] = None
    try:
        for level in [largest, *range(largest)]:
            leveled.set_level(level)
            if level != largest and isinstance(model, DistributedDataParallel):
                # DDP broadcasts the buffers (batch-norm statistics) in place before every forward; once
                # per step is what one forward per step gets, and a second broadcast would change tensors
                # that the graphs of the levels before keep for the backward.
                model.require_forward_param_sync = False
            outputs = model(inputs)
            loss = criterion(outputs, targets)
            losses[level] = float(loss.detach())
            correct[level] = int((outputs.detach().argmax(dim=1) == targets).sum())
            if level == largest:
                teacher = outputs.detach()
            elif distillation is not None and distillation.weight > 0.0:
                assert teacher is not None
                loss = (1.0 - distillation.weight) * loss + distillation.weight * distillation.loss(
                    outputs, teacher
                )
            weighted = weights[level] * loss
            total = weighted if total is None else total + weighted
    finally:
        leveled.set_level(previous)
    assert total is not None
    return JointLoss(total, losses, correct)


def joint_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    weights: Sequence[float],
    *,
    distillation: Optional[Distillation] = None,
    criterion: Criterion = functional.cross_entropy,
) -> JointLoss:
    """One optimizer step on the gradient of ``joint_loss``: zero the gradients, one backward, one step."""
    optimizer.zero_grad(set_to_none=True)
    result = joint_loss(model, inputs, targets, weights, distillation=distillation, criterion=criterion)
    result.total.backward()
    optimizer.step()
    return result


def freeze_batch_norm(model: nn.Module) -> None:
    """Puts every batch norm of ``model`` in evaluation mode: it normalises with its running statistics and
    stops updating them, while its scale and shift still train. The reference fine-tunes this way: one set
    of statistics serves every level (a level's channels are a prefix of the full network's), and the
    replicas of a DDP run need no synchronised statistics."""
    for module in model.modules():
        if isinstance(module, _BATCH_NORMS):
            module.eval()


def _device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def finetune(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    weights: Sequence[float],
    *,
    epochs: int = 1,
    distillation: Optional[Distillation] = None,
    criterion: Criterion = functional.cross_entropy,
    scheduler: Optional[Any] = None,
    batch_norm_frozen: bool = True,
    on_step: Optional[Callable[[int, JointLoss], None]] = None,
) -> int:
    """Fine-tunes every level of ``model`` (a module with levels, or it wrapped in DDP) jointly:
    ``epochs`` passes over ``batches`` (a ``DataLoader`` of (inputs, targets)), one ``joint_step`` per
    batch, then ``scheduler.step()`` if given. The model trains with its batch norms frozen
    (``freeze_batch_norm``) unless ``batch_norm_frozen`` is False; it is left in evaluation mode, at the
    level it had. A ``DistributedSampler`` behind ``batches`` gets ``set_epoch`` every epoch. ``on_step(step,
    result)`` sees every step's losses. Returns the number of steps taken."""
    leveled = _leveled(model)
    _check_weights(weights, int(leveled.num_levels))
    if epochs < 1:
        raise InvalidArgumentError(f"epochs must be at least 1, got {epochs}")
    device = _device(leveled)
    model.train()
    if batch_norm_frozen:
        freeze_batch_norm(model)
    step = 0
    try:
        for epoch in range(epochs):
            sampler = getattr(batches, "sampler", None)
            if hasattr(sampler, "set_epoch"):
                sampler.set_epoch(epoch)
            for inputs, targets in batches:
                step += 1
                result = joint_step(
                    model, optimizer, inputs.to(device), targets.to(device), weights,
                    distillation=distillation, criterion=criterion,
                )  # fmt: skip
                if scheduler is not None:
                    scheduler.step()
                if on_step is not None:
                    on_step(step, result)
    finally:
        model.eval()
    return step


@torch.no_grad()
def evaluate_levels(model: nn.Module, batches: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> list[float]:
    """Every level's accuracy (a fraction) on ``batches``, in evaluation mode; the model's mode and level
    are restored."""
    leveled = _leveled(model)
    device = _device(leveled)
    num_levels = int(leveled.num_levels)
    previous = getattr(leveled, "level", num_levels - 1)
    training = model.training
    model.eval()
    correct = [0] * num_levels
    seen = 0
    try:
        for inputs, targets in batches:
            inputs, targets = inputs.to(device), targets.to(device)
            seen += len(targets)
            for level in range(num_levels):
                leveled.set_level(level)
                correct[level] += int((leveled(inputs).argmax(dim=1) == targets).sum())
    finally:
        leveled.set_level(previous)
        model.train(training)
    if seen == 0:
        raise InvalidArgumentError("no examples to evaluate")
    return [count / seen for count in correct]
