"""The small public API for scripts and notebooks: load a checkpoint's model, decode latents, encode images.

    import torch
    from trainer.api import default_checkpoint, load_model
    model = load_model(default_checkpoint())           # the bundled VAE, or "runs/my-run/checkpoints/best.pt"
    images = model.decode(torch.randn(8, model.latent_dim))     # (8, 3, 64, 64) floats in [0, 1]

`decode_latents` and `encode_images` are the app's own decoder and encoder on numpy arrays (uint8 images, float32
latents); `export_graphs` writes the decoder and encoder as ONNX or TorchScript graphs. These names stay.
"""
from __future__ import annotations

from pathlib import Path

from trainer.latent.codec import decode_latents, encode_images
from trainer.models.export import export_graphs
from trainer.models.networks import FaceModel
from trainer.resources import default_checkpoint
from trainer.training.checkpoint import load_checkpoint

__all__ = ["FaceModel", "decode_latents", "default_checkpoint", "encode_images", "export_graphs", "load_model"]


def load_model(path: Path | str) -> FaceModel:
    """The model of a checkpoint file, on the CPU, in eval mode. The file is checked field by field and read
    without running code (a wrong or hostile file raises trainer.training.checkpoint.CheckpointError)."""
    return load_checkpoint(path).model.eval()
