#!/usr/bin/env python3
"""REDS in PyTorch, end to end on Fashion-MNIST, with every training step in DistributedDataParallel:

1. train a ResNet-8-shaped network briefly;
2. score its units with the reference's gradient importance and plan levels at 25/50/75/100 % of its MACs
   (reds.torch.gradient_importance, plan_request, reds.plan);
3. apply the plan (reds.torch.apply_plan: one module, every level a prefix of its weights) and measure every
   level's test accuracy;
4. give every level but the largest its own batch-norm statistics (reds.torch.calibrate_levels, on
   --calibrate-images training images over all processes; 0: one set of statistics for every level) and
   measure again;
5. fine-tune all levels jointly (reds.torch.finetune: the reference's loss weights, one optimizer step per
   minibatch) and measure again.

Run on its own, it starts --processes worker processes on this machine (gloo over loopback, CPU). Under
torchrun, or any launcher that sets RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT as torchrun
does, it is one of the launcher's processes instead, on as many machines and GPUs as it starts
(docs/python.md):

    PYTHONPATH=build/python python3 examples/finetune_fashion_mnist_ddp.py [--processes 2] [OPTIONS]
    PYTHONPATH=build/python torchrun --nproc_per_node 2 examples/finetune_fashion_mnist_ddp.py [OPTIONS]

Every process reads Fashion-MNIST (Debian's dataset-fashion-mnist) from --data and trains on its share of
every minibatch; --batch-size is the global minibatch, split across the processes.
"""

from __future__ import annotations

import argparse
import gzip
import os
import pathlib
import socket
import time
from typing import Any

import numpy as np
import torch
import torch.distributed as distributed
import torch.multiprocessing
import torch.nn.functional as functional
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

import reds
import reds.torch

LEVELS = (0.25, 0.5, 0.75, 1.0)
# Fashion-MNIST's training-set pixel mean and standard deviation (of pixel / 255).
PIXEL_MEAN, PIXEL_STD = 0.2860, 0.3530


class ResidualBlock(nn.Module):
    def __init__(self, inputs: int, outputs: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.projection = None
        if stride != 1 or inputs != outputs:
            self.projection = nn.Sequential(
                nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + (x if self.projection is None else self.projection(x)))


class ResNet8(nn.Module):
    """MLPerf Tiny's ResNet-8 (conv 16, residual blocks 16/32/64, global average pool, Dense(10)) on
    28x28 grey images."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.stages = nn.Sequential(
            ResidualBlock(16, 16, 1), ResidualBlock(16, 32, 2), ResidualBlock(32, 64, 2)
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(self.stages(self.stem(x))), 1))


def read_idx(path: pathlib.Path) -> np.ndarray:
    """An IDX file (gzipped or not) as an array of its shape."""
    raw = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    dimensions = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(dimensions))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dimensions).reshape(shape)


def fashion_mnist(directory: pathlib.Path, split: str, count: int) -> TensorDataset:
    """The first ``count`` images (0: all) of ``split`` (``train`` or ``t10k``), normalised, as (N, 1, 28,
    28), with their labels."""

    def find(name: str) -> pathlib.Path:
        for candidate in (directory / name, directory / f"{name}.gz"):
            if candidate.is_file():
                return candidate
        raise SystemExit(f"{directory}: no {name}[.gz] (Debian: apt install dataset-fashion-mnist)")

    images = read_idx(find(f"{split}-images-idx3-ubyte"))
    labels = read_idx(find(f"{split}-labels-idx1-ubyte"))
    if count:
        images, labels = images[:count], labels[:count]
    pixels = (torch.from_numpy(images.astype(np.float32)) / 255.0 - PIXEL_MEAN) / PIXEL_STD
    return TensorDataset(pixels.unsqueeze(1), torch.from_numpy(labels.astype(np.int64)))


def loader(dataset: TensorDataset, batch_size: int, shuffle: bool, seed: int) -> DataLoader:
    """This process's share of every minibatch of ``dataset`` (``batch_size`` over all processes)."""
    world = distributed.get_world_size()
    sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed, drop_last=shuffle)
    return DataLoader(dataset, batch_size=batch_size // world, sampler=sampler)


def accuracies(model: nn.Module, dataset: TensorDataset, batch_size: int) -> list[float]:
    """Every level's test accuracy over all processes (each evaluates its share of the test images)."""
    share = loader(dataset, batch_size, shuffle=False, seed=0)
    shared = len(share.sampler)  # type: ignore[arg-type]
    correct = torch.tensor(reds.torch.evaluate_levels(model, share), dtype=torch.float64) * shared
    distributed.all_reduce(correct)
    return (correct / (shared * distributed.get_world_size())).tolist()


def pretrain(model: nn.Module, data: DataLoader, epochs: int, device: torch.device) -> None:
    wrapped = DistributedDataParallel(model, device_ids=None if device.type == "cpu" else [device])
    optimizer = torch.optim.Adam(wrapped.parameters(), lr=2e-3)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=epochs * len(data))
    wrapped.train()
    for epoch in range(epochs):
        data.sampler.set_epoch(epoch)  # type: ignore[attr-defined]
        for images, labels in data:
            optimizer.zero_grad(set_to_none=True)
            functional.cross_entropy(wrapped(images.to(device)), labels.to(device)).backward()
            optimizer.step()
            scheduler.step()
    model.eval()


