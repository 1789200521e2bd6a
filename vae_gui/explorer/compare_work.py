"""The second model's computations, as plain functions for vae_gui/tasks.py (they run off the GUI thread).

Each returns numpy arrays only. The models are in eval mode; decoding from a worker thread while the GUI thread
decodes with the same model is safe (inference only, no autograd, no module state changes).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from trainer.data.images import square_resize
from trainer.latent.codec import decode_latents, prepare_for_inference, reconstruct
from trainer.latent.samplers import make_sampler
from trainer.models.networks import FaceModel
from trainer.training.checkpoint import LoadedCheckpoint, load_checkpoint

SAMPLE_COLUMNS = 4                      # the side-by-side sample grids: 4 x 4 faces each


def load_second(task, path: str) -> LoadedCheckpoint:
    """Read a checkpoint for the second model (CheckpointError, with our message, when it cannot be used)."""
    checkpoint = load_checkpoint(path)
    task.check()
    prepare_for_inference(checkpoint.model)
    return checkpoint


def fit_image(image: np.ndarray, size: int) -> np.ndarray:
    """uint8 (H, W, 3) resized to the model's image size (the two models may be trained at different sizes)."""
    if image.shape[0] == size and image.shape[1] == size:
        return image
    return np.asarray(square_resize(Image.fromarray(image), size))


def reencode(model: FaceModel, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The model's code (D,) of an image of any size, and its reconstruction uint8 (H, W, 3)."""
    return reconstruct(model, fit_image(image, model.config.image_size))


def faces_for_z(task, model_a: FaceModel, model_b: FaceModel, z: np.ndarray) -> dict:
    """The shared z decoded by both models."""
    face_a = decode_latents(model_a, z[None])[0]
    task.check()
    return {"a": face_a, "b": decode_latents(model_b, z[None])[0]}


def image_through_both(task, model_a: FaceModel, model_b: FaceModel, image: np.ndarray | None,
                       z_a: np.ndarray) -> dict:
    """The same image encoded and decoded by both models (their latent sizes differ, so z cannot be shared).
    Without an encoded image, the image is the first model's current face."""
    if image is None:
        image = decode_latents(model_a, z_a[None])[0]
    _, recon_a = reencode(model_a, image)
    task.check()
    _, recon_b = reencode(model_b, image)
    return {"image": image, "a": recon_a, "b": recon_b}


def samples_of_both(task, model_a: FaceModel, model_b: FaceModel, seed: int, count: int) -> dict:
    """Prior samples of both models with the same seed: with equal latent sizes, the very same codes."""
    faces = {}
    for key, model in (("a", model_a), ("b", model_b)):
        task.check()
        z = make_sampler("prior", model.latent_dim).sample(count, seed)
        faces[key] = decode_latents(model, z)
    return faces
