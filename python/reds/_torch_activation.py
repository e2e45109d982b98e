"""Peak activation of a torch module's plan request, as the REDS engine runs the module's ONNX export.

``reds request`` prices a model's `activation` (float32 bytes of the maps in memory while each layer runs,
a max resource) from the calls its inference engine makes: ``torch.onnx.export`` writes the module as
convolutions (with their batch norm folded in, and a zero padding layer before them when their padding is
not Keras' ``same``), rectifiers, pools, flattening, dense layers and additions. ``activation_costs``
derives the same layers from the traced graph and hands them to the extension, which schedules and prices
them with the engine's own code (reds/models/layer_schedule.h: which layers one call fuses, which maps stay
in memory until their last reader), so that the costs equal ``reds request``'s for the ONNX export, term
for term.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn

from . import _reds
from ._torch_graph import Graph

FLOAT_BYTES = 4

# Elementwise modules and functions: the engine runs them as a rectifier (ReLU, ReLU6 and leaky ReLU run;
# the others it does not run, and a rectifier's schedule is the one an elementwise layer would have).
_ELEMENTWISE_MODULES = (
    nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Hardswish, nn.Hardsigmoid, nn.Hardtanh,
    nn.Sigmoid, nn.Tanh, nn.Mish, nn.PReLU,
)  # fmt: skip
_ELEMENTWISE_FUNCTIONS = {
    torch.relu, torch.relu_, torch.sigmoid, torch.tanh, F.relu, F.relu6, F.leaky_relu, F.gelu, F.silu,
    F.hardswish, F.hardtanh, F.sigmoid,
}  # fmt: skip
_ELEMENTWISE_METHODS = {"relu", "relu_", "sigmoid", "tanh", "clamp", "clamp_"}
_GLOBAL_POOLS = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
_GLOBAL_POOL_FUNCTIONS = {F.adaptive_avg_pool2d, F.adaptive_max_pool2d}


@dataclass
class _Map:
    """An engine tensor: its elements and the request layer whose kept width is its channel count."""

    shape: tuple[int, ...]  # channels, height, width; features of a vector
    source: Optional[int]
    channels: int  # the source's channel count (bytes per kept channel: elements / channels)
    flat: bool

    @property
    def elements(self) -> int:
        return math.prod(self.shape)


@dataclass
class _Layer:
    """An engine layer: what it does, the tensors it reads (0: the input, i + 1: layer i's output)."""

    # convolution (one group), depthwise_convolution (one output channel per input channel),
    # grouped_convolution, dense, rectifier, addition, pool, zero_padding, flatten: the schedule's kinds
    # (reds/models/layer_schedule.h)
    kind: str
    inputs: list[int]
    request_layer: Optional[int] = None


def _pair(value: Any) -> tuple[int, int]:
    return (int(value[0]), int(value[1])) if isinstance(value, (tuple, list)) else (int(value), int(value))


def _keras_same(pads: Sequence[tuple[int, int]], size: Sequence[int], kernel: Sequence[int],
                stride: Sequence[int], dilation: Sequence[int]) -> bool:
    """Whether explicit pads (before, after) per axis compute Keras' 'same' window
    (kernels::axis_geometry)."""
    for (before, after), extent, taps, step, spread in zip(pads, size, kernel, stride, dilation):
        dilated = (taps - 1) * spread + 1
        out = (extent + step - 1) // step
        total = max((out - 1) * step + dilated - extent, 0)
        if (extent + before + after - dilated) // step + 1 != out or before != total // 2:
            return False
    return True


def _window_padding(node: torch.fx.Node, module: Optional[nn.Module]) -> Optional[tuple[str, Any]]:
    """(kind, padding per axis as (before, after)) of a convolution or pool; None for other nodes."""
    if isinstance(module, nn.Conv2d):
        kernel, stride, dilation = module.kernel_size, module.stride, module.dilation
        if module.padding == "valid":
            pads = [(0, 0), (0, 0)]
        elif module.padding == "same":
            pads = [((spread * (taps - 1)) // 2, spread * (taps - 1) - (spread * (taps - 1)) // 2)
                    for taps, spread in zip(kernel, dilation)]
        else:
            pads = [(pad, pad) for pad in _pair(module.padding)]
        return "conv", (pads, kernel, stride, dilation, False)
    arguments = None
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        maximum = isinstance(module, nn.MaxPool2d)
        arguments = (module.kernel_size, module.stride, module.padding,
                     module.dilation if maximum else 1, maximum,
                     not maximum and module.count_include_pad)
    elif node.op == "call_function" and node.target in (F.max_pool2d, F.avg_pool2d):
        maximum = node.target is F.max_pool2d
        names = ["input", "kernel_size", "stride", "padding"]
        given = dict(zip(names, node.args), **node.kwargs)
        kernel = given["kernel_size"]
        arguments = (kernel, given.get("stride") or kernel, given.get("padding", 0),
                     given.get("dilation", 1) if maximum else 1, maximum,
                     not maximum and given.get("count_include_pad", True))
    if arguments is None:
        return None
    kernel, stride, padding, dilation, maximum, counts_padding = arguments
    pads = [(pad, pad) for pad in _pair(padding)]
    return "pool", (pads, _pair(kernel), _pair(stride), _pair(dilation), counts_padding)


def _engine_layers(graph: Graph) -> tuple[list[_Layer], list[_Map]]:
    """The layers the engine reads from the module's ONNX export, and every tensor's map."""
    modules = dict(graph.module.named_modules())
    request_layer = {layer.node: index for index, layer in enumerate(graph.layers)}
    layers: list[_Layer] = []
    maps: list[_Map] = []
    tensor_of: dict[torch.fx.Node, int] = {}

    def append(kind: str, inputs: list[int], shape: tuple[int, ...], source: Optional[int], channels: int,
               flat: bool, unit: Optional[int] = None) -> int:
        layers.append(_Layer(kind, inputs, unit))
        maps.append(_Map(shape, source, channels, flat))
        return len(layers)

    for node in graph.module.graph.nodes:
        tensor = graph.tensors.get(node)
        if tensor is None:
            continue  # the output, and shapes read by a reshape
        shape = tensor.shape
        if node.op == "placeholder":
            maps.append(_Map(shape, None, tensor.channels, len(shape) == 1))
            tensor_of[node] = 0
            continue
        module = modules.get(node.target) if node.op == "call_module" else None
        operands = [tensor_of[argument] for argument in node.args
                    if isinstance(argument, torch.fx.Node) and argument in tensor_of]
        read = operands[0]
        read_map = maps[read]
        source, channels = tensor.source, tensor.channels
        if node in request_layer:
            window = _window_padding(node, module)
            if window is not None:
                pads, kernel, stride, dilation, _ = window[1]
                read = _padded(append, read, read_map, pads, kernel, stride, dilation, True)
            kind = "dense" if isinstance(module, nn.Linear) else _convolution_kind(module)
            flat = kind == "dense"
            tensor_of[node] = append(kind, [read], shape, source, channels, flat, request_layer[node])
            continue
        if isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d)) or _is_alias(node, module):
            tensor_of[node] = read  # folded into its layer; dropout and identity are no layer
            continue
        if len(operands) == 2:  # a residual addition
            tensor_of[node] = append("addition", operands, shape, source, channels, read_map.flat)
            continue
        if _is_elementwise(node, module):
            tensor_of[node] = append("rectifier", [read], shape, source, channels, read_map.flat)
            continue
        if isinstance(module, _GLOBAL_POOLS) or (
            node.op == "call_function" and node.target in _GLOBAL_POOL_FUNCTIONS
        ):
            global_pool = shape[1:] == (1, 1)  # the engine's global pool gives a vector
            tensor_of[node] = append("pool", [read], shape, source, channels, global_pool)
            continue
        window = _window_padding(node, module)
        if window is not None:
            pads, kernel, stride, dilation, counts_padding = window[1]
            # torch writes an average pool that counts its padding as a Pad before it; other padding is
            # the window's own, which the engine computes as Keras' 'same' or after a zero padding layer.
            read = _padded(append, read, read_map, pads, kernel, stride, dilation, not counts_padding)
            tensor_of[node] = append("pool", [read], shape, source, channels, False)
            continue
        if _is_padding(node, module):
            unchanged = shape == read_map.shape
            tensor_of[node] = (
                read if unchanged else append("zero_padding", [read], shape, source, channels, False)
            )
            continue
        # A flatten: a layer of its own, unless the map is a vector already.
        tensor_of[node] = read if read_map.flat else append("flatten", [read], shape, source, channels, True)
    return layers, maps