def run(arguments: argparse.Namespace) -> None:
    rank, world = distributed.get_rank(), distributed.get_world_size()
    device = torch.device("cpu")
    if torch.cuda.is_available():
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank % torch.cuda.device_count())))
        torch.cuda.set_device(device)
    say = print if rank == 0 else (lambda *_, **__: None)
    started = time.perf_counter()
    train = fashion_mnist(arguments.data, "train", arguments.train_images)
    test = fashion_mnist(arguments.data, "t10k", arguments.test_images)
    say(f"{world} processes on {device.type}; {len(train)} training and {len(test)} test images")

    torch.manual_seed(arguments.seed)  # the same initial weights everywhere (DDP broadcasts rank 0's anyway)
    model = ResNet8().to(device)
    pretraining = loader(train, arguments.batch_size, True, arguments.seed)
    pretrain(model, pretraining, arguments.pretrain_epochs, device)
    say(f"trained {arguments.pretrain_epochs} epoch(s) in {time.perf_counter() - started:.0f} s")

    # The plan: one process scores and plans, every process applies the same plan to the same weights.
    example = train.tensors[0][:1].to(device)
    answer: list[Any] = [None]
    if rank == 0:
        clock = time.perf_counter()
        scores = reds.torch.gradient_importance(
            model, DataLoader(train, batch_size=100, shuffle=True), batches=arguments.importance_batches
        )
        request = reds.torch.plan_request(model, example, levels=LEVELS, importance=scores)
        answer[0] = reds.plan(request)
        say(f"gradient importance ({arguments.importance_batches} minibatches of 100) and plan in "
            f"{time.perf_counter() - clock:.1f} s")
    distributed.broadcast_object_list(answer, src=0)
    plan = answer[0]
    nested = reds.torch.apply_plan(model, plan, example)
    before = accuracies(nested, test, arguments.batch_size)
    calibrated = None
    if arguments.calibrate_images > 0:
        clock = time.perf_counter()
        images = loader(train, arguments.batch_size, True, arguments.seed + 2)
        used = reds.torch.calibrate_levels(nested, images, images=max(1, arguments.calibrate_images // world))
        total = torch.tensor([used], device=device)
        distributed.all_reduce(total)
        say(f"per-level batch-norm statistics from {int(total)} training images in "
            f"{time.perf_counter() - clock:.1f} s")
        calibrated = accuracies(nested, test, arguments.batch_size)

    weights = reds.torch.reference_level_weights(plan)
    distillation = None
    if arguments.distillation_weight > 0:
        distillation = reds.torch.Distillation(arguments.temperature, arguments.distillation_weight)
    wrapped = DistributedDataParallel(nested, device_ids=None if device.type == "cpu" else [device])
    optimizer = torch.optim.Adam(wrapped.parameters(), lr=arguments.lr)
    data = loader(train, arguments.batch_size, True, arguments.seed + 1)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, arguments.finetune_epochs * len(data))
    clock = time.perf_counter()
    steps = reds.torch.finetune(wrapped, data, optimizer, weights, epochs=arguments.finetune_epochs,
                                distillation=distillation, scheduler=scheduler)
    say(f"fine-tuned {len(LEVELS)} levels jointly (loss weights {[round(w, 3) for w in weights]}): {steps} "
        f"steps of {arguments.batch_size} in {time.perf_counter() - clock:.0f} s")
    after = accuracies(nested, test, arguments.batch_size)

    columns = ["level", "MACs", "params", "accuracy before"] + (["calibrated"] if calibrated else [])
    columns.append("after fine-tuning")
    say("\n| " + " | ".join(columns) + " |\n|" + " --- |" * len(columns))
    full = plan["full"]["cost"]
    for level, (fraction, planned) in enumerate(zip(LEVELS, plan["levels"])):
        cost = planned["cost"]
        macs = f"{cost['macs']:,} ({cost['macs'] / full['macs']:.1%})"
        cells = [f"{fraction:.0%}", macs, f"{cost['params']:,}", f"{before[level]:.2%}"]
        cells += [f"{calibrated[level]:.2%}"] if calibrated else []
        say("| " + " | ".join(cells + [f"{after[level]:.2%}"]) + " |")
    say(f"\ntotal {time.perf_counter() - started:.0f} s")


def worker(rank: int, world: int, port: int, arguments: argparse.Namespace) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    main_of_process(arguments)


def main_of_process(arguments: argparse.Namespace) -> None:
    torch.set_num_threads(arguments.threads)
    distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    try:
        run(arguments)
    finally:
        distributed.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=pathlib.Path, default=pathlib.Path("/usr/share/datasets/fashion-mnist")
    )
    parser.add_argument("--processes", type=int, default=2, help="worker processes when not under torchrun")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--train-images", type=int, default=0, help="the first N training images (0: all)")
    parser.add_argument("--test-images", type=int, default=0, help="the first N test images (0: all)")
    parser.add_argument("--batch-size", type=int, default=128, help="global minibatch, over all processes")
    parser.add_argument("--pretrain-epochs", type=int, default=1)
    parser.add_argument("--importance-batches", type=int, default=100)
    parser.add_argument("--finetune-epochs", type=int, default=1)
    parser.add_argument("--calibrate-images", type=int, default=512,
                        help="per-level batch-norm statistics from N training images (0: none)")
    parser.add_argument("--lr", type=float, default=1e-3, help="fine-tuning learning rate (cosine decay)")
    parser.add_argument("--distillation-weight", type=float, default=0.0, help="0: no distillation")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()
    if "RANK" in os.environ:  # started by torchrun, which also sets WORLD_SIZE, MASTER_ADDR and MASTER_PORT
        main_of_process(arguments)
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    torch.multiprocessing.spawn(
        worker, args=(arguments.processes, port, arguments), nprocs=arguments.processes
    )


if __name__ == "__main__":
    main()
