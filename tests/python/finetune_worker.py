"""One rank of the distributed fine-tuning test (test_finetune.py): joins the gloo process group that the
environment describes (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, as torchrun sets them), fine-tunes
leveled_models.SlicedCnn jointly inside DistributedDataParallel on its share of every global batch, and
saves the weights of every configuration to OUTPUT, then the per-level batch-norm statistics that
calibrate_levels gives a planned ResNet-8 from its share of the images.

    python3 finetune_worker.py OUTPUT STEPS BATCH
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Optional

import torch
import torch.distributed as distributed
from torch.nn.parallel import DistributedDataParallel

import reds
import reds.torch
from leveled_models import global_batches, seeded_model
from torch import nn
from torch_models import ResNet8, randomised

LEARNING_RATE = 0.01


def planned_resnet8(image_size: int) -> nn.Module:
    """torch_models.ResNet8 (random weights, batch-norm statistics) planned at 25, 50 and 100 % of its MACs
    by reds.torch.apply_plan: the same module on every rank, as the plan depends on its weights."""
    torch.manual_seed(0)  # randomised seeds the batch norms only
    model = randomised(ResNet8())
    example = torch.zeros(1, 1, image_size, image_size)
    plan = reds.plan(reds.torch.plan_request(model, example, levels=(0.25, 0.5, 1.0)))
    return reds.torch.apply_plan(model, plan, example)


def level_statistics(model: nn.Module) -> dict[str, torch.Tensor]:
    """The per-level batch-norm statistics calibrate_levels wrote (buffers outside the state_dict)."""
    return {name: value.detach().clone() for name, value in model.named_buffers()
            if name.endswith(("reds_level_mean", "reds_level_var", "reds_level_calibrated"))}


def _sliced(widths: Any) -> Callable[[int], tuple[nn.Module, list[float]]]:
    def build(rank: int) -> tuple[nn.Module, list[float]]:
        # Rank 1 starts from other weights: DDP must broadcast rank 0's.
        model = seeded_model(seed=rank, widths=widths)
        return model, reds.torch.reference_level_weights(model.level_parameter_counts())

    return build


def _resnet8(rank: int) -> tuple[nn.Module, list[float]]:
    model = planned_resnet8(10)
    return model, reds.torch.reference_level_weights(model.plan)


# (find_unused_parameters, distillation, the model of a rank and its loss weights, image size): DDP's two
# ways of finding the parameters to reduce; distillation's teacher, an output of the same step; levels that
# leave units out of every level (they get zero gradients, on every rank); and a plan applied to a ResNet.
Builder = Callable[[int], tuple[nn.Module, list[float]]]
CONFIGURATIONS: list[tuple[bool, Optional[reds.torch.Distillation], Builder, int]] = [
    (False, None, _sliced(((2, 3), (4, 5), (6, 8))), 6),
    (True, reds.torch.Distillation(temperature=2.0, weight=0.5), _sliced(((2, 3), (4, 5), (6, 8))), 6),
    (False, reds.torch.Distillation(temperature=1.0, weight=0.3), _sliced(((2, 3), (4, 6))), 6),
    (False, None, _resnet8, 10),
]


def main() -> None:
    output, steps, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(1)
    distributed.init_process_group("gloo")
    rank, world = distributed.get_rank(), distributed.get_world_size()
    shard = batch // world
    states = []
    for find_unused, distillation, build, size in CONFIGURATIONS:
        batches = [(images[rank * shard:(rank + 1) * shard], labels[rank * shard:(rank + 1) * shard])
                   for images, labels in global_batches(steps, batch, size=size)]
        model, weights = build(rank)
        wrapped = DistributedDataParallel(model, find_unused_parameters=find_unused)
        optimizer = torch.optim.Adam(wrapped.parameters(), lr=LEARNING_RATE)
        reds.torch.finetune(wrapped, batches, optimizer, weights, distillation=distillation)
        states.append({name: value.detach().clone() for name, value in model.state_dict().items()})
    # Per-level statistics over every rank's share of the images: the last entry.
    calibrated = planned_resnet8(10)
    shares = [images[rank * shard:(rank + 1) * shard] for images, _ in global_batches(steps, batch, size=10)]
    reds.torch.calibrate_levels(DistributedDataParallel(calibrated), shares, images=steps * shard)
    states.append(level_statistics(calibrated))
    torch.save(states, f"{output}.{rank}")
    distributed.barrier()
    distributed.destroy_process_group()


if __name__ == "__main__":
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    main()
