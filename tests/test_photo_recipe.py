"""The photo recipe: the calibrated decoder's loss, the photo preset and its recommended settings, and samples drawn
from the density that fits held-out codes best."""
import math

import numpy as np
import pytest
import torch

from tests.conftest import tiny_config
from trainer.cli.commands import build_parser, config_from_args
from trainer.config import EPOCH_LIMIT
from trainer.models.losses import MIN_LOG_SIGMA, gaussian_nll, reconstruction_loss
from trainer.models.presets import PRESET_TRAIN_SETTINGS, preset_config
from trainer.latent.samplers import SamplerChoice, choose_sampler

HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def test_gaussian_nll_uses_the_batch_optimal_sigma():
    target = torch.full((2, 3, 4, 4), 0.5)
    images = target + 0.1                        # every pixel off by 0.1: sigma = 0.1
    per_pixel = 0.5 + math.log(0.1) + HALF_LOG_2PI
    assert gaussian_nll(images, target) == pytest.approx(torch.full((2,), 48 * per_pixel), rel=1e-5)


def test_gaussian_nll_shares_one_sigma_over_the_batch():
    target = torch.zeros(2, 1, 2, 2)
    images = torch.stack([torch.full((1, 2, 2), 0.3), torch.full((1, 2, 2), 0.1)])
    sigma2 = (0.09 + 0.01) / 2
    expected = [4 * (0.5 * e / sigma2 + 0.5 * math.log(sigma2) + HALF_LOG_2PI) for e in (0.09, 0.01)]
    assert gaussian_nll(images, target).tolist() == pytest.approx(expected, rel=1e-5)


def test_gaussian_nll_floors_sigma_for_a_perfect_reconstruction():
    target = torch.rand(1, 3, 4, 4)
    assert gaussian_nll(target, target).item() == pytest.approx(48 * (MIN_LOG_SIGMA + HALF_LOG_2PI), rel=1e-5)


def test_reconstruction_loss_gaussian_takes_logits_and_its_minimum_is_the_truth():
    target = torch.rand(4, 3, 8, 8) * 0.8 + 0.1
    logits = torch.logit(target).requires_grad_()
    close = reconstruction_loss(logits + 0.05, target, "gaussian").sum()
    far = reconstruction_loss(logits + 0.5, target, "gaussian").sum()
    assert close < far


def test_photo_preset_recommends_a_calibrated_decoder_and_the_cli_uses_it_for_folders(tmp_path):
    assert PRESET_TRAIN_SETTINGS["photo"]["recon_loss"] == "gaussian"
    assert PRESET_TRAIN_SETTINGS["photo"]["beta"] == 1.0
    folder = tmp_path / "faces"
    folder.mkdir()
    config = config_from_args(build_parser().parse_args(["train", "--data", str(folder)]))
    assert config.model.preset == "photo" and config.train.recon_loss == "gaussian"
    synthetic = config_from_args(build_parser().parse_args(["train"]))
    assert synthetic.model.preset == "default" and synthetic.train.recon_loss == "mse"
    assert synthetic.train.epochs == 20
    budgeted = config_from_args(build_parser().parse_args(["train", "--time-budget", "10"]))
    assert budgeted.train.epochs == EPOCH_LIMIT              # the budget, not a default epoch count, ends it
    assert config_from_args(build_parser().parse_args(["train", "--time-budget", "10", "--epochs", "3"])
                            ).train.epochs == 3
    typed = config_from_args(build_parser().parse_args(["train", "--data", str(folder), "--beta", "0.5",
                                                        "--recon-loss", "mse", "--preset", "default"]))
    assert (typed.model.preset, typed.train.beta, typed.train.recon_loss) == ("default", 0.5, "mse")


@pytest.mark.slow
def test_photo_preset_trains_a_few_steps_on_generated_faces(tmp_path, one_torch_thread):
    from trainer.training.loop import train

    config = tiny_config(tmp_path / "runs", tmp_path / "cache", max_steps=6, epochs=1,
                         **{**PRESET_TRAIN_SETTINGS["photo"], "batch_size": 16})
    config.model = preset_config("photo", image_size=32, base_channels=8, depth=3)
    config.data.hflip = False
    losses = []
    result = train(config, events=lambda e: losses.append(e.loss) if hasattr(e, "loss") else None)
    assert result.status == "completed", result.message
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0]
    assert result.final_eval["sampler"]["default"] in ("prior", "gaussian", "mixture", "flow")
    from trainer.training.checkpoint import load_checkpoint
    from trainer.latent.flow import stored_flow
    best = load_checkpoint(result.best_checkpoint)
    assert best.payload["steps_per_epoch"] == 128 // 16   # the info panel's epochs
    # the flow the final evaluation fitted is kept with the latent statistics, readable with weights_only
    assert "flow" in result.final_eval["sampler"]["log_likelihood"]
    assert stored_flow(best.latent_stats).sample(3, seed=0).shape == (3, best.model.latent_dim)


def test_choose_sampler_prefers_a_mixture_for_clustered_codes_and_the_prior_for_normal_ones():
    rng = np.random.default_rng(0)
    normal = rng.standard_normal((600, 6))
    assert choose_sampler(normal[:500], normal[500:]).default == "prior"
    blobs = np.concatenate([rng.normal(2, 0.2, (300, 6)), rng.normal(-2, 0.2, (300, 6))])
    rng.shuffle(blobs)
    choice = choose_sampler(blobs[:500], blobs[500:])
    assert choice.default == "mixture"
    assert choice.log_likelihood["mixture"] > choice.log_likelihood["gaussian"] > choice.log_likelihood["prior"]
    assert "mixture fitted to 500 encoded training images" in choice.describe()
    assert SamplerChoice.from_dict(choice.to_dict()) == choice
    assert SamplerChoice.from_dict({"default": "nonsense"}) is None


def test_an_autoencoder_never_defaults_to_the_prior():
    codes = np.random.default_rng(1).standard_normal((300, 4))
    assert choose_sampler(codes[:250], codes[250:], is_variational=False).default != "prior"


def test_predict_uses_the_chosen_sampler_and_says_so(tiny_checkpoint, tmp_path):
    from trainer.cli.predict import write_predictions

    lines = []
    written = write_predictions(tiny_checkpoint, tmp_path / "out", n_recon=4, n_samples=4, say=lines.append,
                                device="cpu")
    assert written == 12
    assert len(lines) == 1 and lines[0].startswith("samples from the ")
    lines.clear()
    write_predictions(tiny_checkpoint, tmp_path / "prior", n_recon=1, n_samples=2, sampler="prior",
                      say=lines.append, device="cpu")
    assert lines == ["samples from the prior"]
