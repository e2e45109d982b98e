"""A planned torch module: its units permuted into the plan's order, every level a prefix of every layer.

``apply_plan`` permutes the module's parameters in place (the same ``Parameter`` objects, new values) so
that the full network computes what it computed before, and turns every ``Conv2d``, ``Linear`` and batch
norm of the plan into its nested variant, whose ``forward`` computes on the first units of its weights (a
slice: a view, no copy) at the level selected by ``NestedModule.set_level``. Nothing else changes: the
module's own ``forward`` runs as it did, so it keeps working inside ``DistributedDataParallel`` (its
parameters are the ones it registered, and a level's gradients reach their prefixes).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from ._errors import InvalidArgumentError
from ._torch_graph import Graph, trace

# Per level, a nested layer's width: (units, input channels or features) of a Conv2d or Linear, (units,
# units) of a batch norm. None: the full layer.
Width = Optional[tuple[int, int]]


class _Nested:
    """What the nested layers share: their width per level and the one ``forward`` computes."""

    # Class defaults, shadowed per instance by apply_plan.
    reds_level_widths: tuple[tuple[int, int], ...] = ()
    reds_width: Width = None
    reds_level: Optional[int] = None


class NestedConv2d(nn.Conv2d, _Nested):
    """A ``Conv2d`` that computes on its first filters and input channels (a depthwise one: its first
    channels) at the selected level."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if self.reds_width is None:
            return super().forward(input)
        units, inputs = self.reds_width
        depthwise = self.groups > 1
        weight = self.weight[:units] if depthwise else self.weight[:units, :inputs]
        bias = None if self.bias is None else self.bias[:units]
        groups = units if depthwise else 1
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return F.conv2d(padded, weight, bias, self.stride, 0, self.dilation, groups)
        return F.conv2d(input, weight, bias, self.stride, self.padding, self.dilation, groups)


