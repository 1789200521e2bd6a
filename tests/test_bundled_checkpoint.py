"""The shipped VAE (trainer/resources/default_vae.pt, documented in resources/README.md): loads without Qt, decodes faces, and carries the quality it was
released with. The stored metrics were measured by `vae-train eval` on the synthetic test split when it was trained;
resources/README.md has the commands to measure them again."""
from __future__ import annotations

import numpy as np
import pytest

from trainer.training.checkpoint import load_checkpoint
from trainer.latent.codec import decode_latents
from trainer.resources import default_checkpoint
from trainer.data.synthetic import FACTOR_NAMES

MAX_BYTES = 15 * 1024 * 1024


@pytest.fixture(scope="module")
def bundled():
    path = default_checkpoint()
    assert path is not None, "the package lost its bundled checkpoint (trainer/resources/default_vae.pt)"
    return load_checkpoint(path)


def test_is_a_small_vae_with_one_slider_per_dimension(bundled) -> None:
    assert bundled.path.stat().st_size < MAX_BYTES
    assert bundled.model.is_variational
    assert 10 <= bundled.config.model.latent_dim <= 32
    assert bundled.config.data.source == "synthetic"


def test_decodes_prior_samples_to_images(bundled) -> None:
    z = np.random.default_rng(0).standard_normal((4, bundled.config.model.latent_dim)).astype(np.float32)
    images = decode_latents(bundled.model, z)
    assert images.shape == (4, 64, 64, 3) and images.dtype == np.uint8
    assert images.astype(np.float32).std(axis=0).mean() > 5.0     # different latents give different faces


def test_stored_metrics_meet_the_release_targets(bundled) -> None:
    metrics = bundled.eval_metrics
    assert metrics is not None, "the bundled checkpoint lost its evaluation"
    assert metrics["n_images"] >= 1000
    assert metrics["psnr"] >= 24.0
    assert metrics["mig"] >= 0.25


def test_most_dimensions_are_labelled_with_their_own_factor(bundled) -> None:
    labels = [name for name, _score in bundled.eval_metrics["dim_factors"]]
    assert set(labels) <= set(FACTOR_NAMES)
    assert len(set(labels)) >= 12                    # sliders move distinct properties, not one shared blob
