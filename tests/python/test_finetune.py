"""reds.torch's joint fine-tuning (python/reds/_finetune.py): the reference's loss weights, the joint loss
and its gradient against every level run on its own, distillation, frozen batch norm, and two processes
fine-tuning in DistributedDataParallel against one process over the same global batches."""

from __future__ import annotations

import gzip
import math
import os
import pathlib
import socket
import subprocess
import sys
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")  # torch_models, which the worker's ResNet-8 comes from

import reds  # noqa: E402
import reds.torch  # noqa: E402
import torch.nn.functional as functional  # noqa: E402
from finetune_worker import CONFIGURATIONS, LEARNING_RATE, level_statistics, planned_resnet8  # noqa: E402
from leveled_models import global_batches, seeded_model  # noqa: E402
from torch import nn  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
SOURCE_DIR = HERE.parents[1]


def gradients(model: nn.Module) -> dict[str, torch.Tensor]:
    return {name: parameter.grad.clone() for name, parameter in model.named_parameters()}


# The reference's weights.


def test_reference_weights_are_normalised_square_roots_of_parameter_shares() -> None:
    assert reds.torch.reference_level_weights([25, 100]) == pytest.approx([1 / 3, 2 / 3])
    assert reds.torch.reference_level_weights([100]) == [1.0]
    counts = [250, 490, 1000]
    roots = [math.sqrt(count / 1000) for count in counts]
    assert reds.torch.reference_level_weights(counts) == pytest.approx([root / sum(roots) for root in roots])


def test_reference_weights_of_a_plan_weight_its_levels_by_their_parameters() -> None:
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 6 * 6, 10))
    answer = reds.plan(reds.torch.plan_request(model, torch.randn(1, 1, 8, 8), levels=(0.25, 0.5, 1.0)))
    counts = [level["cost"]["params"] for level in answer["levels"]]
    assert counts[-1] == sum(parameter.numel() for parameter in model.parameters())
    assert counts[0] < counts[1] < counts[2]
    assert reds.torch.reference_level_weights(answer) == reds.torch.reference_level_weights(counts)
    with pytest.raises(reds.InvalidArgumentError, match="'latency'"):
        reds.torch.reference_level_weights(answer, resource="latency")


@pytest.mark.parametrize("counts", [[], [0, 10], [10, -1], [float("nan"), 10]])
def test_reference_weights_refuse_empty_or_non_positive_sizes(counts: list[float]) -> None:
    with pytest.raises(reds.InvalidArgumentError):
        reds.torch.reference_level_weights(counts)


# The joint loss and its gradient.


def test_joint_loss_is_the_weighted_sum_of_every_level_run_alone() -> None:
    model = seeded_model()
    images, labels = global_batches(1, 16)[0]
    weights = [0.2, 0.3, 0.5]
    separate = []
    expected_total = 0.0
    expected_gradients: dict[str, torch.Tensor] = {}
    for level in range(model.num_levels):
        model.zero_grad()
        model.set_level(level)
        loss = functional.cross_entropy(model(images), labels)
        (weights[level] * loss).backward()
        separate.append(float(loss))
        expected_total += weights[level] * float(loss)
        for name, gradient in gradients(model).items():
            expected_gradients[name] = expected_gradients.get(name, 0) + gradient
    model.zero_grad()
    model.set_level(1)
    result = reds.torch.joint_loss(model, images, labels, weights)
    result.total.backward()
    assert model.level == 1  # restored
    assert result.losses == pytest.approx(separate, rel=1e-6)
    assert float(result.total) == pytest.approx(expected_total, rel=1e-6)
    for level in range(model.num_levels):
        model.set_level(level)
        assert result.correct[level] == int((model(images).argmax(1) == labels).sum())
    for name, gradient in gradients(model).items():
        torch.testing.assert_close(gradient, expected_gradients[name], rtol=1e-5, atol=1e-7)
    # Units past the smallest level's widths learn from the larger levels only, but they do learn.
    assert model.conv1.weight.grad[2:].abs().sum() > 0


