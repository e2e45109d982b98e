"""The graph of a ``torch.nn.Module`` as REDS sees it: its unit layers and their channel groups.

``trace(module, example_input)`` traces the module with ``torch.fx`` and finds one unit layer per ``Conv2d``
(a depthwise one tied to the layer before it) and ``Linear``, in the order the forward pass computes them;
batch norm folds into the layer before it, activations, pooling, dropout and flattening act on every
channel alike, and the layers whose outputs a residual addition adds share one channel group (the plan
contract's ``stream``: one width and one unit order). ``reds.torch`` builds the plan request, the importance
and the nested levels from it.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.fx
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

from ._errors import InvalidArgumentError

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
class Tensor:
    """A map of the traced graph: its shape without the batch axis and where its width comes from."""

    shape: tuple[int, ...]
    source: Optional[int]  # the request layer whose kept width is its channel count; None: the model's input
    channels: int  # the source's channel count (the map's own before any flatten)
    group: int  # its channel group (one order and width for all members): index into Groups


@dataclass
class Groups:
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
class UnitLayer:
    name: str
    module: nn.Module
    depthwise: bool
    input: Tensor
    group: int  # the group of its output
    units: int
    cost: dict[str, dict[str, int]]
    scale: Optional[torch.Tensor] = None  # the batch norm folded into it: per-unit factor of its weights
    batch_norm: Optional[nn.Module] = None  # that batch norm, whose channels are its units
    batch_norm_name: str = ""
    node: Optional[torch.fx.Node] = None  # the graph node that calls it


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


def _unit_layer(node: torch.fx.Node, module: nn.Module, read: Tensor, groups: Groups) -> UnitLayer:
    output = _shape(node)
    has_bias = 1 if module.bias is not None else 0
    if isinstance(module, nn.Conv2d):
        taps = module.kernel_size[0] * module.kernel_size[1]
        out_positions = _positions(output)
        if module.groups == 1:
            # Every kept filter convolves every kept input channel at every output position.
            cost = {"macs": {"unit_input": taps * out_positions},
                    "params": {"unit_input": taps, "unit": has_bias}}
            return UnitLayer(str(node.target), module, False, read, groups.new(), module.out_channels, cost)
        if module.groups == module.in_channels == module.out_channels:
            # A channel reads its own input channel only: its cost does not couple to the input width.
            cost = {"macs": {"unit": taps * out_positions}, "params": {"unit": taps + has_bias}}
            return UnitLayer(str(node.target), module, True, read, read.group, module.out_channels, cost)
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
    return UnitLayer(str(node.target), module, False, read, groups.new(), module.out_features, cost)


def _tensor_arguments(node: torch.fx.Node, tensors: Mapping[torch.fx.Node, Tensor]) -> list[Tensor]:
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


def _trace_graph(module: nn.Module, example_input: torch.Tensor) -> torch.fx.GraphModule:
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


def _unit_layers(
    graph_module: torch.fx.GraphModule,
) -> tuple[list[UnitLayer], Groups, dict[torch.fx.Node, Tensor]]:
    """The graph's Conv2d and Linear layers in the order it computes them, the channel groups and every
    node's map."""
    groups = Groups()
    tensors: dict[torch.fx.Node, Tensor] = {}
    layers: list[UnitLayer] = []
    producer: dict[torch.fx.Node, UnitLayer] = {}  # the unit layer that computed a node's map directly
    modules = dict(graph_module.named_modules())
    placeholders = 0
    for node in graph_module.graph.nodes:
        if node.op == "placeholder":
            placeholders += 1
            if placeholders > 1:
                raise _error(node, "is a second input; the request describes a model of one input")
            shape = _shape(node)
            tensors[node] = Tensor(shape, None, shape[0], groups.new(model_input=True))
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
            layer.node = node
            layers.append(layer)
            producer[node] = layer
            tensors[node] = Tensor(shape, len(layers) - 1, layer.units, layer.group)
            continue
        if isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d)):
            layer = producer.get(node.args[0])
            if layer is None or len(node.args[0].users) != 1 or layer.scale is not None:
                raise _error(node, "is a batch norm that does not directly follow the one convolution or "
                             "linear layer it can fold into")
            # Folded, the layer's weights scale by gamma / sqrt(var + eps) and it gains a bias.
            scale = module.weight.detach() if module.weight is not None else torch.ones(layer.units)
            layer.scale = scale / torch.sqrt(module.running_var.detach() + module.eps)
            layer.batch_norm, layer.batch_norm_name = module, str(node.target)
            for terms in layer.cost.values():
                terms.setdefault("unit", 0)
            layer.cost["params"]["unit"] += 0 if layer.module.bias is not None else 1
            producer[node] = layer
            tensors[node] = Tensor(shape, read.source, read.channels, read.group)
            continue
        if _is_add(node):
            if len(arguments) != 2 or len(node.args) != 2 or node.kwargs:
                raise _error(node, "adds something other than two of the model's maps")
            first, second = arguments
            if first.shape != second.shape:
                raise _error(node, f"adds maps of shapes {first.shape} and {second.shape}")
            sources = [tensor.source for tensor in arguments if tensor.source is not None]
            group = groups.join(first.group, second.group)
            tensors[node] = Tensor(shape, max(sources) if sources else None, read.channels, group)
            continue
        if _is_flatten(node, module):
            if len(shape) != 1:
                raise _error(node, f"reshapes to {shape}; only flattening a map into a vector is supported")
        elif shape[:1] != read.shape[:1]:
            raise _error(node, f"changes the channel count ({read.shape[0]} -> {shape[0]})")
        tensors[node] = Tensor(shape, read.source, read.channels, read.group)
    return layers, groups, tensors


@dataclass
class Graph:
    """The unit layers of a traced module, in the order its forward pass computes them."""

    module: torch.fx.GraphModule
    layers: list[UnitLayer]
    groups: Groups
    tensors: dict[torch.fx.Node, Tensor]  # every node's map (shape, source layer, channel group)

    def output_group(self, index: int) -> int:
        """The channel group of layer ``index``'s output (its stream's, or its own)."""
        return self.groups.find(self.layers[index].group)

    def input_group(self, index: int) -> int:
        """The channel group of the map layer ``index`` reads."""
        return self.groups.find(self.layers[index].input.group)

    def input_positions(self, index: int) -> int:
        """Features per channel of the map a layer reads: a Linear after flatten reads positions x channels
        features, channel after channel (CHW); 1 for a convolution."""
        layer = self.layers[index]
        if isinstance(layer.module, nn.Linear):
            return layer.module.in_features // layer.input.channels
        return 1


def trace(module: nn.Module, example_input: torch.Tensor) -> Graph:
    """The unit layers and channel groups of ``module`` run on ``example_input``; raises
    ``reds.InvalidArgumentError`` naming the graph node it cannot map."""
    graph_module = _trace_graph(module, example_input)
    layers, groups, tensors = _unit_layers(graph_module)
    if not layers:
        raise InvalidArgumentError("the module has no Conv2d or Linear layer to plan")
    return Graph(graph_module, layers, groups, tensors)


def l1_importance(layer: UnitLayer) -> list[float]:
    # Sum of |w| over the weights that compute a unit (bias excluded), of the weights batch norm folds to.
    weight = layer.module.weight.detach().to(torch.float64)
    importance = weight.abs().reshape(weight.shape[0], -1).sum(dim=1)
    if layer.scale is not None:
        importance = importance * layer.scale.to(torch.float64).abs()
    return importance.tolist()


