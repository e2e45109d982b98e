"""reds.torch.apply_plan, NestedModule, extract_level and export_level (python/reds/_torch_levels.py): the
permuted full network against the module before, every level against the unpermuted module with the
level's pruned channels masked out, and against the C++ engine's levels of the same plan (`reds apply` on
the module's ONNX export, `reds run --outputs`), and exported levels read back by the engine."""

from __future__ import annotations

import copy
import json
import pathlib
import struct
from typing import Any

import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
pytest.importorskip("onnx")  # torch.onnx.export needs it

import reds  # noqa: E402
import reds.torch  # noqa: E402
from conftest import cli_plan, run  # noqa: E402
from torch import nn  # noqa: E402
from torch_models import MODELS, randomised  # noqa: E402

IMAGES = 6


def planned(model: str, fractions: tuple[float, ...] = (0.3, 0.6)) -> tuple[Any, Any, Any, dict, dict]:
    """(the module planned and applied, a copy of it before, a batch of inputs, the request, the plan)."""
    build, shape = MODELS[model]
    module = randomised(build())
    original = copy.deepcopy(module)
    inputs = torch.rand(IMAGES, *shape[1:], generator=torch.Generator().manual_seed(3))
    request = reds.torch.plan_request(module, inputs[:1], levels=fractions)
    plan = reds.plan(request)
    nested = reds.torch.apply_plan(module, plan, inputs[:1])
    return nested, original, inputs, request, plan


def outputs(module: Any, inputs: Any) -> Any:
    with torch.no_grad():
        return module(inputs)


def masked(original: Any, request: dict, plan: dict, level: int) -> Any:
    """The unpermuted module computing `level`: every layer's input weights of the channels its input layer
    (the contract's k_in: `input`, else the previous layer) does not keep at that level are zero, so those
    channels, whatever they hold, reach no kept unit and no output."""
    module = copy.deepcopy(original)
    layers = request["network"]["layers"]
    widths = plan["levels"][level]["widths"]
    submodules = dict(module.named_modules())
    with torch.no_grad():
        for position, layer in enumerate(layers):
            if position == 0 or layer.get("tied"):
                continue  # reads the model's input, or only its own channel
            source = layer.get("input", layers[position - 1]["name"])
            dropped = plan["order"][source][widths[source]:]
            weight = submodules[layer["name"]].weight
            positions = weight.shape[1] // next(entry["units"] for entry in layers if entry["name"] == source)
            for channel in dropped:
                weight[:, channel * positions:(channel + 1) * positions] = 0
    return module


@pytest.mark.parametrize("model", list(MODELS))
def test_permuted_full_network_computes_what_the_module_computed(model: str) -> None:
    nested, original, inputs, _, _ = planned(model)
    assert nested.level is None
    expected = outputs(original, inputs)
    torch.testing.assert_close(outputs(nested, inputs), expected, rtol=1e-5, atol=1e-5)
    # The units really moved: some weights differ from the original's.
    moved = [name for name, parameter in nested.module.named_parameters()
             if not torch.equal(parameter, dict(original.named_parameters())[name])]
    assert moved


@pytest.mark.parametrize("model", list(MODELS))
def test_every_level_equals_the_masked_unpermuted_module(model: str) -> None:
    nested, original, inputs, request, plan = planned(model)
    assert nested.num_levels == 2
    for level in range(nested.num_levels):
        nested.set_level(level)
        expected = outputs(masked(original, request, plan, level), inputs)
        torch.testing.assert_close(outputs(nested, inputs), expected, rtol=1e-5, atol=1e-5)
    # Levels differ from each other and from the full network.
    nested.set_level(0)
    smallest = outputs(nested, inputs)
    nested.set_level(None)
    assert not torch.allclose(smallest, outputs(nested, inputs), atol=1e-3)


def test_levels_compute_on_the_same_parameters_without_copies() -> None:
    nested, _, inputs, _, plan = planned("resnet8")
    parameters = {name: (parameter, parameter.data_ptr()) for name, parameter in nested.named_parameters()}
    conv = nested.module.stages[1].conv1
    assert isinstance(conv, reds.torch.NestedConv2d) and isinstance(conv, nn.Conv2d)
    nested.set_level(0)
    width = plan["levels"][0]["widths"]["stages.1.conv1"]
    assert conv.reds_width[0] == width < conv.out_channels
    # A forward pass at a level reads views of the parameters: the convolution gets a slice of its weight.
    seen = []
    original_conv2d = torch.nn.functional.conv2d

    def spy(input: Any, weight: Any, *args: Any) -> Any:
        seen.append(weight)
        return original_conv2d(input, weight, *args)

    torch.nn.functional.conv2d = spy
    try:
        outputs(nested, inputs)
    finally:
        torch.nn.functional.conv2d = original_conv2d
    assert any(weight.shape[0] == width and weight.data_ptr() == conv.weight.data_ptr() for weight in seen)
    assert seen and all(weight._base is not None for weight in seen)  # every one a view at this level
    for name, parameter in nested.named_parameters():
        assert parameters[name][0] is parameter and parameters[name][1] == parameter.data_ptr()
    # The gradients of a level reach exactly the prefixes it computes with.
    nested.train()
    nested.zero_grad()
    outputs_at_level = nested(inputs)
    outputs_at_level.sum().backward()
    assert conv.weight.grad[:width].abs().sum() > 0
    assert conv.weight.grad[width:].abs().sum() == 0