class NestedLinear(nn.Linear, _Nested):
    """A ``Linear`` that computes its first units from its first input features at the selected level."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if self.reds_width is None:
            return super().forward(input)
        units, inputs = self.reds_width
        bias = None if self.bias is None else self.bias[:units]
        return F.linear(input, self.weight[:units, :inputs], bias)


# The per-level statistics of a nested batch norm (calibrate_levels): buffers of (levels, channels), and
# which levels have them. Not persistent: the wrapped module's state_dict stays the one of its own class.
_LEVEL_MEAN, _LEVEL_VAR, _LEVEL_CALIBRATED = "reds_level_mean", "reds_level_var", "reds_level_calibrated"


def _level_statistics(module: nn.Module) -> Optional[tuple[torch.Tensor, torch.Tensor]]:
    """The mean and variance the module normalises with at its selected level, if that level is
    calibrated."""
    level = module.reds_level  # type: ignore[attr-defined]
    calibrated = getattr(module, _LEVEL_CALIBRATED, None)
    if level is None or calibrated is None or not bool(calibrated[level]):
        return None
    return getattr(module, _LEVEL_MEAN)[level], getattr(module, _LEVEL_VAR)[level]


def _nested_batch_norm(module: nn.modules.batchnorm._BatchNorm, input: torch.Tensor) -> torch.Tensor:
    # torch's _BatchNorm.forward on the first channels: in training mode the level's batch statistics update
    # the prefix of the running ones (a view), as the full network's update all of them. In evaluation mode
    # a calibrated level normalises with its own statistics.
    units = module.reds_width[0]  # type: ignore[index]
    if not module.training:
        statistics = _level_statistics(module)
        if statistics is not None:
            mean, variance = statistics
            return F.batch_norm(input, mean[:units], variance[:units],
                                None if module.weight is None else module.weight[:units],
                                None if module.bias is None else module.bias[:units], False, 0.0, module.eps)
    momentum = 0.0 if module.momentum is None else module.momentum
    if module.training and module.track_running_stats and module.num_batches_tracked is not None:
        module.num_batches_tracked.add_(1)
        momentum = 1.0 / float(module.num_batches_tracked) if module.momentum is None else module.momentum
    training = module.training or (module.running_mean is None and module.running_var is None)
    use_buffers = not module.training or module.track_running_stats

    def prefix(tensor: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
        return None if tensor is None else tensor[:units]

    return F.batch_norm(
        input,
        prefix(module.running_mean) if use_buffers else None,
        prefix(module.running_var) if use_buffers else None,
        prefix(module.weight),
        prefix(module.bias),
        training,
        momentum,
        module.eps,
    )


class NestedBatchNorm2d(nn.BatchNorm2d, _Nested):
    """A ``BatchNorm2d`` over the first channels (its layer's kept units) at the selected level."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if self.reds_width is None:
            return super().forward(input)
        self._check_input_dim(input)
        return _nested_batch_norm(self, input)


class NestedBatchNorm1d(nn.BatchNorm1d, _Nested):
    """A ``BatchNorm1d`` over the first features (its layer's kept units) at the selected level."""

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if self.reds_width is None:
            return super().forward(input)
        self._check_input_dim(input)
        return _nested_batch_norm(self, input)


_NESTED_CLASSES: dict[type, type] = {
    nn.Conv2d: NestedConv2d,
    nn.Linear: NestedLinear,
    nn.BatchNorm2d: NestedBatchNorm2d,
    nn.BatchNorm1d: NestedBatchNorm1d,
}
_NESTED_NORMS = (NestedBatchNorm2d, NestedBatchNorm1d)


class NestedModule(nn.Module):
    """A module planned by ``apply_plan``: ``set_level(i)`` makes ``forward`` compute level ``i`` of the plan
    (0 = the smallest, as the plan lists them), ``set_level(None)`` the full network (the default).

    ``module`` is the wrapped module itself, its units permuted; its ``state_dict`` loads into a fresh
    instance of its class (the full network, in the plan's unit order). ``level_widths[i]`` is level ``i``'s
    width of every layer of the plan, by name; ``plan`` the plan it applies.
    """

    def __init__(self, module: nn.Module, plan: Mapping[str, Any], level_widths: Sequence[Mapping[str, int]]):
        super().__init__()
        self.module = module
        self.plan = dict(plan)
        self.level_widths = [dict(widths) for widths in level_widths]
        self._level: Optional[int] = None

    @property
    def num_levels(self) -> int:
        """The plan's levels (the full network is not one of them)."""
        return len(self.level_widths)

    @property
    def level(self) -> Optional[int]:
        """The level ``forward`` computes; None for the full network."""
        return self._level

    def set_level(self, level: Optional[int]) -> None:
        """Selects level ``level`` (0 .. num_levels - 1, smallest first) or, with None, the full network.
        Only widths change: no parameter is copied or reallocated."""
        if level is not None and not (isinstance(level, int) and 0 <= level < self.num_levels):
            raise InvalidArgumentError(
                f"level {level!r} does not exist; the plan has levels 0 to {self.num_levels - 1} (None: the "
                "full network)"
            )
        for submodule in self.module.modules():
            if isinstance(submodule, _Nested):
                submodule.reds_width = None if level is None else submodule.reds_level_widths[level]
                submodule.reds_level = level
        self._level = level

    @contextmanager
    def at_level(self, level: Optional[int]) -> Iterator[NestedModule]:
        """``with nested.at_level(i):`` computes level ``i`` inside the block, the level before it after."""
        previous = self._level
        self.set_level(level)
        try:
            yield self
        finally:
            self.set_level(previous)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    def extra_repr(self) -> str:
        level = "full" if self._level is None else str(self._level)
        return f"levels={self.num_levels}, level={level}"


def _plan_dict(plan: Union[Mapping[str, Any], str, bytes]) -> Mapping[str, Any]:
    if isinstance(plan, (str, bytes)):
        plan = json.loads(plan)
    if not isinstance(plan, Mapping) or "order" not in plan or "levels" not in plan:
        raise InvalidArgumentError("a plan is the answer of reds.plan (a dict with 'order' and 'levels')")
    return plan


def _check_permutation(name: str, order: Sequence[int], units: int) -> list[int]:
    values = [int(unit) for unit in order]
    if sorted(values) != list(range(units)):
        raise InvalidArgumentError(
            f"the order of '{name}' is not a permutation of its {units} units", f"/order/{name}"
        )
    return values


def _group_orders(graph: Graph, orders: Mapping[str, Sequence[int]]) -> dict[int, torch.Tensor]:
    """One order per channel group: the one its members and tied layers repeat; the model's input keeps its
    own."""
    names = [layer.name for layer in graph.layers]
    missing = [name for name in names if name not in orders]
    if missing:
        raise InvalidArgumentError(
            f"the plan has no order for {missing}: it is a plan of another module", "/order"
        )
    unknown = sorted(set(orders) - set(names))
    if unknown:
        raise InvalidArgumentError(
            f"the plan orders {unknown}, which are not Conv2d or Linear layers of the module", "/order"
        )
    group_order: dict[int, list[int]] = {}
    named_by: dict[int, str] = {}
    for index, layer in enumerate(graph.layers):
        order = _check_permutation(layer.name, orders[layer.name], layer.units)
        group = graph.output_group(index)
        if group not in group_order:
            group_order[group], named_by[group] = order, layer.name
        elif order != group_order[group]:
            raise InvalidArgumentError(
                f"'{layer.name}' and '{named_by[group]}' share their channels (one stream, or a depthwise "
                "layer and its input), but the plan orders them differently",
                f"/order/{layer.name}",
            )
        if graph.groups.model_input[group] and order != sorted(order):
            raise InvalidArgumentError(
                f"'{layer.name}''s output is added to the module's input: it keeps the input's channel order",
                f"/order/{layer.name}",
            )
    return {group: torch.tensor(order, dtype=torch.long) for group, order in group_order.items()}


def _level_widths(graph: Graph, plan: Mapping[str, Any]) -> list[dict[str, int]]:
    widths = []
    for position, level in enumerate(plan["levels"]):
        given = level.get("widths")
        if not isinstance(given, Mapping):
            raise InvalidArgumentError(f"level {position} of the plan has no widths (status "
                                       f"{level.get('status')!r})", f"/levels/{position}")
        level_widths = {}
        for layer in graph.layers:
            width = given.get(layer.name)
            if not isinstance(width, int) or not 1 <= width <= layer.units:
                raise InvalidArgumentError(
                    f"level {position} gives '{layer.name}' width {width!r}, not one of 1..{layer.units}",
                    f"/levels/{position}/widths/{layer.name}",
                )
            level_widths[layer.name] = width
        first_of_group: dict[int, str] = {}
        for index, layer in enumerate(graph.layers):
            # Members of a stream and tied layers repeat one width, or the additions would not add.
            first = first_of_group.setdefault(graph.output_group(index), layer.name)
            if level_widths[layer.name] != level_widths[first]:
                raise InvalidArgumentError(
                    f"level {position} gives '{layer.name}' and '{first}', which share their channels, "
                    "different widths",
                    f"/levels/{position}/widths/{layer.name}",
                )
        widths.append(level_widths)
    return widths


def _permute(graph: Graph, group_orders: Mapping[int, torch.Tensor]) -> None:
    """Puts every layer's units, and the input channels of every layer reading them, in their group's
    order."""
    with torch.no_grad():
        for index, layer in enumerate(graph.layers):
            module = layer.module
            units = group_orders[graph.output_group(index)]
            channels = group_orders.get(graph.input_group(index))  # None: the module's input
            weight = module.weight[units]
            if channels is not None and not layer.depthwise:
                positions = graph.input_positions(index)
                # A Linear after flatten reads channel c's positions as features c * positions onwards.
                features = (channels[:, None] * positions + torch.arange(positions)).reshape(-1)
                weight = weight[:, features]
            module.weight.copy_(weight)
            if module.bias is not None:
                module.bias.copy_(module.bias[units])
            batch_norm = layer.batch_norm
            if batch_norm is not None:
                statistics = (batch_norm.running_mean, batch_norm.running_var)
                for tensor in (batch_norm.weight, batch_norm.bias, *statistics):
                    if tensor is not None:
                        tensor.copy_(tensor[units])


def _nest(graph: Graph, level_widths: Sequence[Mapping[str, int]]) -> None:
    """Makes every layer of the plan (and its batch norm) nested, with its width at every level."""
    for index, layer in enumerate(graph.layers):
        source = layer.input.source
        per_level = []
        for widths in level_widths:
            units = widths[layer.name]
            channels = layer.input.channels if source is None else widths[graph.layers[source].name]
            inputs = units if layer.depthwise else channels * graph.input_positions(index)
            per_level.append((units, inputs))
        modules = [(layer.name, layer.module, tuple(per_level))]
        if layer.batch_norm is not None:
            norm_widths = tuple((units, units) for units, _ in per_level)
            modules.append((layer.batch_norm_name, layer.batch_norm, norm_widths))
        for _, module, widths_per_level in modules:
            module.__class__ = _NESTED_CLASSES[type(module)]
            module.reds_level_widths = widths_per_level
            module.reds_width = None
            module.reds_level = None
            if isinstance(module, _NESTED_NORMS) and module.running_mean is not None:
                # Allocated here, before a DistributedDataParallel wrapper lists the buffers it broadcasts.
                shape = (len(widths_per_level), module.num_features)
                module.register_buffer(_LEVEL_MEAN, module.running_mean.new_zeros(shape), persistent=False)
                module.register_buffer(_LEVEL_VAR, module.running_var.new_ones(shape), persistent=False)
                # Bytes, not booleans: gloo broadcasts no boolean tensors.
                module.register_buffer(
                    _LEVEL_CALIBRATED,
                    torch.zeros(len(widths_per_level), dtype=torch.uint8, device=module.running_mean.device),
                    persistent=False,
                )


def _check_modules(graph: Graph) -> None:
    seen: dict[int, str] = {}
    for layer in graph.layers:
        for name, module in ((layer.name, layer.module), (layer.batch_norm_name, layer.batch_norm)):
            if module is None:
                continue
            if type(module) not in _NESTED_CLASSES:
                raise InvalidArgumentError(
                    f"'{name}' is a {type(module).__name__}; apply_plan nests torch's own Conv2d, Linear and "
                    "BatchNorm classes, whose forward it knows")
            if id(module) in seen:
                raise InvalidArgumentError(
                    f"'{name}' runs twice in the forward pass (also as '{seen[id(module)]}'); one module "
                    "cannot take two places of the plan"
                )
            seen[id(module)] = name


def apply_plan(
    module: nn.Module, plan: Union[Mapping[str, Any], str, bytes], example_input: torch.Tensor
) -> NestedModule:
    """Applies a plan of ``module`` (``reds.plan``'s answer to ``plan_request(module, example_input)``, or
    its JSON text): permutes its units in place into the plan's order, so that the full network computes
    what it computed before (up to float rounding), and returns the ``NestedModule`` that runs any level of
    the plan on prefixes of the same parameters.

    Every ``Conv2d`` and ``Linear`` of the plan takes its group's order (one per stream: the members whose
    outputs an addition adds, and the depthwise layers that follow them), with its bias and the batch norm
    after it; every layer reading a group takes its input channels in that order (a ``Linear`` after
    ``flatten``: each channel's features). Their classes become ``NestedConv2d``, ``NestedLinear`` and
    ``NestedBatchNorm2d``/``1d`` (subclasses, so ``isinstance`` holds), which keep their parameters.

    Apply before creating an optimizer: its state (momentum) would not follow the permutation. Raises
    ``reds.InvalidArgumentError`` for a plan of another module, orders or widths that break its streams, and
    a module the request cannot describe.
    """
    plan = _plan_dict(plan)
    graph = trace(module, example_input)
    _check_modules(graph)
    group_orders = _group_orders(graph, plan["order"])
    level_widths = _level_widths(graph, plan)
    _permute(graph, group_orders)
    _nest(graph, level_widths)
    return NestedModule(module, plan, level_widths)


class _Calibrated(Exception):
    """Ends a calibration pass at the batch norm it measures: nothing after it is needed."""


def _nested_module(model: nn.Module) -> NestedModule:
    inner = model
    while not isinstance(inner, NestedModule) and isinstance(getattr(inner, "module", None), nn.Module):
        inner = inner.module  # a DistributedDataParallel (or similar) wrapper
    if not isinstance(inner, NestedModule):
        raise InvalidArgumentError(f"{type(model).__name__} is not a planned module: apply_plan gives one")
    return inner


def _calibration_inputs(batches: Iterable[Any], images: int, device: torch.device) -> list[torch.Tensor]:
    inputs: list[torch.Tensor] = []
    seen = 0
    for batch in batches:
        first = batch[0] if isinstance(batch, (tuple, list)) else batch
        taken = first[: images - seen]
        if len(taken):
            inputs.append(taken.to(device))
            seen += len(taken)
        if seen >= images:
            break
    if seen == 0:
        raise InvalidArgumentError("no images to calibrate on: the batches are empty")
    return inputs


@torch.no_grad()
def calibrate_levels(model: nn.Module, batches: Iterable[Any], *, images: int = 512) -> int:
    """Gives every level but the largest its own batch-norm statistics (switchable batch norm, as slimmable
    networks have): the mean and variance of each batch norm's input at that level on the first ``images``
    inputs of ``batches`` (a ``DataLoader`` of (inputs, targets), or of inputs), measured in evaluation mode
    with the batch norms before it already normalising with theirs, which is what the level computes
    afterwards. ``model`` is a ``NestedModule`` or it wrapped in ``DistributedDataParallel``; in a process
    group, the statistics are over every process's ``images`` (summed across them), the same on each.

    A calibrated level normalises with its statistics in evaluation mode, as ``finetune`` trains by default
    (batch norms frozen), and ``extract_level``/``export_level`` write them as the level's running
    statistics; the largest level and the full network keep the running statistics they were trained with.
    The statistics are buffers of the batch norms, broadcast by DDP, but not in the module's
    ``state_dict``: calibrate again after loading weights. Batch norms without running statistics
    (``track_running_stats=False``) normalise with their batch statistics at every level and are left out.
    Returns how many images this process calibrated on (fewer than ``images`` when ``batches`` end
    first). Raises ``reds.InvalidArgumentError`` for a module without such batch norms or no images."""
    nested = _nested_module(model)
    if not (isinstance(images, int) and images >= 1):
        raise InvalidArgumentError(f"images must be a positive count, got {images!r}")
    norms = [module for module in nested.module.modules() if hasattr(module, _LEVEL_CALIBRATED)]
    if not norms:
        raise InvalidArgumentError(
            "the plan's layers have no batch norm with running statistics: nothing to calibrate"
        )
    device = norms[0].running_mean.device
    inputs = _calibration_inputs(batches, images, device)
    distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
    previous_level, training = nested.level, nested.training
    nested.eval()
    try:
        for level in range(nested.num_levels - 1):
            nested.set_level(level)
            for norm in norms:
                getattr(norm, _LEVEL_CALIBRATED)[level] = 0
            for norm in _call_order(nested, norms, inputs[0]):
                # Sums of (x - shift) and its square in double precision, shifted by the running mean
                # against cancellation; summed over the processes, then one mean and variance.
                units = norm.reds_level_widths[level][0]
                shift = norm.running_mean[:units].double()
                sums = torch.zeros(2, units, dtype=torch.float64, device=device)
                count = torch.zeros(1, dtype=torch.float64, device=device)

                def measure(_module: nn.Module, arguments: tuple[torch.Tensor, ...]) -> None:
                    values = arguments[0].double().transpose(0, 1).reshape(units, -1) - shift[:, None]
                    sums[0] += values.sum(dim=1)
                    sums[1] += values.square().sum(dim=1)
                    count[0] += values.shape[1]
                    raise _Calibrated

                handle = norm.register_forward_pre_hook(measure)
                try:
                    for batch in inputs:
                        try:
                            nested(batch)
                        except _Calibrated:
                            pass
                finally:
                    handle.remove()
                if distributed:
                    torch.distributed.all_reduce(sums)
                    torch.distributed.all_reduce(count)
                mean = sums[0] / count
                getattr(norm, _LEVEL_MEAN)[level, :units] = (shift + mean).to(norm.running_mean.dtype)
                variance = (sums[1] / count - mean.square()).clamp(min=0.0)
                getattr(norm, _LEVEL_VAR)[level, :units] = variance.to(norm.running_var.dtype)
                getattr(norm, _LEVEL_CALIBRATED)[level] = 1
    finally:
        nested.set_level(previous_level)
        nested.train(training)
    return sum(len(batch) for batch in inputs)


def _call_order(nested: NestedModule, norms: Sequence[nn.Module], example: torch.Tensor) -> list[nn.Module]:
    """``norms`` in the order the forward pass calls them (each one's statistics depend on those before)."""
    called: list[nn.Module] = []
    handles = [norm.register_forward_pre_hook(lambda module, _: called.append(module)) for norm in norms]
    try:
        nested(example[:1])
    finally:
        for handle in handles:
            handle.remove()
    return called


def extract_level(nested: NestedModule, level: Optional[int]) -> nn.Module:
    """A standalone copy of level ``level`` (None: the full network): the wrapped module with every layer of
    the plan cut to the level's units (its own, smaller parameters, copied) and torch's own layer classes
    again, so it runs, saves and exports like any module. A level calibrated by ``calibrate_levels`` gives
    its batch norms its own statistics as their running ones."""
    if level is not None and not (isinstance(level, int) and 0 <= level < nested.num_levels):
        raise InvalidArgumentError(
            f"level {level!r} does not exist; the plan has levels 0 to {nested.num_levels - 1}"
        )
    copied = copy.deepcopy(nested.module)
    with torch.no_grad():
        for submodule in copied.modules():
            if not isinstance(submodule, _Nested):
                continue
            width = None if level is None else submodule.reds_level_widths[level]
            submodule.reds_level = level
            statistics = _level_statistics(submodule)
            if statistics is not None:
                submodule.running_mean.copy_(statistics[0])  # type: ignore[operator]
                submodule.running_var.copy_(statistics[1])  # type: ignore[operator]
            for name in (_LEVEL_MEAN, _LEVEL_VAR, _LEVEL_CALIBRATED):
                submodule._buffers.pop(name, None)
            submodule.__class__ = next(base for base, nested_class in _NESTED_CLASSES.items()
                                       if type(submodule) is nested_class)
            for attribute in ("reds_level_widths", "reds_width", "reds_level"):
                submodule.__dict__.pop(attribute, None)
            if width is not None:
                _narrow(submodule, *width)
    return copied


def _cut(parameter: Optional[torch.Tensor], *slices: slice) -> Optional[nn.Parameter]:
    if parameter is None:
        return None
    return nn.Parameter(parameter[slices].clone(), requires_grad=parameter.requires_grad)


def _narrow(module: nn.Module, units: int, inputs: int) -> None:
    if isinstance(module, nn.Conv2d):
        if module.groups > 1:
            module.weight = _cut(module.weight, slice(units))
            module.in_channels = module.groups = units
        else:
            module.weight = _cut(module.weight, slice(units), slice(inputs))
            module.in_channels = inputs
        module.out_channels = units
        module.bias = _cut(module.bias, slice(units))
    elif isinstance(module, nn.Linear):
        module.weight = _cut(module.weight, slice(units), slice(inputs))
        module.bias = _cut(module.bias, slice(units))
        module.in_features, module.out_features = inputs, units
    else:  # batch norm
        module.weight = _cut(module.weight, slice(units))
        module.bias = _cut(module.bias, slice(units))
        for name in ("running_mean", "running_var"):
            buffer = getattr(module, name)
            if buffer is not None:
                setattr(module, name, buffer[:units].clone())
        module.num_features = units


def export_level(
    nested: NestedModule, level: Optional[int], example_input: torch.Tensor, path: Any, **export_options: Any
) -> None:
    """Writes level ``level`` (None: the full network) to ``path`` as ONNX with ``torch.onnx.export``, in
    evaluation mode: a model of exactly the level's units (``extract_level``), which ``reds run``, the
    engine and any ONNX runtime read. ``export_options`` go to ``torch.onnx.export``; by default opset 13
    and the names ``input`` and ``output``."""
    standalone = extract_level(nested, level).eval()
    options = {"opset_version": 13, "input_names": ["input"], "output_names": ["output"], **export_options}
    with torch.no_grad():
        torch.onnx.export(standalone, example_input, path, **options)
