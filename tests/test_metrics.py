"""Metrics with known answers: PSNR, SSIM (checked against scikit-image), active units, discretized MI / MIG, and evaluate() on tiny fake models."""
import json
import math

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity
from torch import nn

from trainer.evaluation.metrics import EvalReport, evaluate, psnr, ssim
from trainer.latent.factor_information import (best_factor_per_dim, discretize, factor_entropies, mig,
                                               mutual_information, mutual_information_matrix)


# ---------------------------------------------------------------- PSNR and SSIM

def test_psnr_of_identical_images_is_the_cap():
    images = torch.rand(3, 3, 8, 8)
    assert torch.equal(psnr(images, images.clone()), torch.full((3,), 100.0))
    assert torch.equal(psnr(images, images, cap_db=60.0), torch.full((3,), 60.0))


def test_psnr_of_known_offsets():
    a = torch.full((2, 3, 8, 8), 0.5)
    b = a.clone()
    b[0] += 0.1          # MSE 0.01 -> 20 dB
    b[1] += 0.01         # MSE 1e-4 -> 40 dB
    assert psnr(a, b).tolist() == pytest.approx([20.0, 40.0], abs=1e-3)
    assert psnr(a * 255, b * 255, max_val=255.0).tolist() == pytest.approx([20.0, 40.0], abs=1e-3)


def test_psnr_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        psnr(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))


def test_ssim_of_identical_images_is_one_and_of_noise_is_low():
    y, x = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 32), indexing="ij")
    smooth = torch.stack([x, y, (x + y) / 2]).unsqueeze(0).repeat(2, 1, 1, 1)
    noise = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert ssim(smooth, smooth).tolist() == pytest.approx([1.0, 1.0], abs=1e-5)
    assert (ssim(smooth, noise) < 0.1).all()


def _skimage_ssim(a: torch.Tensor, b: torch.Tensor) -> list[float]:
    """scikit-image's SSIM of each (C, H, W) pair, set up as Wang et al. 2004 (and ours): an 11x11 Gaussian window
    of sigma 1.5 (truncate 3.5 gives radius 5), population (co)variances, K1 0.01, K2 0.03, data range 1, the mean
    over the positions where the whole window fits and over the channels."""
    return [structural_similarity(x.double().numpy(), y.double().numpy(), channel_axis=0, data_range=1.0,
                                  gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
            for x, y in zip(a, b)]


def test_ssim_of_two_flat_images_matches_scikit_image():
    a = torch.full((1, 3, 16, 16), 0.3)
    b = torch.full((1, 3, 16, 16), 0.6)
    assert ssim(a, b).tolist() == pytest.approx(_skimage_ssim(a, b), abs=1e-5)


@pytest.mark.parametrize("size", [(20, 24), (32, 32), (11, 40)])
def test_ssim_matches_scikit_image(size):
    generator = torch.Generator().manual_seed(1)
    a = torch.rand(2, 3, *size, generator=generator)
    b = (a + 0.2 * torch.randn(2, 3, *size, generator=generator)).clamp(0, 1)
    b[:, 1] = 1 - b[:, 1]          # channels differ a lot: mixing them up would show
    assert ssim(a, b).tolist() == pytest.approx(_skimage_ssim(a, b), abs=1e-4)


def test_ssim_of_a_blurred_face_like_image_matches_scikit_image():
    # smooth structure with a mild blur: SSIM well inside (0, 1), where a wrong window or constant would show
    y, x = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 32), indexing="ij")
    face = torch.stack([(x ** 2 + y ** 2 < 0.6).float(), (y > 0.2).float() * 0.8, 0.5 + 0.4 * x]).unsqueeze(0)
    blurred = torch.nn.functional.avg_pool2d(face, 3, stride=1, padding=1, count_include_pad=False)
    ours, = ssim(face, blurred).tolist()
    assert 0.5 < ours < 0.99
    assert ours == pytest.approx(_skimage_ssim(face, blurred)[0], abs=1e-4)


def test_ssim_rejects_images_smaller_than_the_window():
    with pytest.raises(ValueError, match="smaller than"):
        ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8))


# ---------------------------------------------------------------- discretization

