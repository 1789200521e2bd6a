"""Process-group context for torchrun / DDP. A single process is world size 1 and every helper is a no-op."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Iterator

import torch
import torch.distributed as torch_dist

from trainer.errors import Cancelled

# How long a collective may wait for a rank before the job fails. Long enough for a first run's data decoding (the
# other ranks wait while each node's first process builds the data cache); a dead rank ends the job much sooner,
# because torchrun stops every rank as soon as one exits with an error.
PROCESS_GROUP_TIMEOUT = timedelta(minutes=30)


class JobTerminated(Exception):
    """This process received SIGTERM: torchrun ends the other ranks so when one fails, or the job was cancelled."""


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

    def broadcast_object(self, value: Any) -> Any:
        """Rank 0's value (picklable) on every rank."""
        if not self.enabled:
            return value
        box = [value]
        torch_dist.broadcast_object_list(box, src=0)
        return box[0]


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
    """Set up the process group under torchrun (nccl on CUDA, gloo on CPU) and always tear it down, also on error.

    Yields the context and the device this process uses (cuda:LOCAL_RANK on GPUs; the training loop picks the
    same from the config's device setting, see device.resolve_rank_device). A failing rank says which it is on
    stderr and in torchrun's error file, so torchrun's failure summary names the first error.
    """
    context = context_from_environment()
    if not context.enabled:
        yield context, device
        return
    from trainer.training.device import resolve_rank_device
    rank_device = resolve_rank_device(device, context.local_rank)
    if rank_device.type == "cuda":
        torch.cuda.set_device(rank_device)
        # Gradients travel over NCCL; the small CPU tensors of validation sums and broadcasts go over gloo.
        backend = "cpu:gloo,cuda:nccl"
    else:
        backend = "gloo"
    torch_dist.init_process_group(backend=backend, timeout=PROCESS_GROUP_TIMEOUT)
    try:
        yield context, str(rank_device)
    except Exception as error:
        if not isinstance(error, (JobTerminated, Cancelled)):
            print(f"rank {context.rank} of {context.world_size} failed: {type(error).__name__}: {error}",
                  file=sys.stderr, flush=True)
            _record_for_torchrun(error)
        raise
    finally:
        torch_dist.destroy_process_group()


def _record_for_torchrun(error: BaseException) -> None:
    """Write the error where torchrun looks for it (TORCHELASTIC_ERROR_FILE), for its failure summary."""
    from torch.distributed.elastic.multiprocessing.errors import get_error_handler
    try:
        get_error_handler().record_exception(error)
    except OSError:
        pass
