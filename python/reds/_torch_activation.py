"""Peak activation of a torch module's plan request, as the REDS engine runs the module's ONNX export.

``reds request`` prices a model's `activation` (float32 bytes of the maps in memory while each layer runs,
a max resource) from the calls its inference engine makes: ``torch.onnx.export`` writes the module as
convolutions (with their batch norm folded in, and a zero padding layer before them when their padding is
not Keras' ``same``), rectifiers, pools, flattening, dense layers and additions, and the engine runs them in
that order, fusing a rectifier into the layer before it, an addition into the convolution that computes one
of its operands (accumulating onto the other), and a zero padding into the one convolution that reads it,
writing a rectifier or an addition over an operand nothing reads later, and keeping every map in memory
until its last reader has run (a residual block's input until the addition). ``activation_costs`` derives
the same layers from the traced graph, schedules them as the engine does (models/engine/src/schedule.cpp)
and prices them with the engine's own code (reds/models/peak_activation.h, through the extension), so that
the costs equal ``reds request``'s for the ONNX export, term for term.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
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

    kind: str  # conv, dense, rectifier, add, pool, global_pool, zero_padding, flatten
    inputs: list[int]
    request_layer: Optional[int] = None
    one_group: bool = False  # conv: groups == 1 (a residual addition can run inside it)
    depthwise: bool = False  # conv: one output channel per input channel


@dataclass
class _Call:
    layer: int
    operands: list[int] = field(default_factory=list)  # through a fused padding, the padding's input
    last: int = 0  # the last layer the call computes (a fused addition or rectifier)
    fused_rectifier: Optional[int] = None
    resident: list[int] = field(default_factory=list)
    in_place: bool = False


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
               flat: bool, unit: Optional[int] = None, one_group: bool = False,
               depthwise: bool = False) -> int:
        layers.append(_Layer(kind, inputs, unit, one_group, depthwise))
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
            kind = "dense" if isinstance(module, nn.Linear) else "conv"
            flat = kind == "dense"
            groups = getattr(module, "groups", 1)
            depthwise = groups > 1 and groups == module.in_channels == module.out_channels
            tensor_of[node] = append(kind, [read], shape, source, channels, flat, request_layer[node],
                                     groups == 1, depthwise)
            continue
        if isinstance(module, (nn.BatchNorm2d, nn.BatchNorm1d)) or _is_alias(node, module):
            tensor_of[node] = read  # folded into its layer; dropout and identity are no layer
            continue
        if len(operands) == 2:  # a residual addition
            tensor_of[node] = append("add", operands, shape, source, channels, read_map.flat)
            continue
        if _is_elementwise(node, module):
            tensor_of[node] = append("rectifier", [read], shape, source, channels, read_map.flat)
            continue
        if isinstance(module, _GLOBAL_POOLS) or (
            node.op == "call_function" and node.target in _GLOBAL_POOL_FUNCTIONS
        ):
            global_pool = shape[1:] == (1, 1)  # the engine's global pool gives a vector
            kind = "global_pool" if global_pool else "pool"
            tensor_of[node] = append(kind, [read], shape, source, channels, global_pool)
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


def _schedule(layers: Sequence[_Layer]) -> list[_Call]:
    """The engine's calls and the maps resident at each (models/engine/src/schedule.cpp, line for line)."""
    tensors = len(layers) + 1

    def reads_only(reader: int, tensor: int) -> bool:
        return layers[reader].inputs == [tensor]

    read_count = [0] * tensors
    for layer in layers:
        for tensor in layer.inputs:
            read_count[tensor] += 1
    # Zero paddings read by one convolution alone become that convolution's padding.
    padding_fused = [False] * len(layers)
    for index in range(len(layers) - 1):
        after = layers[index + 1]
        padding_fused[index] = (layers[index].kind == "zero_padding" and after.kind == "conv"
                                and (after.one_group or after.depthwise) and reads_only(index + 1, index + 1)
                                and read_count[index + 1] == 1)

    def operands_of(index: int) -> list[int]:
        read_through_padding = index > 0 and padding_fused[index - 1]
        return list(layers[index - 1].inputs if read_through_padding else layers[index].inputs)

    last_reader = [0] + [tensor - 1 for tensor in range(1, tensors)]
    for index in range(len(layers)):
        if not padding_fused[index]:
            for tensor in operands_of(index):
                last_reader[tensor] = max(last_reader[tensor], index)
    last_reader[-1] = len(layers)

    users: list[int] = []  # per buffer, the live maps it holds (a flatten's output shares its input's)
    buffer_of = [-1] * tensors
    tensor_in: list[int] = []  # per buffer, the map written to it last

    def take_free() -> int:
        buffer = users.index(0) if 0 in users else len(users)
        if buffer == len(users):
            users.append(0)
        users[buffer] = 1
        return buffer

    buffer_of[0] = take_free()
    tensor_in.append(0)
    calls = []
    index = 0
    while index < len(layers):
        if padding_fused[index]:
            index += 1
            continue
        layer = layers[index]
        operands = operands_of(index)
        if layer.kind == "flatten":
            input = operands[0]
            buffer_of[index + 1] = buffer_of[input]
            tensor_in[buffer_of[input]] = index + 1
            users[buffer_of[input]] += 1
            if last_reader[input] <= index:
                users[buffer_of[input]] -= 1
            index += 1
            continue
        call = _Call(index, list(operands))
        in_place = layer.kind in ("rectifier", "add")
        last = index

        def dying(tensor: int, at: int) -> bool:
            return last_reader[tensor] <= at and users[buffer_of[tensor]] == 1

        skip = None  # a fused addition's other operand, which the output is written over
        if (layer.kind == "conv" and layer.one_group and index + 1 < len(layers)
                and layers[index + 1].kind == "add" and last_reader[index + 1] == index + 1):
            added = layers[index + 1].inputs
            if len(added) == 2 and (added[0] == index + 1) != (added[1] == index + 1):
                other = added[1] if added[0] == index + 1 else added[0]
                if other != operands[0] and dying(other, index + 1):
                    skip = other
                    last = index + 1
        fusable = layer.kind in ("conv", "dense", "add")
        if (fusable and last + 1 < len(layers) and layers[last + 1].kind == "rectifier"
                and reads_only(last + 1, last + 1) and last_reader[last + 1] == last + 1):
            call.fused_rectifier = last = last + 1
        call.resident = [tensor_in[buffer] for buffer in range(len(users)) if users[buffer] > 0]
        distinct = sorted(set(operands))
        reused = next((tensor for tensor in distinct if dying(tensor, last)), None) if in_place else None
        if skip is not None:
            output_buffer = buffer_of[skip]  # the sums are added onto the skip tensor where it lies
            call.in_place = True
        elif reused is not None:
            output_buffer = buffer_of[reused]
            call.in_place = True
            distinct.remove(reused)
        else:
            output_buffer = take_free()
        for tensor in distinct:
            if last_reader[tensor] <= last:
                users[buffer_of[tensor]] -= 1
        for tensor in range(index + 1, last + 2):
            buffer_of[tensor] = output_buffer
        tensor_in.extend([0] * (len(users) - len(tensor_in)))
        tensor_in[output_buffer] = last + 1
        if last_reader[last + 1] <= last:
            users[output_buffer] -= 1
        call.last = last
        calls.append(call)
        index = last + 1
    return calls


def activation_costs(graph: Graph, request: dict[str, Any]) -> list[dict[str, Any]]:
    """Per layer of ``request`` (whose structure is final), its ``activation`` cost terms, as the engine's
    ``plan_request`` prices them for the module's ONNX export."""
    layers, maps = _engine_layers(graph)

    def live(tensor: int) -> list[Any]:
        map_ = maps[tensor]
        bytes_ = FLOAT_BYTES * map_.elements
        return [None, bytes_] if map_.source is None else [map_.source, bytes_ // map_.channels]

    steps = []
    computed = 0
    for call in _schedule(layers):
        step: dict[str, Any] = {"layer": None, "layers_before": computed, "input": None,
                                "live": [live(tensor) for tensor in call.resident]}
        if not call.in_place:
            step["live"].append(live(call.last + 1))
        unit = layers[call.layer].request_layer
        if unit is not None:
            step["layer"] = unit
            step["input"] = live(call.operands[0])
            computed += 1
        steps.append(step)
    priced = json.loads(_reds.peak_activation_json(json.dumps(request), json.dumps(steps), "activation"))
    return [layer["cost"]["activation"] for layer in priced["network"]["layers"]]