def test_a_level_in_training_mode_updates_the_prefix_of_the_batch_norm_statistics() -> None:
    nested, _, inputs, _, plan = planned("resnet8")
    norm = nested.module.stages[1].bn1
    width = plan["levels"][0]["widths"]["stages.1.conv1"]
    before = norm.running_mean.clone()
    nested.train()
    nested.set_level(0)
    outputs(nested, inputs)
    assert not torch.equal(norm.running_mean[:width], before[:width])
    assert torch.equal(norm.running_mean[width:], before[width:])
    assert int(norm.num_batches_tracked) == 1


def test_set_level_checks_its_level_and_at_level_restores_it() -> None:
    nested, _, inputs, _, _ = planned("small_cnn")
    with pytest.raises(reds.InvalidArgumentError, match="level 2 does not exist"):
        nested.set_level(2)
    nested.set_level(1)
    with nested.at_level(0):
        assert nested.level == 0
    assert nested.level == 1
    assert "levels=2, level=1" in repr(nested)


def test_extracted_level_is_a_plain_module_of_the_levels_units() -> None:
    nested, _, inputs, _, plan = planned("resnet8")
    for level in range(nested.num_levels):
        nested.set_level(level)
        cut = reds.torch.extract_level(nested, level).eval()
        torch.testing.assert_close(outputs(cut, inputs), outputs(nested.eval(), inputs), rtol=0, atol=0)
        convolution = cut.stages[2].conv2
        assert type(convolution) is nn.Conv2d
        assert convolution.out_channels == plan["levels"][level]["widths"]["stages.2.conv2"]
        assert cut.stages[2].bn2.running_mean.shape == (convolution.out_channels,)
    full = reds.torch.extract_level(nested, None)
    assert sum(parameter.numel() for parameter in full.parameters()) == sum(
        parameter.numel() for parameter in nested.parameters())


def reference_calibration(standalone: Any, images: Any) -> Any:
    """An independent calibration of a standalone level: batch norm after batch norm in the order the
    forward pass calls them, its running statistics set to the population mean and variance of its input
    over all images at once, computed with the ones before it set."""
    norms = [module for module in standalone.modules() if isinstance(module, nn.BatchNorm2d)]
    order: list[Any] = []
    handles = [norm.register_forward_pre_hook(lambda module, _: order.append(module)) for norm in norms]
    outputs(standalone.eval(), images[:1])
    for handle in handles:
        handle.remove()
    for norm in order:
        seen: list[Any] = []
        handle = norm.register_forward_pre_hook(lambda _, arguments: seen.append(arguments[0]))
        outputs(standalone, images)
        handle.remove()
        variance, mean = torch.var_mean(seen[0].double(), dim=(0, 2, 3), unbiased=False)
        norm.running_mean.copy_(mean)
        norm.running_var.copy_(variance)
    return standalone


@pytest.mark.parametrize("model", ["resnet8", "mobilenet_v2"])
def test_calibrated_levels_normalise_with_the_statistics_of_their_own_inputs(model: str) -> None:
    nested, _, _, _, _ = planned(model, fractions=(0.3, 0.6, 1.0))
    shape = MODELS[model][1]
    images = torch.rand(14, *shape[1:], generator=torch.Generator().manual_seed(5))
    batches = [(images[start:start + 5], torch.zeros(5)) for start in range(0, 14, 5)]
    uncalibrated = copy.deepcopy(nested)
    expected = [reference_calibration(reds.torch.extract_level(uncalibrated, level), images[:12])
                for level in range(nested.num_levels - 1)]
    assert reds.torch.calibrate_levels(nested, batches, images=12) == 12  # 5 + 5 + 2 images
    for level, reference in enumerate(expected):
        ours = reds.torch.extract_level(nested, level).eval()
        for (name, theirs), mine in zip(reference.named_buffers(), ours.buffers()):
            if name.endswith(("running_mean", "running_var")):
                torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-5, msg=name)
        nested.set_level(level)
        torch.testing.assert_close(outputs(nested.eval(), images), outputs(reference, images),
                                   rtol=1e-4, atol=1e-4)
        uncalibrated.set_level(level)
        assert not torch.allclose(outputs(nested, images), outputs(uncalibrated.eval(), images), atol=1e-3)
    # The largest level and the full network keep the statistics they were trained with.
    for level in (nested.num_levels - 1, None):
        nested.set_level(level)
        uncalibrated.set_level(level)
        torch.testing.assert_close(outputs(nested, images), outputs(uncalibrated, images), rtol=0, atol=0)
    # Not in the wrapped module's state_dict, which still loads into its own class.
    fresh = MODELS[model][0]()
    fresh.load_state_dict(nested.module.state_dict(), strict=True)
    # In training mode a level normalises with its batch statistics, as before (same dropout masks).
    results = []
    for module in (nested, uncalibrated):
        module.train()
        module.set_level(0)
        torch.manual_seed(0)
        results.append(outputs(module, images))
    torch.testing.assert_close(results[0], results[1], rtol=0, atol=0)