def test_discretize_uses_equal_width_bins_per_column():
    values = np.array([[0.0, 5.0], [0.2, 5.0], [0.5, 5.0], [0.74, 5.0], [1.0, 5.0]])
    codes = discretize(values, n_bins=4)
    assert codes[:, 0].tolist() == [0, 0, 2, 2, 3]
    assert len(set(codes[:, 1].tolist())) == 1       # a constant column falls into one bin


def test_discretize_rejects_non_finite_values():
    with pytest.raises(ValueError, match="NaN"):
        discretize(np.array([[0.0], [np.nan]]))


# ---------------------------------------------------------------- mutual information and MIG

def _uniform_factors(n: int, f: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(size=(n, f)).astype(np.float32)


def test_factor_entropies_keep_categorical_levels():
    levels = np.repeat(np.arange(30.0), 20)[:, None]               # 30 equally frequent levels
    assert factor_entropies(levels, n_bins=5, categorical=[True])[0] == pytest.approx(math.log(30))
    assert factor_entropies(levels, n_bins=5)[0] == pytest.approx(math.log(5))   # binned: 6 levels per bin
    coin = np.array([[0.0], [1.0]] * 50)
    assert factor_entropies(coin)[0] == pytest.approx(math.log(2))


def test_mig_is_high_when_each_dim_copies_one_factor():
    factors = _uniform_factors(2000, 3)
    latents = np.stack([3 * factors[:, 2], factors[:, 0] - 5, 0.5 * factors[:, 1]], axis=1)
    score, gaps = mig(latents, factors)
    assert score > 0.8 and (gaps > 0.8).all()
    found = best_factor_per_dim(latents, factors, ["a", "b", "c"])
    assert [name for name, _ in found] == ["c", "a", "b"]
    assert all(s == pytest.approx(1.0, abs=1e-6) for _, s in found)


def test_mig_is_near_zero_for_latents_independent_of_the_factors():
    factors = _uniform_factors(5000, 3, seed=1)
    latents = np.random.default_rng(2).normal(size=(5000, 4))
    score, _ = mig(latents, factors)
    assert 0 <= score < 0.05


def test_mutual_information_matrix_is_in_nats_with_factors_in_columns():
    factors = _uniform_factors(1000, 2)
    latents = np.stack([factors[:, 1], np.random.default_rng(3).normal(size=1000)], axis=1)
    info = mutual_information_matrix(latents, factors)
    assert info.shape == (2, 2)
    assert info[0, 1] == pytest.approx(factor_entropies(factors)[1])      # a copy shares all of the factor's entropy
    assert info[0, 1] > 10 * max(info[0, 0], info[1, 0], info[1, 1])


@pytest.mark.parametrize("levels_a, levels_b, n", [(20, 20, 1000), (3, 20, 500), (2, 2, 7), (1, 5, 50)])
def test_mutual_information_is_scikit_learns_estimate(levels_a, levels_b, n):
    from sklearn.metrics import mutual_info_score

    rng = np.random.default_rng(levels_a * 100 + levels_b)
    a = rng.integers(0, levels_a, n)
    b = (a + rng.integers(0, 3, n)) % levels_b                   # related, not equal
    assert mutual_information(a, b) == pytest.approx(mutual_info_score(a, b), abs=1e-12)
    assert mutual_information(a, a) == pytest.approx(mutual_info_score(a, a), abs=1e-12)


def test_categorical_factor_is_handled():
    rng = np.random.default_rng(4)
    shape = rng.choice([0.0, 1.0, 7.0], size=1200)                 # three levels, unevenly spaced
    factors = np.stack([rng.uniform(size=1200), shape], axis=1)
    latents = np.stack([shape + 0.5, factors[:, 0]], axis=1)
    info = mutual_information_matrix(latents, factors, categorical=[False, True])
    entropy = factor_entropies(factors, categorical=[False, True])
    assert entropy[1] == pytest.approx(math.log(3), abs=0.01)
    assert info[0, 1] == pytest.approx(entropy[1])
    score, _ = mig(latents, factors, categorical=[False, True])
    assert score > 0.8
    names = [name for name, _ in best_factor_per_dim(latents, factors, ["size", "shape"], categorical=[False, True])]
    assert names == ["shape", "size"]


def test_mig_skips_factors_that_never_vary():
    factors = _uniform_factors(1000, 2)
    factors[:, 1] = 0.25
    latents = factors[:, :1] * 2
    score, gaps = mig(latents, factors)
    assert math.isnan(gaps[1])
    assert score == pytest.approx(gaps[0]) and score > 0.8


def test_mismatched_sample_counts_are_rejected():
    with pytest.raises(ValueError, match="same N"):
        mutual_information_matrix(np.zeros((10, 2)), np.zeros((9, 2)))
    with pytest.raises(ValueError, match="factor names"):
        best_factor_per_dim(np.zeros((10, 2)), np.zeros((10, 2)), ["only one"])


# ---------------------------------------------------------------- evaluate() on fake models

class FlatColourModel(nn.Module):
    """The FaceModel interface for flat-coloured images: the code is the mean colour (D = 3), the decoder paints
    the code plus `offset` back. A VAE version reports logvar 0, so its KL per dim is mean^2 / 2."""

    def __init__(self, variational: bool, offset: float = 0.0):
        super().__init__()
        self.is_variational = variational
        self.latent_dim = 3
        self.offset = offset
        self.size = 16
        self.calls: list[tuple[bool, bool]] = []          # (training, grad enabled) at each encode

    def encode(self, x):
        self.calls.append((self.training, torch.is_grad_enabled()))
        mean = x.mean(dim=(2, 3))
        return mean, (torch.zeros_like(mean) if self.is_variational else None)

    def decode_logits(self, z):
        return torch.logit(z + self.offset)[:, :, None, None].expand(-1, -1, self.size, self.size)

    def decode(self, z):
        return torch.sigmoid(self.decode_logits(z))


def _flat_colour_images(n: int = 400) -> tuple[torch.Tensor, np.ndarray]:
    """uint8 (n, 3, 16, 16) flat images; red varies widely, green a little, blue not at all; factors = colours."""
    rng = np.random.default_rng(5)
    colours = np.stack([rng.integers(20, 200, n), rng.integers(100, 106, n), np.full(n, 60)], axis=1)
    images = torch.from_numpy(colours.astype(np.uint8))[:, :, None, None].expand(-1, -1, 16, 16).contiguous()
    return images, colours.astype(np.float32) / 255


def test_evaluate_vae_reports_kl_active_units_and_factors():
    images, factors = _flat_colour_images()
    model = FlatColourModel(variational=True)
    report = evaluate(model, images, factors=factors, factor_names=["red", "green", "blue"], batch_size=64)
    assert report.n_images == 400 and report.latent_dim == 3
    assert report.mse < 1e-10 and report.psnr == pytest.approx(100.0) and report.ssim == pytest.approx(1.0, abs=1e-4)
    expected_kl = 0.5 * (factors ** 2).mean(axis=0)
    assert report.kl_per_dim == pytest.approx(expected_kl.tolist(), rel=1e-5)
    assert report.kl == pytest.approx(expected_kl.sum(), rel=1e-5)
    assert report.neg_elbo == pytest.approx(report.recon_loss + report.kl)
    # Active = mean KL >= 0.01 nats (trainer.evaluation.metrics.active_dimensions): every dim's 0.5 * mean^2 is above it.
    assert report.active_units == int((expected_kl >= 0.01).sum()) == 3
    assert set(report.mig_per_factor) == {"red", "green"}  # blue never varies
    assert report.mig > 0.8
    assert [name for name, _ in report.dim_factors[:2]] == ["red", "green"]
    assert report.dim_labels["significant"][:2] == [True, True] and report.dim_labels["n_images"] == 400
    assert "on 400 images" in report.format_table()


def test_evaluate_ae_leaves_vae_fields_empty_and_measures_the_offset():
    images, _ = _flat_colour_images()
    report = evaluate(FlatColourModel(variational=False, offset=0.1), images)
    assert report.kl is None and report.kl_per_dim is None and report.neg_elbo is None
    assert report.mig is None and report.dim_factors is None
    assert report.active_units == 1                       # an AE: code variance > 0.01, only red (~0.04)
    assert report.mse == pytest.approx(0.01, rel=1e-3)
    assert report.psnr == pytest.approx(20.0, abs=1e-2)
    assert report.recon_loss == pytest.approx(0.01 * 3 * 16 * 16, rel=1e-3)
    assert math.isfinite(report.ssim) and report.ssim < 1.0


def test_evaluate_runs_in_eval_mode_without_gradients_and_restores_training():
    images, _ = _flat_colour_images(10)
    model = FlatColourModel(variational=True).train()
    evaluate(model, images, batch_size=3)
    assert model.training
    assert model.calls == [(False, False)] * 4           # 10 images in batches of 3


def test_evaluate_does_not_depend_on_the_batch_size():
    images, factors = _flat_colour_images()
    one = evaluate(FlatColourModel(True, offset=0.05), images, factors=factors, batch_size=7).to_dict()
    other = evaluate(FlatColourModel(True, offset=0.05), images, factors=factors, batch_size=256).to_dict()
    for key in ("mse", "psnr", "ssim", "kl", "recon_loss", "mig"):
        assert one[key] == pytest.approx(other[key], rel=1e-6)
    assert one["dim_factors"] == other["dim_factors"]


def test_evaluate_rejects_empty_data_and_mismatched_factors():
    images, factors = _flat_colour_images()
    with pytest.raises(ValueError, match="non-empty"):
        evaluate(FlatColourModel(True), images[:0])
    with pytest.raises(ValueError, match="factor rows"):
        evaluate(FlatColourModel(True), images, factors=factors[:5])


# ---------------------------------------------------------------- the report

def test_report_survives_json_and_back():
    images, factors = _flat_colour_images()
    for model, f in ((FlatColourModel(True), factors), (FlatColourModel(False, offset=0.1), None)):
        report = evaluate(model, images, factors=f, factor_names=["red", "green", "blue"] if f is not None else None)
        text = json.dumps(report.to_dict(), allow_nan=False)
        loaded = EvalReport.from_dict({**json.loads(text), "step": 7, "data": "synthetic"})   # extra keys ignored
        assert loaded == report


def test_report_from_an_incomplete_dict_says_what_is_missing():
    with pytest.raises(ValueError, match="psnr"):
        EvalReport.from_dict({"n_images": 1, "mse": 0.1, "ssim": 0.5, "recon_loss": 1.0, "latent_dim": 2})


def test_format_table_lists_metrics_and_dimensions():
    images, factors = _flat_colour_images()
    vae = evaluate(FlatColourModel(True), images, factors=factors, factor_names=["red", "green", "blue"]).format_table()
    assert "PSNR" in vae and "100.00 dB" in vae and "active units        3 / 3" in vae and "MIG" in vae
    assert "z0" in vae and "red" in vae                    # per-dimension listing
    ae = evaluate(FlatColourModel(False, offset=0.1), images).format_table()
    assert "20.00 dB" in ae and "KL" not in ae and "z0" not in ae


def test_one_definition_of_an_active_dimension():
    """A VAE dim is active by its mean KL (>= 0.01 nats), whatever the spread of its mean; an AE dim by the variance
    of its code (> 0.01)."""
    from trainer.latent.stats import compute_latent_stats
    from trainer.latent.stats import ACTIVE_KL_NATS, active_definition, active_dimensions

    assert active_dimensions(kl_per_dim=[2.16, 0.05, 0.009, ACTIVE_KL_NATS]).tolist() == [True, True, False, True]
    assert active_dimensions(code_variance=[0.5, 0.01, 0.011]).tolist() == [True, False, True]
    rng = np.random.default_rng(0)
    means = np.stack([rng.normal(0, 0.05, 500), np.full(500, 0.0), rng.normal(0, 1.0, 500)], axis=1)
    logvars = np.stack([np.full(500, -3.0), np.zeros(500), np.full(500, -2.0)], axis=1)
    stats = compute_latent_stats(means, logvars)
    # dim 0: mean spread var 0.0025 (the old variance rule: inactive) but KL ~ 1 nat: active.
    assert stats.active.tolist() == active_dimensions(stats.kl_per_dim).tolist() == [True, False, True]
    assert type(stats).from_dict(stats.to_dict()).active.tolist() == [True, False, True]
    assert "0.01 nats" in active_definition(True) and "variance" in active_definition(False)
