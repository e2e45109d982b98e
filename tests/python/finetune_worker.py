"""One rank of the distributed fine-tuning test (test_finetune.py): joins the gloo process group that the
environment describes (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT, as torchrun sets them), fine-tunes
leveled_models.SlicedCnn jointly inside DistributedDataParallel on its share of every global batch, and
saves the weights of every configuration to OUTPUT.

    python3 finetune_worker.py OUTPUT STEPS BATCH
"""

from __future__ import annotations

import os
import sys

import torch
import torch.distributed as distributed
from torch.nn.parallel import DistributedDataParallel

import reds.torch
from leveled_models import global_batches, seeded_model

# (find_unused_parameters, distillation, widths of the levels): DDP's two ways of finding the parameters to
# reduce; distillation's teacher, an output of the same step; and levels that leave units of the convolutions
# out of every level (they get zero gradients, on every rank).
CONFIGURATIONS = [
    (False, None, ((2, 3), (4, 5), (6, 8))),
    (True, reds.torch.Distillation(temperature=2.0, weight=0.5), ((2, 3), (4, 5), (6, 8))),
    (False, reds.torch.Distillation(temperature=1.0, weight=0.3), ((2, 3), (4, 6))),
]
LEARNING_RATE = 0.01


def main() -> None:
    output, steps, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    torch.set_num_threads(1)
    distributed.init_process_group("gloo")
    rank, world = distributed.get_rank(), distributed.get_world_size()
    shard = batch // world
    batches = [(images[rank * shard:(rank + 1) * shard], labels[rank * shard:(rank + 1) * shard])
               for images, labels in global_batches(steps, batch)]
    states = []
    for find_unused, distillation, widths in CONFIGURATIONS:
        # Rank 1 starts from other weights: DDP must broadcast rank 0's.
        model = seeded_model(seed=rank, widths=widths)
        weights = reds.torch.reference_level_weights(model.level_parameter_counts())
        wrapped = DistributedDataParallel(model, find_unused_parameters=find_unused)
        optimizer = torch.optim.Adam(wrapped.parameters(), lr=LEARNING_RATE)
        reds.torch.finetune(wrapped, batches, optimizer, weights, distillation=distillation)
        states.append({name: value.detach().clone() for name, value in model.state_dict().items()})
    torch.save(states, f"{output}.{rank}")
    distributed.barrier()
    distributed.destroy_process_group()


if __name__ == "__main__":
    os.environ.setdefault("GLOO_SOCKET_IFNAME", "lo")
    main()