def test_calibration_refuses_what_it_cannot_calibrate() -> None:
    nested, _, inputs, _, _ = planned("resnet8")
    with pytest.raises(reds.InvalidArgumentError, match="positive count"):
        reds.torch.calibrate_levels(nested, [inputs], images=0)
    with pytest.raises(reds.InvalidArgumentError, match="batches are empty"):
        reds.torch.calibrate_levels(nested, [])
    with pytest.raises(reds.InvalidArgumentError, match="not a planned module"):
        reds.torch.calibrate_levels(randomised(MODELS["resnet8"][0]()), [inputs])
    chain = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    example = torch.rand(1, 1, 6, 6)
    chained = reds.torch.apply_plan(chain, reds.plan(reds.torch.plan_request(chain, example, levels=(0.5,))),
                                    example)
    with pytest.raises(reds.InvalidArgumentError, match="nothing to calibrate"):
        reds.torch.calibrate_levels(chained, [example])
    # Nothing changed on the refused calls.
    before = outputs(nested.eval(), inputs)
    nested.set_level(None)
    torch.testing.assert_close(outputs(nested, inputs), before, rtol=0, atol=0)


def test_plan_of_another_module_or_breaking_a_stream_is_an_error() -> None:
    nested, _, inputs, _, plan = planned("resnet8")
    with pytest.raises(reds.InvalidArgumentError, match="no order for"):
        reds.torch.apply_plan(randomised(MODELS["small_cnn"][0]()), plan, torch.rand(1, 1, 16, 16))
    broken = copy.deepcopy(plan)
    order = broken["order"]["stages.0.conv2"]
    order[0], order[1] = order[1], order[0]
    with pytest.raises(reds.InvalidArgumentError, match="share their channels") as error:
        reds.torch.apply_plan(randomised(MODELS["resnet8"][0]()), broken, inputs[:1])
    assert error.value.path == "/order/stages.0.conv2"


# The C++ side: the same module exported to ONNX, planned with the same plan under the exported names.


