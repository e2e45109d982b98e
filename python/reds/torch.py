"""REDS for ``torch.nn.Module``: the plan request of a PyTorch model, traced with ``torch.fx``.

``plan_request(module, example_input)`` gives the request ``reds request`` derives from the same model
exported to ONNX: one layer per ``Conv2d`` (a depthwise one tied to the layer before it) and ``Linear``, in
the order the forward pass computes them, with their units, L1 importance and exact costs. Batch norm folds
into the convolution before it, activations, pooling, dropout and flattening act on every channel alike,
and the layers whose outputs a residual addition adds form one ``stream``; a layer that reads a map other
than the previous layer's (a shortcut projection) names it as its ``input``. The last layer, the
classifier, keeps its width. Importing this module imports ``torch``; ``import reds`` does not.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional, Union

import torch
import torch.fx
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from ._errors import InvalidArgumentError
from ._finetune import *  # noqa: F401,F403  (joint fine-tuning of the levels: _finetune.__all__)

__all__ = ["plan_request"]

# The resources the request prices, and how a level aggregates them.
_RESOURCES = {"macs": "sum", "params": "sum"}

# Modules and functions that act on every channel alike: they keep the width and channel order of the map
# they read (its shape may change: pools, padding).
_CHANNELWISE_MODULES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh,
    nn.Sigmoid, nn.Tanh, nn.Mish, nn.PReLU,
    nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d,
    nn.ZeroPad2d, nn.ConstantPad2d, nn.Dropout, nn.Dropout2d, nn.Identity,
)  # fmt: skip
_CHANNELWISE_FUNCTIONS = {
    torch.relu, torch.relu_, torch.sigmoid, torch.tanh, torch.nn.functional.relu, torch.nn.functional.relu6,
    torch.nn.functional.leaky_relu, torch.nn.functional.gelu, torch.nn.functional.silu,
    torch.nn.functional.hardswish, torch.nn.functional.hardtanh, torch.nn.functional.sigmoid,
    torch.nn.functional.max_pool2d, torch.nn.functional.avg_pool2d, torch.nn.functional.adaptive_avg_pool2d,
    torch.nn.functional.adaptive_max_pool2d, torch.nn.functional.dropout, torch.nn.functional.pad,
}  # fmt: skip
_CHANNELWISE_METHODS = {"relu", "relu_", "sigmoid", "tanh", "clamp", "clamp_", "contiguous"}
_ADD_FUNCTIONS = {operator.add, operator.iadd, torch.add}
_ADD_METHODS = {"add", "add_"}
_FLATTEN_FUNCTIONS = {torch.flatten}
_FLATTEN_METHODS = {"flatten", "view", "reshape"}


@dataclass
class _Tensor:
    """A map of the traced graph: its shape without the batch axis and where its width comes from."""

    shape: tuple[int, ...]
    source: Optional[int]  # the request layer whose kept width is its channel count; None: the model's input
    channels: int  # the source's channel count (the map's own before any flatten)
    group: int  # its channel group (one order and width for all members): index into _Groups


@dataclass
class _Groups:
    """Channel groups as a union-find: the unit layers whose outputs one addition adds share one."""

    parent: list[int] = field(default_factory=list)
    model_input: list[bool] = field(default_factory=list)

    def new(self, model_input: bool = False) -> int:
        self.parent.append(len(self.parent))
        self.model_input.append(model_input)
        return len(self.parent) - 1

    def find(self, group: int) -> int:
        while self.parent[group] != group:
            self.parent[group] = self.parent[self.parent[group]]
            group = self.parent[group]
        return group

    def join(self, first: int, second: int) -> int:
        first, second = self.find(first), self.find(second)
        if first != second:
            # The earlier group stays the root: a stream is named after its first member.
            first, second = min(first, second), max(first, second)
            self.parent[second] = first
            self.model_input[first] = self.model_input[first] or self.model_input[second]
        return first


@dataclass
class _UnitLayer:
    name: str
    module: nn.Module
    depthwise: bool
    input: _Tensor
    group: int  # the group of its output
    units: int
    cost: dict[str, dict[str, int]]
    scale: Optional[torch.Tensor] = None  # the batch norm folded into it: per-unit factor of its weights


def _describe(node: torch.fx.Node) -> str:
    target = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", node.target)
    return f"node '{node.name}' ({node.op} {target})"


def _error(node: torch.fx.Node, message: str) -> InvalidArgumentError:
    return InvalidArgumentError(f"{_describe(node)} {message}")


def _shape(node: torch.fx.Node) -> tuple[int, ...]:
    meta = node.meta.get("tensor_meta")
    if meta is None or not hasattr(meta, "shape"):
        raise _error(node, "does not compute one tensor")
    return tuple(int(size) for size in meta.shape[1:])


def _positions(shape: Sequence[int]) -> int:
    # Spatial positions of a channels-first map (1 for a vector).
    count = 1
    for size in shape[1:]:
        count *= size
    return count


def _unit_layer(node: torch.fx.Node, module: nn.Module, read: _Tensor, groups: _Groups) -> _UnitLayer:
    output = _shape(node)
    has_bias = 1 if module.bias is not None else 0
    if isinstance(module, nn.Conv2d):
        taps = module.kernel_size[0] * module.kernel_size[1]
        out_positions = _positions(output)
        if module.groups == 1:
            # Every kept filter convolves every kept input channel at every output position.
            cost = {"macs": {"unit_input": taps * out_positions},
                    "params": {"unit_input": taps, "unit": has_bias}}
            return _UnitLayer(str(node.target), module, False, read, groups.new(), module.out_channels, cost)
        if module.groups == module.in_channels == module.out_channels:
            # A channel reads its own input channel only: its cost does not couple to the input width.
            cost = {"macs": {"unit": taps * out_positions}, "params": {"unit": taps + has_bias}}
            return _UnitLayer(str(node.target), module, True, read, read.group, module.out_channels, cost)
        raise _error(
            node,
            f"is a grouped convolution ({module.groups} groups, {module.in_channels} -> "
            f"{module.out_channels} channels); a tied layer of the plan contract has exactly its input's "
            "width, and other groupings cannot be narrowed",
        )
    # Linear: every kept channel of the map it reads contributes `positions` inputs.
    if module.in_features % read.channels:
        raise _error(node, f"reads {module.in_features} features, not a multiple of {read.channels} channels")
    positions = module.in_features // read.channels
    cost = {"macs": {"unit_input": positions}, "params": {"unit_input": positions, "unit": has_bias}}
    return _UnitLayer(str(node.target), module, False, read, groups.new(), module.out_features, cost)


def _tensor_arguments(node: torch.fx.Node, tensors: Mapping[torch.fx.Node, _Tensor]) -> list[_Tensor]:
    # A shape argument (x.view(x.size(0), -1)) is a node too, but not a map.
    return [tensors[argument] for argument in node.args if isinstance(argument, torch.fx.Node)
            and argument in tensors]


def _is_add(node: torch.fx.Node) -> bool:
    return (node.op == "call_function" and node.target in _ADD_FUNCTIONS) or (
        node.op == "call_method" and node.target in _ADD_METHODS
    )


def _is_flatten(node: torch.fx.Node, module: Optional[nn.Module]) -> bool:
    return (
        isinstance(module, nn.Flatten)
        or (node.op == "call_function" and node.target in _FLATTEN_FUNCTIONS)
        or (node.op == "call_method" and node.target in _FLATTEN_METHODS)
    )


def _is_mapped(node: torch.fx.Node, module: Optional[nn.Module]) -> bool:
    """Whether the request can describe what the node computes (a layer, an addition or a channelwise op)."""
    return (
        isinstance(module, (nn.Conv2d, nn.Linear, nn.BatchNorm2d, nn.BatchNorm1d, *_CHANNELWISE_MODULES))
        or (node.op == "call_function" and node.target in _CHANNELWISE_FUNCTIONS)
        or (node.op == "call_method" and node.target in _CHANNELWISE_METHODS)
        or _is_add(node)
        or _is_flatten(node, module)
    )


def _trace(module: nn.Module, example_input: torch.Tensor) -> torch.fx.GraphModule:
    graph_module = torch.fx.symbolic_trace(module)
    # Shapes from one forward pass in evaluation mode (batch norm must not update its statistics).
    modes = {submodule: submodule.training for submodule in module.modules()}
    try:
        module.eval()
        with torch.no_grad():
            ShapeProp(graph_module).propagate(example_input)
    finally:
        for submodule, training in modes.items():
            submodule.training = training
    return graph_module


def _unit_layers(graph_module: torch.fx.GraphModule) -> tuple[list[_UnitLayer], _Groups, list[int]]:
    """The graph's Conv2d and Linear layers in the order it computes them, with the channel groups and, per
    layer, the group of the map it reads."""
    groups = _Groups()
    tensors: dict[torch.fx.Node, _Tensor] = {}
    layers: list[_UnitLayer] = []
    producer: dict[torch.fx.Node, _UnitLayer] = {}  # the unit layer that computed a node's map directly
    modules = dict(graph_module.named_modules())
    placeholders = 0
    for node in graph_module.graph.nodes:
        if node.op == "placeholder":
            placeholders += 1
            if placeholders > 1:
                raise _error(node, "is a second input; the request describes a model of one input")
            shape = _shape(node)
            tensors[node] = _Tensor(shape, None, shape[0], groups.new(model_input=True))
            continue
        if node.op == "output":
            continue
        if (node.op == "call_method" and node.target == "size") or (
            node.op == "call_function" and node.target is getattr
        ):
            continue  # a shape, read by a reshape
        if node.op == "get_attr":
            raise _error(node, "reads a parameter or buffer outside a layer, which the request cannot price")
        module = modules.get(node.target) if node.op == "call_module" else None
        if not _is_mapped(node, module):
            raise _error(node, "is an operation the request cannot describe (supported: Conv2d, Linear, "
                         "BatchNorm, activations, pooling, padding, dropout, flatten and residual add)")
        arguments = _tensor_arguments(node, tensors)
        if not arguments:
            raise _error(node, "reads no map of the model")
        read = arguments[0]
        shape = _shape(node)
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            layer = _unit_layer(node, module, read, groups)
            layers.append(layer)
            producer[node] = layer
            tensors[node] = _Tensor(shape, len(layers) - 1, layer.units, layer.group)
            continue
        if isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d)):
            layer = producer.get(node.args[0])
            if layer is None or len(node.args[0].users) != 1 or layer.scale is not None:
                raise _error(node, "is a batch norm that does not directly follow the one convolution or "
                             "linear layer it can fold into")
            # Folded, the layer's weights scale by gamma / sqrt(var + eps) and it gains a bias.
            scale = module.weight.detach() if module.weight is not None else torch.ones(layer.units)
            layer.scale = scale / torch.sqrt(module.running_var.detach() + module.eps)
            for terms in layer.cost.values():
                terms.setdefault("unit", 0)
            layer.cost["params"]["unit"] += 0 if layer.module.bias is not None else 1
            producer[node] = layer
            tensors[node] = _Tensor(shape, read.source, read.channels, read.group)
            continue
        if _is_add(node):
            if len(arguments) != 2 or len(node.args) != 2 or node.kwargs:
                raise _error(node, "adds something other than two of the model's maps")
            first, second = arguments
            if first.shape != second.shape:
                raise _error(node, f"adds maps of shapes {first.shape} and {second.shape}")
            sources = [tensor.source for tensor in arguments if tensor.source is not None]
            group = groups.join(first.group, second.group)
            tensors[node] = _Tensor(shape, max(sources) if sources else None, read.channels, group)
            continue
        if _is_flatten(node, module):
            if len(shape) != 1:
                raise _error(node, f"reshapes to {shape}; only flattening a map into a vector is supported")
        elif shape[:1] != read.shape[:1]:
            raise _error(node, f"changes the channel count ({read.shape[0]} -> {shape[0]})")
        tensors[node] = _Tensor(shape, read.source, read.channels, read.group)
    return layers, groups, [layer.input.group for layer in layers]


def _l1_importance(layer: _UnitLayer) -> list[float]:
    # Sum of |w| over the weights that compute a unit (bias excluded), of the weights batch norm folds to.
    weight = layer.module.weight.detach().to(torch.float64)
    importance = weight.abs().reshape(weight.shape[0], -1).sum(dim=1)
    if layer.scale is not None:
        importance = importance * layer.scale.to(torch.float64).abs()
    return importance.tolist()


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
    are per example): one level per fraction of the full network's ``resource`` (``"macs"`` or
    ``"params"``), smallest first.

    ``importance`` is ``"l1"`` (per unit, the sum of the magnitudes of the weights that compute it, after
    folding batch norm) or a mapping from layer name (the module's qualified name, ``"layer1.0.conv1"``) to
    one score per unit; layers it does not name take L1. Prunable layers keep at least
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

    graph_module = _trace(module, example_input)
    layers, groups, read_groups = _unit_layers(graph_module)
    if not layers:
        raise InvalidArgumentError("the module has no Conv2d or Linear layer to plan")
    unknown = set(scores) - {layer.name for layer in layers}
    if unknown:
        raise InvalidArgumentError(f"importance given for {sorted(unknown)}, not Conv2d or Linear layers")

    entries: list[dict[str, Any]] = []
    for position, layer in enumerate(layers):
        unit_importance = [float(score) for score in scores.get(layer.name, ())] or _l1_importance(layer)
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
            and groups.find(read_groups[position]) == groups.find(layers[position - 1].group)
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
        entry["cost"] = layer.cost
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
    return {
        "network": {"name": name, "inputs": int(example_input.shape[1]), "resources": dict(_RESOURCES),
                    "layers": request_layers},
        "levels": [{resource: {"fraction": float(fraction)}} for fraction in levels],
        "strategy": strategy,
        "objective": objective,
    }  # fmt: skip


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
