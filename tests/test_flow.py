"""The learned prior (trainer/latent/flow.py): a small RealNVP flow over encoded codes, offered beside the prior,
the Gaussian and the mixture, chosen when it explains held-out codes best, stored in the latent statistics."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from sklearn.datasets import make_moons

from trainer.deadline import Deadline
from trainer.latent.flow import FlowSampler, stored_flow
from trainer.latent.samplers import (GaussianSampler, SamplerError, choose_sampler, make_sampler,
                                     sampler_from_dict)
from trainer.latent.stats import LatentStats, compute_latent_stats

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _moons(n: int = 1200) -> np.ndarray:
    return make_moons(n, noise=0.05, random_state=0)[0]


def _bananas(n: int, dim: int = 8) -> np.ndarray:
    """Each odd dimension bends along its even neighbour: one curved ridge per pair, no clusters."""
    z = np.random.default_rng(0).standard_normal((n, dim))
    z[:, 1::2] = 0.3 * z[:, 1::2] + z[:, 0::2] ** 2 - 1
    return z


@pytest.fixture(scope="module")
def moons_flow() -> FlowSampler:
    # room to stop on held-out codes (about 120 epochs) even on a busy machine, where 20 s may be a few epochs
    return FlowSampler.fit(_moons()[:1000], max_seconds=300)


@pytest.mark.slow      # the flow on two moons trains for ~8 s on a busy 2-core machine
def test_the_flow_fits_two_moons_far_better_than_a_gaussian(moons_flow: FlowSampler) -> None:
    train, held_out = _moons()[:1000], _moons()[1000:]
    gaussian = GaussianSampler.fit(train).log_likelihood(held_out)
    assert moons_flow.log_likelihood(held_out) > gaussian + 0.8      # nats per code; measured -0.5 vs -1.9
    samples = moons_flow.sample(2000, seed=0)
    # its samples lie on the moons: few fall in the empty gap between the two arcs' centres
    gap = (np.abs(samples[:, 0] - 0.5) < 0.15) & (np.abs(samples[:, 1] - 0.25) < 0.1)
    assert gap.mean() < 0.02


@pytest.mark.slow      # the flow on two moons trains for ~8 s on a busy 2-core machine
def test_samples_have_the_right_shape_depend_only_on_the_seed_and_shrink_with_temperature(
        moons_flow: FlowSampler) -> None:
    samples = moons_flow.sample(7, seed=3)
    assert samples.shape == (7, 2) and samples.dtype == np.float32 and np.isfinite(samples).all()
    np.testing.assert_array_equal(samples, moons_flow.sample(7, seed=3))
    assert not np.array_equal(samples, moons_flow.sample(7, seed=4))
    import dataclasses
    cold = dataclasses.replace(moons_flow, temperature=0.0).sample(5, seed=1)
    np.testing.assert_allclose(cold, np.repeat(cold[:1], 5, axis=0), atol=1e-6)   # every draw is the same point


def test_the_same_seed_fits_the_same_flow() -> None:
    codes = _moons(100)                # few codes: training stops on held-out codes, long before its time limit
    a, b = FlowSampler.fit(codes, seed=1), FlowSampler.fit(codes, seed=1)
    assert a.epochs == b.epochs
    np.testing.assert_array_equal(a.sample(5, 0), b.sample(5, 0))
    assert not np.array_equal(FlowSampler.fit(codes, seed=2).sample(5, 0), a.sample(5, 0))


@pytest.mark.slow      # the flow on two moons trains for ~8 s on a busy 2-core machine
def test_it_saves_and_loads_with_weights_only_through_the_latent_statistics(moons_flow: FlowSampler) -> None:
    stats = compute_latent_stats(_moons(50))
    stats.flow = moons_flow.to_dict()
    buffer = io.BytesIO()
    torch.save({"latent_stats": stats.to_dict()}, buffer)
    buffer.seek(0)
    loaded = LatentStats.from_dict(torch.load(buffer, weights_only=True)["latent_stats"])
    again = sampler_from_dict(loaded.flow)
    assert isinstance(again, FlowSampler) and again.latent_dim == 2
    np.testing.assert_array_equal(again.sample(9, seed=2), moons_flow.sample(9, seed=2))
    assert again.log_likelihood(_moons(50)) == pytest.approx(moons_flow.log_likelihood(_moons(50)), rel=1e-6)
    warm = stored_flow(loaded.to_dict(), temperature=0.5)
    assert warm.temperature == 0.5 and np.abs(warm.sample(200, 0)).max() < np.abs(again.sample(200, 0)).max()
    assert stored_flow(compute_latent_stats(_moons(50)).to_dict()) is None
    broken = {**moons_flow.to_dict(), "weights": {"nonsense": torch.zeros(1)}}
    with pytest.raises(SamplerError, match="evaluate the checkpoint again"):
        FlowSampler.from_dict(broken)
    assert stored_flow({"flow": broken}) is None


def test_the_choice_picks_the_flow_for_curved_codes_and_keeps_it_fitted() -> None:
    codes = _bananas(1500)
    choice = choose_sampler(codes[:1200], codes[1200:])
    assert choice.default == "flow"                     # measured: flow -6.8, mixture -9.6, gaussian -12.6 nats
    assert choice.log_likelihood["flow"] > choice.log_likelihood["mixture"] > choice.log_likelihood["gaussian"]
    assert isinstance(choice.fitted["flow"], FlowSampler)
    assert "fitted" not in choice.to_dict()


def test_under_a_spent_deadline_the_flow_is_left_out() -> None:
    codes = _moons(200)
    assert FlowSampler.fit(codes, deadline=Deadline(-1)) is None
    choice = choose_sampler(codes[:150], codes[150:], deadline=Deadline(-1))
    assert "flow" not in choice.log_likelihood and "gaussian" in choice.log_likelihood


def test_make_sampler_fits_a_flow_and_says_what_it_cannot_fit() -> None:
    flow = make_sampler("flow", 2, latents=_moons(100), temperature=0.7)
    assert isinstance(flow, FlowSampler) and flow.temperature == 0.7
    with pytest.raises(SamplerError, match="at least 20"):
        make_sampler("flow", 2, latents=_moons(10))
    with pytest.raises(SamplerError, match="at least 2 latent dimensions"):
        make_sampler("flow", 1, latents=_moons(100)[:, :1])