def write_images(directory: pathlib.Path, inputs: Any) -> None:
    """The inputs as an IDX test set (bytes x / 255 as the engine reads them by default, NHWC), labels 0."""
    count, channels, height, width = inputs.shape
    pixels = torch.round(inputs * 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()
    directory.mkdir(exist_ok=True)
    if channels == 1:
        header = struct.pack(">BBBBIII", 0, 0, 8, 3, count, height, width)
        name = "t10k-images-idx3-ubyte"
    else:
        header = struct.pack(">BBBBIIII", 0, 0, 8, 4, count, height, width, channels)
        name = "t10k-images-idx4-ubyte"
    (directory / name).write_bytes(header + pixels.numpy().tobytes())
    labels = struct.pack(">BBBBI", 0, 0, 8, 1, count) + bytes(count)
    (directory / "t10k-labels-idx1-ubyte").write_bytes(labels)


def engine_outputs(reds_command: pathlib.Path, model_file: pathlib.Path, data: pathlib.Path) -> list[Any]:
    """Per level of the model's plan (one for a model without a plan), its outputs for every image."""
    result = run([reds_command, "run", model_file, "--data", data, "--json", "--outputs"])
    assert result.returncode == 0, result.stderr
    return [torch.tensor(json.loads(line)["outputs"]) for line in result.stdout.splitlines()]


def renamed(value: Any, names: dict[str, str]) -> Any:
    """The plan with every layer name (a key anywhere in it) replaced through `names`."""
    if isinstance(value, dict):
        return {names.get(key, key): renamed(item, names) for key, item in value.items()}
    if isinstance(value, list):
        return [renamed(item, names) for item in value]
    return value


@pytest.mark.parametrize("model", list(MODELS))
def test_levels_equal_the_engines_levels_of_the_same_plan(
    reds_command: pathlib.Path, tmp_path: pathlib.Path, model: str
) -> None:
    nested, original, inputs, request, plan = planned(model)
    inputs = torch.round(inputs * 255) / 255  # exactly the bytes the engine reads
    onnx_file = tmp_path / "model.onnx"
    torch.onnx.export(original, inputs[:1], str(onnx_file), opset_version=13)
    result = run([reds_command, "request", onnx_file])
    assert result.returncode == 0, result.stderr
    exported_layers = json.loads(result.stdout)["network"]["layers"]
    names = {ours["name"]: theirs["name"]
             for ours, theirs in zip(request["network"]["layers"], exported_layers)}
    (tmp_path / "plan.json").write_text(json.dumps(renamed(plan, names)))
    result = run([reds_command, "apply", onnx_file, tmp_path / "plan.json", "-o", tmp_path / "planned.reds"])
    assert result.returncode == 0, result.stderr
    write_images(tmp_path / "data", inputs)

    engine = engine_outputs(reds_command, tmp_path / "planned.reds", tmp_path / "data")
    assert len(engine) == nested.num_levels
    for level, expected in enumerate(engine):
        nested.set_level(level)
        torch.testing.assert_close(outputs(nested, inputs), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("model", list(MODELS))
def test_exported_level_reads_back_in_the_engine_as_the_level(
    reds_command: pathlib.Path, tmp_path: pathlib.Path, model: str
) -> None:
    nested, _, inputs, _, plan = planned(model)
    inputs = torch.round(inputs * 255) / 255
    write_images(tmp_path / "data", inputs)
    for level in (0, None):
        path = tmp_path / f"level{level}.onnx"
        reds.torch.export_level(nested, level, inputs[:1], path)
        [expected] = engine_outputs(reds_command, path, tmp_path / "data")
        nested.set_level(level)
        torch.testing.assert_close(outputs(nested, inputs), expected, rtol=1e-4, atol=1e-4)
        if level is not None:
            # The file has the level's units: the engine's request of it has the level's widths.
            result = run([reds_command, "request", path])
            assert result.returncode == 0, result.stderr
            units = [layer["units"] for layer in json.loads(result.stdout)["network"]["layers"]]
            assert units == [plan["levels"][level]["widths"][name] for name in plan["order"]]


def test_exported_calibrated_level_reads_back_in_the_engine_with_its_statistics(
    reds_command: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    nested, _, inputs, _, _ = planned("resnet8")
    inputs = torch.round(inputs * 255) / 255
    write_images(tmp_path / "data", inputs)
    reds.torch.calibrate_levels(nested, [(inputs, None)])
    path = tmp_path / "level0.onnx"
    reds.torch.export_level(nested, 0, inputs[:1], path)
    [expected] = engine_outputs(reds_command, path, tmp_path / "data")
    nested.set_level(0)
    torch.testing.assert_close(outputs(nested.eval(), inputs), expected, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("model", list(MODELS))
def test_plan_of_the_torch_request_equals_the_commands(reds_command: pathlib.Path, model: str) -> None:
    _, _, _, request, plan = planned(model)
    result = cli_plan(reds_command, json.dumps(request))
    assert result.returncode == 0, result.stderr
    expected = json.loads(result.stdout)

    def normalised(answer: dict) -> str:
        return json.dumps({key: value for key, value in answer.items() if key != "solve_seconds"},
                          sort_keys=True)

    assert normalised(plan) == normalised(expected)


def test_levels_train_inside_distributed_data_parallel(tmp_path: pathlib.Path) -> None:
    """One process of gloo: DistributedDataParallel over the nested module gives every level the gradients
    the nested module alone gives, on the same Parameter objects."""
    distributed = torch.distributed
    if not distributed.is_available():
        pytest.skip("torch.distributed is not available")
    nested, _, inputs, _, _ = planned("resnet8")
    alone = copy.deepcopy(nested)
    distributed.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        parallel = torch.nn.parallel.DistributedDataParallel(nested.train())
        alone.train()
        for level in (0, 1, None):
            parallel.module.set_level(level)
            alone.set_level(level)
            parallel.zero_grad()
            alone.zero_grad()
            parallel(inputs).square().mean().backward()
            alone(inputs).square().mean().backward()
            for (name, ours), theirs in zip(nested.named_parameters(), alone.parameters()):
                torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-5, atol=1e-7, msg=name)
    finally:
        distributed.destroy_process_group()
    assert all(ours is theirs for ours, theirs in zip(parallel.module.parameters(), nested.parameters()))
