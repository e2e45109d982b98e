"""REDS for ``torch.nn.Module``: plan a PyTorch model, run its levels, export them.

``plan_request(module, example_input)`` gives the request ``reds request`` derives from the same model
exported to ONNX (traced with ``torch.fx``): one layer per ``Conv2d`` (a depthwise one tied to the layer
before it) and ``Linear``, in the order the forward pass computes them, with their units, importance and
exact costs (MACs, parameters, and the peak activation of the engine's schedule). Batch norm folds into the
convolution before it, activations, pooling, dropout and flattening act on every channel alike, and the
layers whose outputs a residual addition adds form one ``stream``; a layer that reads a map other than the
previous layer's (a shortcut projection) names it as its ``input``. The last layer, the classifier, keeps
its width. ``l1_importance`` and ``gradient_importance`` score the units.

``apply_plan(module, plan, example_input)`` permutes the module's units into the plan's order in place and
returns a ``NestedModule`` whose ``set_level(i)`` computes level ``i`` on prefixes of the same parameters;
``calibrate_levels`` gives every level its own batch-norm statistics; ``extract_level`` and
``export_level`` cut one level out, as a module or an ONNX file. Importing this module
imports ``torch``; ``import reds`` does not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Union

import torch
from torch import nn

from ._errors import InvalidArgumentError
from ._finetune import (
    Distillation,
    JointLoss,
    evaluate_levels,
    finetune,
    freeze_batch_norm,
    joint_loss,
    joint_step,
    reference_level_weights,
)
from ._torch_graph import l1_importance as _layer_l1_importance
from ._torch_graph import trace
from ._torch_importance import gradient_importance, l1_importance
from ._torch_activation import FLOAT_BYTES, activation_costs
from ._torch_levels import (
    NestedBatchNorm1d,
    NestedBatchNorm2d,
    NestedConv2d,
    NestedLinear,
    NestedModule,
    apply_plan,
    calibrate_levels,
    export_level,
    extract_level,
)

__all__ = [
    "Distillation",
    "JointLoss",
    "NestedBatchNorm1d",
    "NestedBatchNorm2d",
    "NestedConv2d",
    "NestedLinear",
    "NestedModule",
    "apply_plan",
    "calibrate_levels",
    "evaluate_levels",
    "export_level",
    "extract_level",
    "finetune",
    "freeze_batch_norm",
    "gradient_importance",
    "joint_loss",
    "joint_step",
    "l1_importance",
    "plan_request",
    "reference_level_weights",
]

# The resources the request prices, and how a level aggregates them.
_RESOURCES = {"activation": "max", "macs": "sum", "output_activation": "max", "params": "sum"}


def plan_request(
    module: nn.Module,
    example_input: torch.Tensor,
    *,
    levels: Sequence[float] = (0.25, 0.5, 0.75),
    resource: str = "macs",
    min_width_fraction: float = 0.25,
    block: int = 1,
    importance: Union[str, Mapping[str, Sequence[float]]] = "l1",
    strategy: str = "bottom_up",
    objective: str = "product",
) -> dict[str, Any]:
    """The plan request (contract v1.1, as a dict) of ``module`` run on ``example_input`` (one batch; costs
    are per example): one level per fraction of the full network's ``resource``, smallest first.

    Every layer is priced in ``macs``, ``params``, ``activation`` (the float32 bytes in memory while it runs
    in the engine, input, output and the maps kept for later readers such as a residual block's input, as
    ``held`` terms: peak memory is the largest) and ``output_activation`` (its output map), as ``reds
    request`` prices the module's ONNX export. ``importance`` is ``"l1"`` (per unit, the sum of the
    magnitudes of the weights that compute it, after folding batch norm) or a mapping from layer name (the
    module's qualified name, ``"layer1.0.conv1"``) to one score per unit, such as ``gradient_importance``
    gives; layers it does not name take L1. Prunable layers keep at least
    ``ceil(min_width_fraction * units)`` units, in multiples of ``block``. Raises
    ``reds.InvalidArgumentError`` naming the graph node it cannot map.
    """
    if resource not in _RESOURCES:
        raise InvalidArgumentError(
            f"unknown resource '{resource}'; the request prices {', '.join(_RESOURCES)}"
        )
    if not 0.0 <= min_width_fraction <= 1.0:
        raise InvalidArgumentError(
            f"the minimum width fraction must be between 0 and 1, got {min_width_fraction}"
        )
    if block < 1:
        raise InvalidArgumentError(f"the block must be at least 1, got {block}")
    if not levels or not all(0.0 < fraction <= 1.0 for fraction in levels):
        raise InvalidArgumentError(f"give one or more level fractions in (0, 1], got {list(levels)}")
    scores: Mapping[str, Sequence[float]] = {}
    if not isinstance(importance, str):
        scores = importance
    elif importance != "l1":
        raise InvalidArgumentError(f"unknown importance '{importance}'; give 'l1' or scores per layer")

    graph = trace(module, example_input)
    layers, groups = graph.layers, graph.groups
    unknown = set(scores) - {layer.name for layer in layers}
    if unknown:
        raise InvalidArgumentError(f"importance given for {sorted(unknown)}, not Conv2d or Linear layers")

    entries: list[dict[str, Any]] = []
    for position, layer in enumerate(layers):
        given = [float(score) for score in scores.get(layer.name, ())]
        unit_importance = given or _layer_l1_importance(layer)
        if len(unit_importance) != layer.units:
            raise InvalidArgumentError(
                f"the importance of '{layer.name}' has {len(unit_importance)} scores for {layer.units} units"
            )
        entry: dict[str, Any] = {"name": layer.name, "units": layer.units, "importance": unit_importance}
        source = layer.input.source
        # It reads the width of the previous layer (the contract's default input) when it reads its group.
        reads_previous = (
            position > 0
            and source is not None
            and graph.input_group(position) == graph.output_group(position - 1)
        )
        if layer.depthwise:
            # Tied to the layer before it; reading the model's input (never pruned) it keeps its width.
            entry["tied"] = position > 0
            entry["prunable"] = position > 0
            if position > 0 and not reads_previous:
                raise InvalidArgumentError(
                    f"'{layer.name}' is a depthwise convolution reading a map other than the previous "
                    "layer's; a tied layer of the plan contract follows the layer before it"
                )
        else:
            entry["tied"] = False
            entry["prunable"] = True
            if position > 0 and source is None:
                raise InvalidArgumentError(
                    f"'{layer.name}' reads the model's input, but is not its first layer"
                )
            if position > 0 and not reads_previous:
                entry["input"] = layers[source].name  # a shortcut projection
        positions = math.prod(graph.tensors[layer.node].shape[1:])
        entry["cost"] = {**layer.cost, "output_activation": {"unit": FLOAT_BYTES * positions}}
        entries.append(entry)

    # The classifier's outputs are the classes (a tied last layer keeps its width through the layer before).
    classifier = next(entry for entry in reversed(entries) if not entry["tied"])
    classifier["prunable"] = False
    # Streams: groups of two or more untied layers, named after their first member, which states prunable,
    # min_units and block for all: pinned when any member is, or when the model's input is added to them.
    members: dict[int, list[dict[str, Any]]] = {}
    for layer, entry in zip(layers, entries):
        if not entry["tied"]:
            members.setdefault(groups.find(layer.group), []).append(entry)
    for group, stream in members.items():
        first = stream[0]
        if groups.model_input[group]:
            first["prunable"] = False
        if len(stream) < 2:
            continue
        first["prunable"] = all(entry["prunable"] for entry in stream)
        for entry in stream:
            entry["stream"] = first["name"]
            if entry is not first:
                entry["prunable"] = True
    for entry in entries:
        if not entry["tied"] and entry["prunable"] and entry.get("stream", entry["name"]) == entry["name"]:
            entry["block"] = min(block, entry["units"])
            floor = math.ceil(min_width_fraction * entry["units"])
            entry["min_units"] = min(max(floor, 1), entry["units"])

    request_layers = [_contract_layer(entry) for entry in entries]
    name = type(module).__name__.lower()
    request = {
        "network": {"name": name, "inputs": int(example_input.shape[1]), "resources": dict(_RESOURCES),
                    "layers": request_layers},
        "levels": [{resource: {"fraction": float(fraction)}} for fraction in levels],
        "strategy": strategy,
        "objective": objective,
    }  # fmt: skip
    for layer, activation in zip(request_layers, activation_costs(graph, request)):
        layer["cost"] = dict(sorted({**layer["cost"], "activation": activation}.items()))
    return request


def _contract_layer(entry: Mapping[str, Any]) -> dict[str, Any]:
    # The contract's field order (as `reds request` writes it), defaults left out, cost terms that are 0 too.
    layer: dict[str, Any] = {
        "name": entry["name"], "units": entry["units"], "importance": entry["importance"]
    }
    if entry.get("min_units", 1) != 1:
        layer["min_units"] = entry["min_units"]
    if entry.get("block", 1) != 1:
        layer["block"] = entry["block"]
    if not entry["prunable"]:
        layer["prunable"] = False
    if entry["tied"]:
        layer["tied"] = True
    for key in ("stream", "input"):
        if key in entry:
            layer[key] = entry[key]
    layer["cost"] = {
        resource: {term: value for term, value in sorted(terms.items()) if value}
        for resource, terms in sorted(entry["cost"].items())
    }
    return layer
