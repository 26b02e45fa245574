"""Who am I in a distributed run: torchrun, srun or mpiexec environments -> one process group.

The launcher sets the rank variables; this module only reads them:
torchrun: RANK, WORLD_SIZE, LOCAL_RANK (and MASTER_ADDR/PORT);
srun: SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID;
mpiexec (MPICH/PMI): PMI_RANK, PMI_SIZE, MPI_LOCALRANKID.
Outside torchrun, MASTER_ADDR defaults to 127.0.0.1 (single node); multi-node
batch scripts export the first node's name (`scontrol show hostnames | head -1`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

_CANDIDATES = (("RANK", "WORLD_SIZE", "LOCAL_RANK"),
               ("SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"),
               ("PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"))


@dataclass(frozen=True)
class Placement:
    rank: int              #: global rank
    world_size: int        #: number of processes
    local_rank: int        #: rank on this node: picks the GPU
    device: torch.device   #: cuda:local_rank when a GPU is present, else cpu

    @property
    def is_root(self) -> bool:
        return self.rank == 0


def read_placement(env: dict | None = None) -> Placement:
    """Rank, size and local rank from the first launcher whose variables are set; one process if none."""
    env = os.environ if env is None else env
    for rank_key, size_key, local_key in _CANDIDATES:
        if rank_key in env and size_key in env:
            rank, size = int(env[rank_key]), int(env[size_key])
            local = int(env.get(local_key, rank % max(torch.cuda.device_count(), 1)))
            break
    else:
        rank, size, local = 0, 1, 0
    cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{local % torch.cuda.device_count()}") if cuda else torch.device("cpu")
    return Placement(rank, size, local, device)


def start(placement: Placement) -> None:
    """Join the process group (NCCL on GPU, gloo on CPU); nothing to do for one process."""
    if placement.world_size == 1 or dist.is_initialized():
        return
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29500")
    if placement.device.type == "cuda":
        torch.cuda.set_device(placement.device)
    dist.init_process_group("nccl" if placement.device.type == "cuda" else "gloo", rank=placement.rank,
                            world_size=placement.world_size, timeout=timedelta(minutes=10))


def stop() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def all_sum(values: torch.Tensor) -> torch.Tensor:
    """Sum a tensor over all ranks (identity for one process)."""
    if dist.is_initialized():
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values


def barrier() -> None:
    if dist.is_initialized():
        dist.barrier()
