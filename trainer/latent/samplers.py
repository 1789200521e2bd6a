"""Where random latents come from: the prior, or a Gaussian, a Gaussian mixture or a normalising flow
(trainer.latent.flow) fitted to encoded data.

A VAE's aggregate posterior rarely matches N(0, I), and a plain AE has no prior at all, so drawing from a density
fitted to the encoded training set usually gives better faces. Every sampler is deterministic per seed, scales its
spread by a temperature (0 = the means, 1 = as fitted), and round-trips through to_dict()/from_dict() with plain
Python types so fitted parameters can be cached. Change the temperature of a fitted sampler without refitting with
dataclasses.replace(sampler, temperature=t).

Also here: single random starting points for the explorer (random_*_latent) and sample_images, which draws latents
from a sampler and decodes them.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np
import torch

from trainer.deadline import Deadline
from trainer.errors import UserError
from trainer.latent.codec import decode_latents
from trainer.latent.stats import LatentStats

SAMPLER_KINDS = ("prior", "gaussian", "mixture", "flow")
FLOW_SHARE = 0.5        # under a deadline, the flow may train for this share of what is left (the mixture fits after)
RIDGE_FRACTION = 1e-4   # covariance ridge relative to the average variance: keeps collapsed dims positive definite
RIDGE_FLOOR = 1e-8


class SamplerError(UserError, ValueError):
    """A sampler cannot be built from what it was given (unknown kind, missing or too few latents)."""


@runtime_checkable
class LatentSampler(Protocol):
    name: str

    @property
    def latent_dim(self) -> int: ...

    def sample(self, n: int, seed: int) -> np.ndarray: ...   # (n, D) float32, the same for the same seed

    def to_dict(self) -> dict: ...


@dataclass(eq=False)
class PriorSampler:
    """N(0, temperature^2 I), the VAE's prior."""

    name: ClassVar[str] = "prior"
    latent_dim: int
    temperature: float = 1.0

    def __post_init__(self):
        if self.latent_dim < 1:
            raise SamplerError(f"latent_dim must be at least 1, got {self.latent_dim}")
        _check_temperature(self.temperature)

    def sample(self, n: int, seed: int) -> np.ndarray:
        noise = np.random.default_rng(seed).standard_normal((n, self.latent_dim))
        return (self.temperature * noise).astype(np.float32)

    def to_dict(self) -> dict:
        return {"kind": self.name, "latent_dim": int(self.latent_dim), "temperature": float(self.temperature)}

    def log_likelihood(self, latents: np.ndarray) -> float:
        """Mean log-density (nats per code) of `latents` under this sampler at temperature 1."""
        from scipy.stats import norm      # imported here, like scikit-learn: slow to import at start-up

        return float(norm.logpdf(np.asarray(latents, np.float64)).sum(axis=1).mean())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PriorSampler":
        _check_kind(d, cls.name)
        return cls(int(d["latent_dim"]), float(d["temperature"]))


@dataclass(eq=False)
class GaussianSampler:
    """One full-covariance Gaussian fitted to latents: mean + temperature * L @ eps, with cov = L L^T."""

    name: ClassVar[str] = "gaussian"
    mean: np.ndarray          # (D,)
    cholesky: np.ndarray      # (D, D) lower triangular
    temperature: float = 1.0

    def __post_init__(self):
        _check_temperature(self.temperature)

    @property
    def latent_dim(self) -> int:
        return int(self.mean.shape[0])

    @classmethod
    def fit(cls, latents: np.ndarray, temperature: float = 1.0) -> "GaussianSampler":
        latents = _checked_latents(latents, minimum=2, what="a Gaussian")
        covariance = np.atleast_2d(np.cov(latents, rowvar=False))
        covariance += _ridge(latents) * np.eye(latents.shape[1])
        return cls(latents.mean(axis=0), np.linalg.cholesky(covariance), temperature)

    def sample(self, n: int, seed: int) -> np.ndarray:
        noise = np.random.default_rng(seed).standard_normal((n, self.latent_dim))
        return (self.mean + self.temperature * noise @ self.cholesky.T).astype(np.float32)

    def to_dict(self) -> dict:
        return {"kind": self.name, "temperature": float(self.temperature), "mean": self.mean.tolist(),
                "cholesky": self.cholesky.tolist()}

    def log_likelihood(self, latents: np.ndarray) -> float:
        """Mean log-density (nats per code) of `latents` under the fitted Gaussian."""
        from scipy.stats import multivariate_normal

        covariance = self.cholesky @ self.cholesky.T
        return float(multivariate_normal(self.mean, covariance).logpdf(np.asarray(latents, np.float64)).mean())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "GaussianSampler":
        _check_kind(d, cls.name)
        return cls(np.asarray(d["mean"], np.float64), np.asarray(d["cholesky"], np.float64), float(d["temperature"]))


