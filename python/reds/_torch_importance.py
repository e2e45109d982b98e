"""Importance per unit of every layer of a torch module's plan request: L1, and the REDS reference's
gradient score (docs/python.md, reds-paper section 3)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from ._errors import InvalidArgumentError
from ._torch_graph import l1_importance as _layer_l1_importance
from ._torch_graph import trace

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def l1_importance(module: nn.Module, example_input: torch.Tensor) -> dict[str, list[float]]:
    """Per layer of ``plan_request(module, example_input)`` (by name), the importance ``plan_request`` takes
    by default: per unit, the sum of the magnitudes of the weights that compute it, after folding the batch
    norm that follows it."""
    return {layer.name: _layer_l1_importance(layer) for layer in trace(module, example_input).layers}


def gradient_importance(
    module: nn.Module,
    data: Iterable[Any],
    *,
    batches: int = 100,
    loss: Optional[Loss] = None,
) -> dict[str, list[float]]:
    """The REDS reference's gradient importance of every unit, per layer of the plan request (by name):
    the loss gradient summed over ``batches`` minibatches of ``data`` (a ``DataLoader`` of ``(inputs,
    labels)``, iterated again when it has fewer), ``G = sum_b dL_b/dW`` with ``L_b`` the batch's ``loss``
    (mean cross-entropy of the logits by default), then per unit the sum over the weights that compute it
    of ``|W * G|`` (the absolute value after the sum; biases and batch-norm parameters excluded). A depthwise
    channel's weights are its taps.

    The module runs in training mode (batch norm with batch statistics), as in the reference; its mode, its
    batch-norm statistics and the parameters' ``.grad`` are left as they were. The scores are those of the
    module's current unit order: compute them before ``apply_plan``. Pass them to ``plan_request`` as
    ``importance``.
    """
    if batches < 1:
        raise InvalidArgumentError(f"give at least one minibatch, got {batches}")
    loss = F.cross_entropy if loss is None else loss
    device = next((parameter.device for parameter in module.parameters()), torch.device("cpu"))
    graph = None
    weights: list[torch.Tensor] = []
    sums: list[torch.Tensor] = []
    modes = {submodule: submodule.training for submodule in module.modules()}
    buffers = {name: buffer.detach().clone() for name, buffer in module.named_buffers()}
    done = 0
    try:
        while done < batches:
            started = done
            for batch in data:
                inputs, labels = batch[0].to(device), batch[1].to(device)
                if graph is None:
                    graph = trace(module, inputs[:1])
                    weights = [layer.module.weight for layer in graph.layers]
                    sums = [torch.zeros_like(weight) for weight in weights]
                module.train()
                gradients = torch.autograd.grad(loss(module(inputs), labels), weights)
                for total, gradient in zip(sums, gradients):
                    total += gradient
                done += 1
                if done == batches:
                    break
            if done == started:
                raise InvalidArgumentError("the data gives no minibatch")
    finally:
        for submodule, training in modes.items():
            submodule.training = training
        with torch.no_grad():
            for name, buffer in module.named_buffers():
                buffer.copy_(buffers[name])
    assert graph is not None
    scores = {}
    for layer, weight, total in zip(graph.layers, weights, sums):
        saliency = (weight.detach().to(torch.float64) * total.to(torch.float64)).abs()
        scores[layer.name] = saliency.reshape(saliency.shape[0], -1).sum(dim=1).tolist()
    return scores
