"""Device, precision and memory-format choices: CUDA, then Apple MPS, then CPU."""
from __future__ import annotations

import contextlib
from functools import lru_cache

import torch

from trainer.config import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but no CUDA GPU is available")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps' was asked for but Apple MPS is not available")
    return device


@lru_cache(maxsize=1)
def cpu_has_fast_bf16() -> bool:
    """True when the CPU has native bf16 matrix instructions (AVX512-BF16 or AMX); elsewhere bf16 is slower."""
    try:
        with open("/proc/cpuinfo") as handle:
            flags = handle.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(setting: str, device: torch.device) -> str:
    """'bf16' or 'fp32'. Weights stay fp32 either way; bf16 applies to autocast regions only."""
    if setting != "auto":
        return setting
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_has_fast_bf16() else "fp32"
    return "fp32"


def resolve_channels_last(setting: str, device: torch.device) -> bool:
    if setting == "auto":
        return device.type in ("cpu", "cuda")
    return setting == "on"


def autocast(device: torch.device, precision: str):
    if precision != "bf16":
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def to_model_input(images_uint8: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float in [0, 1] on the device, converted after the copy (4x less to move)."""
    x = images_uint8.to(device, non_blocking=True).float().div_(255.0)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def resolve_rank_device(name: str, local_rank: int) -> torch.device:
    """The device of one torchrun process: GPU number LOCAL_RANK whenever CUDA is used, else the CPU
    ("auto" never picks Apple MPS here: DDP has no MPS backend)."""
    device = resolve_device(name)
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(f"process LOCAL_RANK={local_rank} has no GPU: this machine has "
                              f"{torch.cuda.device_count()}; start at most that many processes per node")
        return torch.device("cuda", local_rank)
    return torch.device("cpu") if name == "auto" else device


def tune_backends(device: torch.device) -> None:
    """Per-device library settings for training."""
    if device.type == "cuda":
        # Image and batch sizes are fixed during a run: let cuDNN time its kernels once and keep the fastest.
        torch.backends.cudnn.benchmark = True


GPU_DATA_SHARE = 0.25      # the training images move to the GPU when they take less than this share of free memory


class TrainImages:
    """The uint8 training images, kept where batches are cut fastest for the device.

    CPU and MPS: batches are cut from the tensor as it is (unchanged behaviour). CUDA: the whole tensor moves to the
    GPU when it takes less than GPU_DATA_SHARE of free memory, and batches are cut there; otherwise each batch is
    gathered into a pinned staging buffer and copied without blocking. (Pinning the whole tensor would not help:
    gathering random rows of a pinned tensor returns an unpinned copy.)
    """

    def __init__(self, images: torch.Tensor, device: torch.device, gpu_share: float = GPU_DATA_SHARE):
        self.device = device
        self.images = images
        self.placement = "host"
        self._staging: torch.Tensor | None = None
        self._copied = None          # CUDA event: the staging buffer's last copy finished
        if device.type == "cuda":
            free_bytes, _ = torch.cuda.mem_get_info(device)
            if images.numel() * images.element_size() < gpu_share * free_bytes:
                self.images = images.to(device)
                self.placement = "gpu"
            else:
                self.placement = "pinned"

    @property
    def index_device(self) -> torch.device:
        """Where batch indices must live: with the images."""
        return self.images.device

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        """The images at `indices` (on `index_device`), uint8 on the training device."""
        if self.placement != "pinned":
            return self.images[indices].to(self.device, non_blocking=True)
        if self._copied is not None:
            self._copied.synchronize()          # the previous batch has left the staging buffer
        if self._staging is None or len(self._staging) != len(indices):
            self._staging = torch.empty((len(indices), *self.images.shape[1:]), dtype=self.images.dtype,
                                        pin_memory=True)
        torch.index_select(self.images, 0, indices, out=self._staging)
        batch = self._staging.to(self.device, non_blocking=True)
        self._copied = torch.cuda.current_stream(self.device).record_event()
        return batch
