"""A model's decoder and encoder as standalone graphs, for use without this project: ONNX (onnxruntime, any language
or browser) or TorchScript (libtorch from C++).

Two graphs per model, each with named inputs and outputs and a free batch size:
    decoder  latent (batch, D) float32                ->  image (batch, C, S, S) float32 in [0, 1]
    encoder  image (batch, C, S, S) float32 in [0, 1]  ->  mean, logvar (batch, D)   (an autoencoder: code (batch, D))
Each written graph is loaded back and run on random inputs of other batch sizes than it was traced with, against the
PyTorch model; a graph that differs by more than TOLERANCE is not kept. Files are written as temporary files first
and renamed once checked, so a failed export never leaves a half-written or wrong graph behind.

ONNX needs the optional `onnx` extra (onnx, onnxscript for torch's exporter, onnxruntime for the check).
"""
from __future__ import annotations

import contextlib
import copy
import importlib.util
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from trainer.files import remove_stale_temporaries, temporary_name
from trainer.errors import UserError
from trainer.models.networks import FaceModel
from trainer.package import install_command

FORMATS = ("onnx", "torchscript")
SUFFIXES = {"onnx": ".onnx", "torchscript": ".torchscript.pt"}
ONNX_PACKAGES = ("onnx", "onnxscript", "onnxruntime")
TOLERANCE = 1e-4                # largest absolute difference from PyTorch a kept graph may have
EXPORTER_LOGGERS = ("torch.onnx", "onnxscript", "onnx_ir")    # they log each optimisation step at INFO
TRACE_BATCH = 2                 # the graphs are made from this batch size...
CHECK_BATCHES = (1, 5)          # ...and checked on these, so a batch size fixed into a graph shows up


class ExportUnavailable(UserError):
    """The packages a format needs are not installed; the message says how to install them."""


class ExportCheckFailed(RuntimeError):
    """An exported graph computes something else than the PyTorch model (a bug in an exporter: report it)."""


@dataclass(frozen=True)
class ExportedGraph:
    path: Path
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    max_difference: float         # largest absolute difference from PyTorch over the check's random inputs


def _without(model: FaceModel, *parts: str) -> FaceModel:
    """A shallow copy of `model` (sharing its weights) whose `parts` are empty, so that a graph traced from it
    carries only the weights it uses (TorchScript keeps every parameter of the module it traces)."""
    copied = copy.copy(model)
    copied._modules = dict(model._modules)
    for part in parts:
        copied._modules[part] = nn.Identity()
    return copied


class DecoderGraph(nn.Module):
    """latent -> image in [0, 1] (the model's `decode`)."""

    def __init__(self, model: FaceModel):
        super().__init__()
        self.model = _without(model, "encoder", "to_latent")
        self.input_names = ("latent",)
        self.output_names = ("image",)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.model.decode(latent)

    def example(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        return (torch.randn(batch, self.model.latent_dim, generator=generator),)


class EncoderGraph(nn.Module):
    """image in [0, 1] -> posterior mean and log-variance (a VAE), or the code (an autoencoder)."""

    def __init__(self, model: FaceModel):
        super().__init__()
        self.model = _without(model, "latent_fc", "from_latent", "decoder")
        self.input_names = ("image",)
        self.output_names = ("mean", "logvar") if model.is_variational else ("code",)

    def forward(self, image: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        mean, logvar = self.model.encode(image)
        return mean if logvar is None else (mean, logvar)

    def example(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        config = self.model.config
        return (torch.rand(batch, config.channels, config.image_size, config.image_size, generator=generator),)


def check_format_available(fmt: str) -> None:
    """Raise ExportUnavailable (with the install command) when `fmt` needs packages that are missing."""
    if fmt not in FORMATS:
        raise ExportUnavailable(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if fmt == "onnx":
        missing = [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]
        if missing:
            raise ExportUnavailable(f"ONNX export needs {', '.join(missing)}: {install_command('onnx')}")


def export_graphs(model: FaceModel, folder: Path | str, fmt: str, seed: int = 0) -> list[ExportedGraph]:
    """Write `folder`/decoder and `folder`/encoder in `fmt` (see the module docstring); returns what was written."""
    check_format_available(fmt)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = model.float().cpu().eval().to(memory_format=torch.contiguous_format)
    generator = torch.Generator().manual_seed(seed)
    written = []
    for name, graph in (("decoder", DecoderGraph(model)), ("encoder", EncoderGraph(model))):
        graph.eval()
        path = folder / f"{name}{SUFFIXES[fmt]}"
        remove_stale_temporaries(path)          # an earlier export killed mid-write (kill -9)
        tmp = temporary_name(path)
        try:
            run = _write_onnx(graph, tmp, generator) if fmt == "onnx" else _write_torchscript(graph, tmp, generator)
            difference = _largest_difference(graph, run, generator)
            if not difference <= TOLERANCE:
                raise ExportCheckFailed(f"the exported {name} differs from the PyTorch model by {difference:.2e} "
                                        f"(more than {TOLERANCE:g}); nothing was kept. Please report it")
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        written.append(ExportedGraph(path, graph.input_names, graph.output_names, difference))
    return written


Runner = Callable[[tuple[torch.Tensor, ...]], list[np.ndarray]]


def _write_onnx(graph: nn.Module, path: Path, generator: torch.Generator) -> Runner:
    import onnxruntime

    example = graph.example(TRACE_BATCH, generator)
    batch = torch.export.Dim("batch")
    dynamic = {name: {0: batch} for name in graph.input_names}
    with warnings.catch_warnings(), _quiet(EXPORTER_LOGGERS):
        warnings.simplefilter("ignore")          # the exporter's notes on its own internals, nothing to act on
        torch.onnx.export(graph, example, str(path), input_names=list(graph.input_names),
                          output_names=list(graph.output_names), dynamic_shapes=dynamic, dynamo=True,
                          external_data=False, verbose=False)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda inputs: session.run(None, {n: x.numpy() for n, x in zip(graph.input_names, inputs)})


def _write_torchscript(graph: nn.Module, path: Path, generator: torch.Generator) -> Runner:
    example = graph.example(TRACE_BATCH, generator)
    with warnings.catch_warnings():
        # PyTorch marks TorchScript deprecated, and the tracer warns that Python-level branches are fixed into the
        # graph: ours depend on the model's configuration only, and the check below runs other batch sizes.
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(graph, example)
        traced.save(str(path))
        loaded = torch.jit.load(str(path))

    def run(inputs: tuple[torch.Tensor, ...]) -> list[np.ndarray]:
        with torch.inference_mode():
            return [t.numpy() for t in _as_tuple(loaded(*inputs))]
    return run


@contextlib.contextmanager
def _quiet(logger_names: tuple[str, ...]):
    loggers = [logging.getLogger(name) for name in logger_names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _largest_difference(graph: nn.Module, run: Runner, generator: torch.Generator) -> float:
    largest = 0.0
    for batch in CHECK_BATCHES:
        inputs = graph.example(batch, generator)
        with torch.inference_mode():
            expected = [t.numpy() for t in _as_tuple(graph(*inputs))]
        got = run(inputs)
        if len(got) != len(expected) or any(g.shape != e.shape for g, e in zip(got, expected)):
            return float("inf")
        largest = max([largest] + [float(np.abs(g - e).max()) for g, e in zip(got, expected)])
    return largest


def _as_tuple(output: torch.Tensor | tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    return output if isinstance(output, tuple) else (output,)
