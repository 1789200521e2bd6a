"""Latent samplers: prior, fitted Gaussian, fitted mixture; determinism, temperature, caching, errors."""
import dataclasses
import json

import numpy as np
import pytest

from trainer.latent.samplers import (GaussianSampler, LatentSampler, MixtureSampler, PriorSampler, SamplerError,
                              make_sampler, sampler_from_dict)


def _gaussian_data(n: int = 4000):
    rng = np.random.default_rng(0)
    mean = np.array([1.0, -2.0, 0.5])
    cov = np.array([[2.0, 0.6, 0.0], [0.6, 1.0, -0.3], [0.0, -0.3, 0.5]])
    return rng.multivariate_normal(mean, cov, size=n), mean, cov


def _two_blobs(n: int = 200):
    rng = np.random.default_rng(1)
    centre = np.array([10.0, 0.0])
    return np.r_[rng.standard_normal((n, 2)) * 0.5 + centre, rng.standard_normal((n, 2)) * 0.5 - centre], centre


def _all_samplers() -> list[LatentSampler]:
    data, _, _ = _gaussian_data(400)
    return [PriorSampler(3), GaussianSampler.fit(data), MixtureSampler.fit(data, n_components=2)]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_samples_have_shape_dtype_and_depend_only_on_the_seed(index):
    sampler = _all_samplers()[index]
    assert isinstance(sampler, LatentSampler) and sampler.latent_dim == 3
    first = sampler.sample(50, seed=7)
    assert first.shape == (50, 3) and first.dtype == np.float32
    np.testing.assert_array_equal(first, sampler.sample(50, seed=7))
    assert not np.allclose(first, sampler.sample(50, seed=8))


@pytest.mark.parametrize("index", [0, 1, 2])
def test_temperature_scales_the_spread_around_the_means(index):
    sampler = _all_samplers()[index]
    centre = dataclasses.replace(sampler, temperature=0.0).sample(20, seed=3)
    normal = sampler.sample(20, seed=3)
    hot = dataclasses.replace(sampler, temperature=2.0).sample(20, seed=3)
    np.testing.assert_allclose(hot - centre, 2.0 * (normal - centre), atol=1e-4)
    assert np.abs(normal - centre).max() > 0.1


def test_prior_sampler_spread_is_the_temperature():
    samples = PriorSampler(latent_dim=4, temperature=0.5).sample(20000, seed=0)
    np.testing.assert_allclose(samples.std(axis=0), 0.5, rtol=0.03)
    np.testing.assert_allclose(samples.mean(axis=0), 0.0, atol=0.02)


def test_gaussian_fit_recovers_mean_and_covariance():
    data, mean, cov = _gaussian_data()
    sampler = GaussianSampler.fit(data)
    np.testing.assert_allclose(sampler.mean, mean, atol=0.1)
    np.testing.assert_allclose(sampler.cholesky @ sampler.cholesky.T, cov, atol=0.15)
    samples = sampler.sample(20000, seed=1)
    np.testing.assert_allclose(np.cov(samples, rowvar=False), cov, atol=0.15)


def test_gaussian_fit_survives_a_collapsed_dimension():
    data, _, _ = _gaussian_data(500)
    data[:, 1] = 3.0                            # a dim the encoder stopped using: zero variance
    samples = GaussianSampler.fit(data).sample(100, seed=0)
    assert np.isfinite(samples).all()
    np.testing.assert_allclose(samples[:, 1], 3.0, atol=0.1)


def test_mixture_fit_on_two_blobs_samples_from_both():
    data, centre = _two_blobs()
    sampler = MixtureSampler.fit(data, n_components=2, seed=0)
    np.testing.assert_allclose(np.sort(sampler.weights), [0.5, 0.5], atol=0.05)
    samples = sampler.sample(1000, seed=0)
    near_right = np.linalg.norm(samples - centre, axis=1) < 3
    near_left = np.linalg.norm(samples + centre, axis=1) < 3
    assert np.all(near_right | near_left)                 # nothing in the empty space between the blobs
    assert 0.4 < near_right.mean() < 0.6


@pytest.mark.parametrize("index", [0, 1, 2])
def test_to_dict_round_trip_is_plain_and_reproduces_samples(index):
    sampler = dataclasses.replace(_all_samplers()[index], temperature=0.7)
    stored = json.loads(json.dumps(sampler.to_dict()))    # plain Python types only
    rebuilt = sampler_from_dict(stored)
    assert type(rebuilt) is type(sampler) and rebuilt.temperature == 0.7
    np.testing.assert_array_equal(rebuilt.sample(10, seed=2), sampler.sample(10, seed=2))


def test_make_sampler_builds_each_kind():
    data, _ = _two_blobs()
    assert isinstance(make_sampler("prior", 2), PriorSampler)
    assert isinstance(make_sampler("gaussian", 2, latents=data), GaussianSampler)
    mixture = make_sampler("mixture", 2, latents=data, n_components=3, temperature=0.5)
    assert isinstance(mixture, MixtureSampler) and len(mixture.weights) == 3 and mixture.temperature == 0.5


def test_make_sampler_errors_say_what_to_do():
    data, _ = _two_blobs(5)
    with pytest.raises(ValueError, match="unknown sampler 'glow'"):
        make_sampler("glow", 2)
    with pytest.raises(SamplerError, match="no latents were given"):
        make_sampler("gaussian", 2)
    with pytest.raises(SamplerError, match="at least 20 encoded images, got 10"):
        make_sampler("mixture", 2, latents=data, n_components=10)
    with pytest.raises(SamplerError, match="latent size 3"):
        make_sampler("gaussian", 3, latents=data)
    with pytest.raises(SamplerError, match="temperature"):
        make_sampler("prior", 2, temperature=-1.0)
    with pytest.raises(SamplerError, match="kind 'prior'"):
        GaussianSampler.from_dict(PriorSampler(2).to_dict())
