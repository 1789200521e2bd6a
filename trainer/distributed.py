"""Process-group context for torchrun / DDP. A single process is world size 1 and every helper is a no-op."""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as torch_dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def all_reduce_sum(self, values: torch.Tensor) -> torch.Tensor:
        """Sum of a tensor over ranks (identity for one process)."""
        if not self.enabled:
            return values
        values = values.clone()
        torch_dist.all_reduce(values, op=torch_dist.ReduceOp.SUM)
        return values

    def barrier(self) -> None:
        if self.enabled:
            torch_dist.barrier()


SINGLE_PROCESS = DistContext()


def context_from_environment() -> DistContext:
    """The rank layout torchrun sets in RANK / WORLD_SIZE / LOCAL_RANK (one process when absent)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return SINGLE_PROCESS
    return DistContext(rank=int(os.environ["RANK"]), world_size=world_size,
                       local_rank=int(os.environ.get("LOCAL_RANK", "0")))


@contextmanager
def distributed_session(device: str) -> Iterator[tuple[DistContext, str]]:
    """Set up the process group under torchrun (nccl on CUDA, gloo on CPU) and always tear it down.

    Yields the context and the device this process should use (cuda:LOCAL_RANK on GPUs).
    """
    context = context_from_environment()
    if not context.enabled:
        yield context, device
        return
    use_cuda = torch.cuda.is_available() and device in ("auto", "cuda")
    if use_cuda:
        torch.cuda.set_device(context.local_rank)
        device = f"cuda:{context.local_rank}"
    elif device == "auto":
        device = "cpu"
    torch_dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    try:
        yield context, device
    finally:
        torch_dist.destroy_process_group()