def _padded(append: Any, read: int, read_map: _Map, pads: Sequence[tuple[int, int]], kernel: Sequence[int],
            stride: Sequence[int], dilation: Sequence[int], may_be_same: bool) -> int:
    """The tensor a window reads: its input, or a zero padding layer's output before it."""
    if all(before == 0 and after == 0 for before, after in pads):
        return read
    channels, height, width = read_map.shape
    if may_be_same and _keras_same(pads, (height, width), kernel, stride, dilation):
        return read
    shape = (channels, height + sum(pads[0]), width + sum(pads[1]))
    return append("zero_padding", [read], shape, read_map.source, read_map.channels, False)


def _convolution_kind(module: nn.Conv2d) -> str:
    if module.groups == 1:
        return "convolution"
    if module.groups == module.in_channels == module.out_channels:
        return "depthwise_convolution"
    return "grouped_convolution"


def _is_alias(node: torch.fx.Node, module: Optional[nn.Module]) -> bool:
    return (
        isinstance(module, (nn.Dropout, nn.Dropout2d, nn.Identity))
        or (node.op == "call_function" and node.target is F.dropout)
        or (node.op == "call_method" and node.target == "contiguous")
    )


def _is_elementwise(node: torch.fx.Node, module: Optional[nn.Module]) -> bool:
    return (
        isinstance(module, _ELEMENTWISE_MODULES)
        or (node.op == "call_function" and node.target in _ELEMENTWISE_FUNCTIONS)
        or (node.op == "call_method" and node.target in _ELEMENTWISE_METHODS)
    )


def _is_padding(node: torch.fx.Node, module: Optional[nn.Module]) -> bool:
    return isinstance(module, (nn.ZeroPad2d, nn.ConstantPad2d)) or (
        node.op == "call_function" and node.target is F.pad
    )


def activation_costs(graph: Graph, request: dict[str, Any]) -> list[dict[str, Any]]:
    """Per layer of ``request`` (whose structure is final), its ``activation`` cost terms, as the engine's
    ``plan_request`` prices them for the module's ONNX export."""
    layers, maps = _engine_layers(graph)

    def live(map_: _Map) -> tuple[Optional[int], int]:
        bytes_ = FLOAT_BYTES * map_.elements
        return (None, bytes_) if map_.source is None else (map_.source, bytes_ // map_.channels)

    graph = {
        "layers": [(layer.kind, layer.inputs, layer.request_layer) for layer in layers],
        "maps": [live(map_) for map_ in maps],
    }
    return json.loads(_reds.scheduled_activation_json(json.dumps(request), json.dumps(graph), "activation"))