@dataclass(eq=False)
class MixtureSampler:
    """A full-covariance Gaussian mixture fitted with scikit-learn, sampled with numpy.

    The temperature scales the spread around each component's mean; the component weights stay as fitted.
    """

    name: ClassVar[str] = "mixture"
    weights: np.ndarray       # (K,) summing to 1
    means: np.ndarray         # (K, D)
    choleskys: np.ndarray     # (K, D, D) lower-triangular factors of the component covariances
    temperature: float = 1.0

    def __post_init__(self):
        _check_temperature(self.temperature)

    @property
    def latent_dim(self) -> int:
        return int(self.means.shape[1])

    @classmethod
    def fit(cls, latents: np.ndarray, n_components: int = 10, seed: int = 0,
            temperature: float = 1.0, deadline: Deadline | None = None) -> "MixtureSampler | None":
        """The fitted mixture; with a `deadline`, None when EM has not converged before it."""
        from sklearn.mixture import GaussianMixture   # imported here: scikit-learn is slow to import
        from threadpoolctl import threadpool_limits    # ships with scikit-learn

        if n_components < 1:
            raise SamplerError(f"a mixture needs at least 1 component, got {n_components}")
        latents = _checked_latents(latents, minimum=2 * n_components, what=f"a {n_components}-component mixture")
        mixture = GaussianMixture(n_components=n_components, covariance_type="full", reg_covar=_ridge(latents),
                                  random_state=seed)
        # EM on small matrices is dominated by BLAS threading overhead: one thread fitted 5000 x 16 latents
        # in 0.5 s where the default threads took 12 s on a busy 2-core machine.
        with threadpool_limits(limits=1):
            if deadline is None:
                mixture.fit(latents)
            elif not _fit_in_time(mixture, latents, deadline):
                return None
        return cls(mixture.weights_ / mixture.weights_.sum(), mixture.means_,
                   np.linalg.cholesky(mixture.covariances_), temperature)

    def sample(self, n: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        components = rng.choice(len(self.weights), size=n, p=self.weights)
        noise = rng.standard_normal((n, self.latent_dim))
        out = np.empty((n, self.latent_dim))
        # One matrix product per component rather than gathering an (n, D, D) stack of factors.
        for k in np.unique(components):
            rows = components == k
            out[rows] = self.means[k] + self.temperature * noise[rows] @ self.choleskys[k].T
        return out.astype(np.float32)

    def to_dict(self) -> dict:
        return {"kind": self.name, "temperature": float(self.temperature), "weights": self.weights.tolist(),
                "means": self.means.tolist(), "choleskys": self.choleskys.tolist()}

    def log_likelihood(self, latents: np.ndarray) -> float:
        """Mean log-density (nats per code) of `latents` under the fitted mixture."""
        from scipy.special import logsumexp
        from scipy.stats import multivariate_normal

        latents = np.asarray(latents, np.float64)
        per_component = [np.log(weight) + multivariate_normal(mean, chol @ chol.T).logpdf(latents)
                         for weight, mean, chol in zip(self.weights, self.means, self.choleskys)]
        return float(logsumexp(np.stack(per_component, axis=0), axis=0).mean())

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "MixtureSampler":
        _check_kind(d, cls.name)
        return cls(np.asarray(d["weights"], np.float64), np.asarray(d["means"], np.float64),
                   np.asarray(d["choleskys"], np.float64), float(d["temperature"]))


def _sampler_classes() -> dict[str, type]:
    from trainer.latent.flow import FlowSampler      # it imports this module's checks

    return {cls.name: cls for cls in (PriorSampler, GaussianSampler, MixtureSampler, FlowSampler)}


def make_sampler(kind: str, latent_dim: int, latents: np.ndarray | None = None, temperature: float = 1.0,
                 n_components: int = 10, seed: int = 0) -> LatentSampler:
    """A sampler of the given kind; "gaussian", "mixture" and "flow" are fitted to `latents` (N, latent_dim) (a
    flow trains for seconds: trainer.latent.flow.FLOW_MAX_SECONDS at most)."""
    if kind not in SAMPLER_KINDS:
        raise SamplerError(f"unknown sampler {kind!r}; choose one of {SAMPLER_KINDS}")
    if kind == "prior":
        return PriorSampler(latent_dim, temperature)
    if latents is None:
        raise SamplerError(f"the {kind!r} sampler is fitted to encoded images, but no latents were given; "
                           "encode a data set first or use the 'prior' sampler")
    latents = np.asarray(latents)
    if latents.ndim != 2 or latents.shape[1] != latent_dim:
        raise SamplerError(f"latents of shape {latents.shape} do not match the model's latent size {latent_dim}")
    if kind == "gaussian":
        return GaussianSampler.fit(latents, temperature)
    if kind == "flow":
        from trainer.latent.flow import FlowSampler

        return FlowSampler.fit(latents, seed=seed, temperature=temperature)
    return MixtureSampler.fit(latents, n_components=n_components, seed=seed, temperature=temperature)


@dataclass
class SamplerChoice:
    """Which sampler draws a model's random faces by default, and why: the mean held-out log-likelihood of the
    encoded test images under each candidate fitted to the encoded training images (higher is better). `fitted` holds the candidates as fitted (not stored with the
    choice: the evaluation keeps the flow in the latent statistics, trainer.latent.stats.LatentStats.flow)."""

    default: str
    log_likelihood: dict[str, float]
    n_fit: int
    fitted: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict:
        return {"default": self.default, "log_likelihood": dict(self.log_likelihood), "n_fit": self.n_fit}

    @classmethod
    def from_dict(cls, d: Any) -> "SamplerChoice | None":
        """None when `d` is not a stored choice (older checkpoints have none)."""
        if not isinstance(d, dict) or d.get("default") not in SAMPLER_KINDS:
            return None
        scores = d.get("log_likelihood") if isinstance(d.get("log_likelihood"), dict) else {}
        return cls(str(d["default"]), {str(k): float(v) for k, v in scores.items()}, int(d.get("n_fit", 0)))

    def describe(self) -> str:
        """One line for the CLI and the explorer, e.g. 'mixture fitted to 2685 training codes (held-out
        log-likelihood -151 nats vs -182 under the prior)'."""
        if self.default == "prior":
            return "the prior N(0, I) (it fits the encoded test images at least as well as a fitted density)"
        best = self.log_likelihood.get(self.default)
        prior = self.log_likelihood.get("prior")
        why = f" (held-out log-likelihood {best:.0f} vs {prior:.0f} nats under the prior)" if (
            best is not None and prior is not None) else ""
        return f"the {self.default} fitted to {self.n_fit} encoded training images{why}"


def choose_sampler(train_latents: np.ndarray, test_latents: np.ndarray, is_variational: bool = True,
                   n_components: int = 10, seed: int = 0, deadline: Deadline | None = None) -> SamplerChoice:
    """The candidate that best explains held-out codes: fitted to `train_latents`, scored on `test_latents`.

    An autoencoder has no prior, so for it the prior is never the default. With a `deadline`, the flow trains for
    FLOW_SHARE of it at most, and a flow or a mixture that has no time to fit is left out (the scores then lack
    "flow" or "mixture").
    """
    from trainer.latent.flow import FLOW_MIN_CODES, FlowSampler

    dim = np.asarray(train_latents).shape[1]
    candidates: dict[str, LatentSampler] = {"prior": PriorSampler(dim)} if is_variational else {}
    candidates["gaussian"] = GaussianSampler.fit(train_latents)
    if len(train_latents) >= FLOW_MIN_CODES and dim >= 2:
        flow = FlowSampler.fit(train_latents, seed=seed, deadline=deadline.part(FLOW_SHARE) if deadline else None)
        if flow is not None:
            candidates["flow"] = flow
    if len(train_latents) >= 2 * n_components:
        mixture = MixtureSampler.fit(train_latents, n_components=n_components, seed=seed, deadline=deadline)
        if mixture is not None:
            candidates["mixture"] = mixture
    scores = {kind: sampler.log_likelihood(test_latents) for kind, sampler in candidates.items()}
    scores = {kind: score for kind, score in scores.items() if math.isfinite(score)}
    best = max(scores, key=scores.get) if scores else ("prior" if is_variational else "gaussian")
    return SamplerChoice(best, scores, int(len(train_latents)), candidates)


def sampler_from_dict(d: dict[str, Any]) -> LatentSampler:
    """Rebuild any sampler from its to_dict()."""
    kind = d.get("kind")
    classes = _sampler_classes()
    if kind not in classes:
        raise SamplerError(f"cannot rebuild a sampler of kind {kind!r}; known kinds are {SAMPLER_KINDS}")
    return classes[kind].from_dict(d)


def sample_images(model: torch.nn.Module, n: int, seed: int, sampler_kind: str = "prior",
                  fit_latents: np.ndarray | None = None) -> np.ndarray:
    """uint8 (n, H, W, 3) random images: latents from the `sampler_kind` sampler, decoded exactly (fp32).

    "gaussian", "mixture" and "flow" are fitted to `fit_latents` (posterior means (N, D) of training images)."""
    sampler = make_sampler(sampler_kind, model.latent_dim, latents=fit_latents, seed=seed)
    return decode_latents(model, sampler.sample(n, seed), batch_size=256, exact=True)


def samples_or_prior(model: torch.nn.Module, n: int, seed: int, sampler_kind: str,
                     fit_latents: np.ndarray | None) -> tuple[np.ndarray, str]:
    """sample_images(), from the prior when the sampler cannot be fitted (too few codes, NaN codes): a diverged
    or tiny model still shows something. Returns the images and the sampler kind used."""
    try:
        return sample_images(model, n, seed, sampler_kind, fit_latents), sampler_kind
    except SamplerError:
        return sample_images(model, n, seed, "prior"), "prior"


# ---------------------------------------------------------------- single random starting points (the explorer)

def random_prior_latent(latent_dim: int, rng: np.random.Generator, temperature: float = 1.0) -> np.ndarray:
    """A draw from N(0, temperature^2 I)."""
    return (rng.standard_normal(latent_dim) * temperature).astype(np.float32)


def random_code_latent(stats: LatentStats | None, latent_dim: int, rng: np.random.Generator) -> np.ndarray:
    """For a plain AE, which has no prior: a draw from N(mean, std^2) of its encoded codes (N(0, I) without stats)."""
    noise = rng.standard_normal(latent_dim)
    if stats is None:
        return noise.astype(np.float32)
    return code_spread_latents(stats.mean, stats.std, noise)


def code_spread_latents(mean: np.ndarray, std: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Standard-normal `noise` ((N, D) or (D,)) placed where a plain AE's codes live: N(mean, std^2) per dimension,
    `mean` and `std` of its encoded codes. The one way an AE (no prior) is sampled."""
    return (np.asarray(mean) + np.asarray(std) * np.asarray(noise)).astype(np.float32)


def random_data_latent(latents: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """One encoded image's mean, picked at random, and its index."""
    index = int(rng.integers(len(latents)))
    return np.asarray(latents[index], dtype=np.float32).copy(), index


def _fit_in_time(mixture, latents: np.ndarray, deadline: Deadline) -> bool:
    """EM one iteration per call (warm start: the same iterations as one fit), stopping when the next iteration,
    as long as the slowest so far, would pass the deadline. True when it converged (or ran its iterations)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    iterations, mixture.max_iter, mixture.warm_start = mixture.max_iter, 1, True
    slowest = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)     # each one-iteration call "did not converge"
        for _ in range(iterations):
            if not deadline.allows(slowest):
                return False
            started = time.monotonic()
            mixture.fit(latents)
            slowest = max(slowest, time.monotonic() - started)
            if mixture.converged_:
                break
    return True


def _checked_latents(latents: np.ndarray, minimum: int, what: str) -> np.ndarray:
    latents = np.asarray(latents, dtype=np.float64)
    if latents.ndim != 2:
        raise SamplerError(f"latents must be an (N, D) array, got shape {latents.shape}")
    if len(latents) < minimum:
        raise SamplerError(f"fitting {what} needs at least {minimum} encoded images, got {len(latents)}; "
                           "encode more images, use fewer components or the 'prior' sampler")
    if not np.isfinite(latents).all():
        raise SamplerError("the latents contain NaN or infinite values; the model has diverged")
    return latents


def _ridge(latents: np.ndarray) -> float:
    return RIDGE_FRACTION * float(latents.var(axis=0).mean()) + RIDGE_FLOOR


def _check_temperature(temperature: float) -> None:
    if not (math.isfinite(temperature) and temperature >= 0):
        raise SamplerError(f"temperature must be a finite number >= 0, got {temperature}")


def _check_kind(d: dict[str, Any], kind: str) -> None:
    if d.get("kind") != kind:
        raise SamplerError(f"expected a stored {kind!r} sampler, got kind {d.get('kind')!r}")