def test_distillation_mixes_each_smaller_levels_loss_with_the_full_levels_detached_soft_outputs() -> None:
    model = seeded_model()
    images, labels = global_batches(1, 16)[0]
    weights = reds.torch.reference_level_weights(model.level_parameter_counts())
    distillation = reds.torch.Distillation(temperature=3.0, weight=0.25)
    model.set_level(2)
    full = model(images)
    teacher = full.detach()
    expected = weights[2] * functional.cross_entropy(full, labels)
    for level in (0, 1):
        model.set_level(level)
        student = model(images)
        soft = functional.kl_div(functional.log_softmax(student / 3.0, 1),
                                 functional.softmax(teacher / 3.0, 1), reduction="batchmean")
        hard = functional.cross_entropy(student, labels)
        expected = expected + weights[level] * (0.75 * hard + 0.25 * 9 * soft)
    model.zero_grad()
    expected.backward()
    expected_gradients = gradients(model)
    model.zero_grad()
    result = reds.torch.joint_loss(model, images, labels, weights, distillation=distillation)
    result.total.backward()
    assert float(result.total) == pytest.approx(float(expected), rel=1e-6)
    for name, gradient in gradients(model).items():
        torch.testing.assert_close(gradient, expected_gradients[name], rtol=1e-5, atol=1e-7)
    # The soft term changes the loss; without weight it is no distillation at all.
    plain = reds.torch.joint_loss(model, images, labels, weights)
    assert float(plain.total) != pytest.approx(float(result.total), rel=1e-3)
    unweighted = reds.torch.joint_loss(model, images, labels, weights,
                                       distillation=reds.torch.Distillation(weight=0.0))
    assert float(unweighted.total) == pytest.approx(float(plain.total), rel=1e-7)


@pytest.mark.parametrize("temperature,weight", [(0.0, 0.5), (-1.0, 0.5), (float("inf"), 0.5), (1.0, 1.5),
                                                (1.0, -0.1)])
def test_distillation_refuses_non_positive_temperatures_and_weights_outside_zero_one(
    temperature: float, weight: float
) -> None:
    with pytest.raises(reds.InvalidArgumentError):
        reds.torch.Distillation(temperature=temperature, weight=weight)


def test_joint_loss_refuses_models_without_levels_and_weights_of_another_count() -> None:
    images, labels = global_batches(1, 4)[0]
    with pytest.raises(reds.InvalidArgumentError, match="set_level"):
        reds.torch.joint_loss(nn.Linear(36, 3), images.flatten(1), labels, [1.0])
    with pytest.raises(reds.InvalidArgumentError, match="2 loss weights for 3 levels"):
        reds.torch.joint_loss(seeded_model(), images, labels, [0.5, 0.5])


# Fine-tuning.


def test_finetune_freezes_batch_norm_statistics_and_lowers_every_levels_loss() -> None:
    model = seeded_model()
    statistics = (model.bn1.running_mean.clone(), model.bn1.running_var.clone())
    scale = model.bn1.weight.detach().clone()
    batches = global_batches(40, 32)
    weights = reds.torch.reference_level_weights(model.level_parameter_counts())
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    losses: list[list[float]] = []
    steps = reds.torch.finetune(model, batches, optimizer, weights, epochs=2,
                                on_step=lambda step, result: losses.append(result.losses))
    assert steps == 80 and len(losses) == 80
    assert not model.training and model.level == model.num_levels - 1  # as it was
    torch.testing.assert_close(model.bn1.running_mean, statistics[0], rtol=0, atol=0)
    torch.testing.assert_close(model.bn1.running_var, statistics[1], rtol=0, atol=0)
    assert not torch.equal(model.bn1.weight, scale)  # its scale trains
    for level in range(model.num_levels):
        first = sum(loss[level] for loss in losses[:10]) / 10
        last = sum(loss[level] for loss in losses[-10:]) / 10
        assert last < 0.8 * first, (level, first, last)
    accuracies = reds.torch.evaluate_levels(model, batches[:5])
    assert len(accuracies) == 3 and all(accuracy > 0.5 for accuracy in accuracies)


def test_finetune_with_batch_norm_training_updates_its_statistics() -> None:
    model = seeded_model()
    statistics = model.bn1.running_mean.clone()
    weights = reds.torch.reference_level_weights(model.level_parameter_counts())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    reds.torch.finetune(model, global_batches(2, 8), optimizer, weights, batch_norm_frozen=False)
    assert not torch.equal(model.bn1.running_mean, statistics)


def test_evaluate_levels_counts_each_levels_right_answers_and_restores_the_mode() -> None:
    model = seeded_model()
    model.train()
    batches = global_batches(3, 10)
    expected = [0] * 3
    model.eval()
    for images, labels in batches:
        for level in range(3):
            model.set_level(level)
            expected[level] += int((model(images).argmax(1) == labels).sum())
    model.train()
    model.set_level(0)
    assert reds.torch.evaluate_levels(model, batches) == [count / 30 for count in expected]
    assert model.training and model.level == 0


# Inside DistributedDataParallel.


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def single_process_states(steps: int, batch: int) -> list[dict[str, Any]]:
    """What the worker's configurations give in one process over the same global batches, without DDP."""
    states = []
    for _, distillation, build, size in CONFIGURATIONS:
        model, weights = build(0)
        optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
        reds.torch.finetune(model, global_batches(steps, batch, size=size), optimizer, weights,
                            distillation=distillation)
        states.append(model.state_dict())
    return states


@pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                    reason="torch.distributed without gloo")
def test_two_ddp_processes_end_with_the_weights_of_one_process_over_the_global_batches(
    tmp_path: pathlib.Path,
) -> None:
    steps, batch, world = 12, 16, 2
    environment = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()),
                       WORLD_SIZE=str(world), GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1")
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    output = tmp_path / "weights"
    command = [sys.executable, str(HERE / "finetune_worker.py"), str(output), str(steps), str(batch)]
    ranks = [
        subprocess.Popen(command, env=dict(environment, RANK=str(rank)), stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
        for rank in range(world)
    ]
    for rank, process in enumerate(ranks):
        log, _ = process.communicate(timeout=120)
        assert process.returncode == 0, f"rank {rank}:\n{log}"
    rank_states = [torch.load(f"{output}.{rank}") for rank in range(world)]
    # Calibrated on each rank's half of the images: one process's statistics over all of them, on both.
    alone = planned_resnet8(10)
    reds.torch.calibrate_levels(alone, [images for images, _ in global_batches(steps, batch, size=10)],
                                images=steps * batch)
    statistics = level_statistics(alone)
    assert statistics and all(bool(value[:-1].all()) for name, value in statistics.items()
                              if name.endswith("calibrated"))
    for rank in range(world):
        calibrated = rank_states[rank].pop()
        assert calibrated.keys() == statistics.keys()
        for name, value in statistics.items():
            torch.testing.assert_close(calibrated[name], value, rtol=1e-5, atol=1e-6, msg=name)
    expected = single_process_states(steps, batch)
    for configuration, state in enumerate(expected):
        initial = CONFIGURATIONS[configuration][2](0)[0].state_dict()
        for name, value in state.items():
            # Both ranks hold the same weights, bit for bit: DDP averaged the same gradients on both.
            assert torch.equal(rank_states[0][configuration][name], rank_states[1][configuration][name]), name
            torch.testing.assert_close(rank_states[0][configuration][name], value, rtol=1e-4, atol=1e-5)
        assert not any(torch.equal(state[name], initial[name]) for name in state if name.endswith("weight"))
    # Units no level uses keep their weights.
    unused = CONFIGURATIONS[2][2](0)[0].conv2.weight[6:]
    torch.testing.assert_close(rank_states[0][2]["conv2.weight"][6:], unused, rtol=0, atol=0)


# The example.


def write_idx(path: pathlib.Path, array: Any) -> None:
    """An IDX file of unsigned bytes, gzipped, as Fashion-MNIST ships them."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(size.to_bytes(4, "big") for size in array.shape)
    path.write_bytes(gzip.compress(header + array.astype("uint8").tobytes()))


@pytest.mark.parametrize("launcher", ["own processes", "torchrun environment"])
def test_fashion_mnist_example_runs_every_stage_in_two_processes(
    tmp_path: pathlib.Path, launcher: str
) -> None:
    generator = torch.Generator().manual_seed(0)
    for split, count in (("train", 256), ("t10k", 64)):
        write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz",
                  torch.randint(0, 256, (count, 28, 28), generator=generator).numpy())
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz",
                  torch.randint(0, 10, (count,), generator=generator).numpy())
    command = [sys.executable, str(SOURCE_DIR / "examples" / "finetune_fashion_mnist_ddp.py"), "--data",
               str(tmp_path), "--importance-batches", "2", "--batch-size", "64"]
    environment = dict(os.environ, GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1")
    if launcher == "own processes":
        result = subprocess.run(command, capture_output=True, text=True, timeout=240, env=environment)
        assert result.returncode == 0, result.stdout + result.stderr
        output = result.stdout
    else:
        # What torchrun sets for each process it starts (Debian 12's torchrun, torch 1.13 on Python 3.11,
        # fails before starting any: docs/python.md).
        environment.update(WORLD_SIZE="2", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
        ranks = [subprocess.Popen(command, env=dict(environment, RANK=str(rank), LOCAL_RANK=str(rank)),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                 for rank in range(2)]
        outputs = [process.communicate(timeout=240)[0] for process in ranks]
        for rank, process in enumerate(ranks):
            assert process.returncode == 0, f"rank {rank}:\n{outputs[rank]}"
        assert "fine-tuned" not in outputs[1]  # rank 0 reports
        output = outputs[0]
    assert "2 processes on cpu; 256 training and 64 test images" in output
    assert "fine-tuned 4 levels jointly" in output and ": 4 steps of 64" in output
    assert "per-level batch-norm statistics from 256 training images" in output
    rows = [line.split(" | ") for line in output.splitlines() if line.startswith("| ") and "%" in line]
    assert [row[0] for row in rows] == ["| 25%", "| 50%", "| 75%", "| 100%"]
    assert all(len(row) == 6 for row in rows)  # before, calibrated, after
    assert rows[-1][3] == rows[-1][4]  # the largest level keeps its statistics
    params = [int(row[2].replace(",", "")) for row in rows]
    assert params == sorted(params) and params[-1] == 77418  # ResNet-8 on 28x28 grey images, 10 classes
