"""A learned prior: a small normalising flow (RealNVP affine couplings, Dinh et al. 2017) fitted to encoded codes.

A VAE's encoded training codes are not Gaussian: they bend and cluster, and where a Gaussian puts mass between the
clusters the decoder draws blurred in-between faces. A flow is a density that follows the codes: an invertible
network maps codes to N(0, I), so log p(z) is exact (compared with the other samplers' held-out log-likelihood by
trainer.latent.samplers.choose_sampler) and a sample is the inverse of a Gaussian draw. The codes' own size
(thousands of points, tens of dimensions) needs only a few layers: it fits in seconds on a CPU.

FlowSampler follows the other samplers' protocol: deterministic per seed, a temperature scaling the Gaussian draw
(0 = the flow's image of the origin), and to_dict()/from_dict() with plain types and tensors only (it is stored in
a checkpoint's latent statistics, read back with torch.load(weights_only=True)).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from trainer.deadline import Deadline

FLOW_LAYERS = 6              # affine couplings; each changes half of the dimensions
FLOW_HIDDEN = 64             # width of each coupling's network: more overfits a few thousand codes at once
FLOW_MAX_SECONDS = 20.0      # training stops here at the latest
FLOW_BATCH = 256
FLOW_LEARNING_RATE = 1e-3
FLOW_WEIGHT_DECAY = 1e-4
FLOW_PATIENCE = 15           # epochs without a better validation likelihood before training stops
FLOW_VALIDATION = 0.1        # share of the codes held back to stop training before it overfits
FLOW_MAX_EPOCHS = 400
FLOW_MIN_CODES = 20


class _Coupling(nn.Module):
    """y = x where mask, x * exp(s(x_mask)) + t(x_mask) elsewhere; s bounded by tanh so training cannot blow up."""

    def __init__(self, mask: torch.Tensor, hidden: int):
        super().__init__()
        dim = int(mask.numel())
        self.register_buffer("mask", mask.float())
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, 2 * dim))
        nn.init.zeros_(self.net[-1].weight)       # each coupling starts as the identity
        nn.init.zeros_(self.net[-1].bias)

    def _shift_scale(self, kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_scale, shift = self.net(kept).chunk(2, dim=-1)
        free = 1.0 - self.mask
        return torch.tanh(log_scale) * free, shift * free

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        log_scale, shift = self._shift_scale(x * self.mask)
        return x * torch.exp(log_scale) + shift, log_scale.sum(dim=-1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        log_scale, shift = self._shift_scale(y * self.mask)
        return (y - shift) * torch.exp(-log_scale)


class RealNVP(nn.Module):
    """Codes, whitened by a full-covariance Gaussian (mean, Cholesky factor), through couplings to N(0, I).

    The couplings start as the identity, so before training the flow is exactly the fitted Gaussian: training only
    adds what the codes have beyond it, and stopping on held-out codes keeps it from doing worse."""

    def __init__(self, dim: int, layers: int = FLOW_LAYERS, hidden: int = FLOW_HIDDEN, seed: int = 0):
        super().__init__()
        rng = np.random.default_rng(seed)
        masks = []
        for _ in range(math.ceil(layers / 2)):    # a random half, then the other half, so every dim is changed
            half = torch.zeros(dim)
            half[torch.from_numpy(rng.permutation(dim)[: dim // 2])] = 1.0
            masks += [half, 1.0 - half]
        self.couplings = nn.ModuleList(_Coupling(mask, hidden) for mask in masks[:layers])
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("cholesky", torch.eye(dim))

    def whiten_like(self, codes: torch.Tensor, ridge: float) -> None:
        """Take the mean and covariance (plus `ridge` on the diagonal) of `codes` as the base Gaussian."""
        covariance = torch.atleast_2d(torch.cov(codes.T.double())) + ridge * torch.eye(codes.shape[1])
        self.mean.copy_(codes.mean(dim=0))
        self.cholesky.copy_(torch.linalg.cholesky(covariance).float())

    def log_prob(self, codes: torch.Tensor) -> torch.Tensor:
        x = torch.linalg.solve_triangular(self.cholesky, (codes - self.mean).T, upper=False).T
        log_det = -torch.log(torch.diagonal(self.cholesky)).sum().expand(len(codes))
        for coupling in self.couplings:
            x, step = coupling(x)
            log_det = log_det + step
        gaussian = -0.5 * (x ** 2).sum(dim=-1) - 0.5 * x.shape[-1] * math.log(2 * math.pi)
        return gaussian + log_det

    def inverse(self, noise: torch.Tensor) -> torch.Tensor:
        x = noise
        for coupling in reversed(self.couplings):
            x = coupling.inverse(x)
        return x @ self.cholesky.T + self.mean


@dataclass(eq=False)
class FlowSampler:
    """A RealNVP flow fitted to latents; samples are the flow's inverse of temperature * N(0, I) draws."""

    name: ClassVar[str] = "flow"
    flow: RealNVP
    layers: int = FLOW_LAYERS
    hidden: int = FLOW_HIDDEN
    temperature: float = 1.0
    epochs: int = 0              # how long it trained, for the record

    def __post_init__(self):
        from trainer.latent.samplers import _check_temperature     # one check for every sampler

        _check_temperature(self.temperature)
        self.flow.eval()

    @property
    def latent_dim(self) -> int:
        return int(self.flow.mean.numel())

    @classmethod
    def fit(cls, latents: np.ndarray, seed: int = 0, temperature: float = 1.0, deadline: Deadline | None = None,
            max_seconds: float = FLOW_MAX_SECONDS, layers: int = FLOW_LAYERS,
            hidden: int = FLOW_HIDDEN) -> "FlowSampler | None":
        """The flow of best validation likelihood, trained for at most `max_seconds` (and by `deadline`); None when
        the deadline leaves no time for one epoch."""
        from trainer.latent.samplers import SamplerError, _checked_latents, _ridge

        latents = _checked_latents(latents, minimum=FLOW_MIN_CODES, what="a flow")
        if latents.shape[1] < 2:
            raise SamplerError("a flow needs at least 2 latent dimensions (it changes one half given the other); "
                               "use the 'gaussian' sampler")
        stop = Deadline(max_seconds) if deadline is None else Deadline(min(max_seconds, deadline.left()))
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(latents))
        held = max(1, int(round(FLOW_VALIDATION * len(latents))))
        train = torch.from_numpy(latents[order[held:]]).float()
        valid = torch.from_numpy(latents[order[:held]]).float()
        with torch.random.fork_rng(devices=[]):   # the same flow for the same seed, without touching global state
            torch.manual_seed(seed)
            flow = RealNVP(latents.shape[1], layers, hidden, seed)
        flow.whiten_like(train, _ridge(latents))
        epochs = _train(flow, train, valid, rng, stop)
        return None if epochs == 0 else cls(flow, layers, hidden, temperature, epochs)

    def sample(self, n: int, seed: int) -> np.ndarray:
        noise = np.random.default_rng(seed).standard_normal((n, self.latent_dim))
        with torch.no_grad():
            return self.flow.inverse(torch.from_numpy(self.temperature * noise).float()).numpy().astype(np.float32)

    def log_likelihood(self, latents: np.ndarray) -> float:
        """Mean log-density (nats per code) of `latents` under the flow (temperature 1)."""
        with torch.no_grad():
            return float(self.flow.log_prob(torch.from_numpy(np.asarray(latents, np.float32))).double().mean())

    def to_dict(self) -> dict:
        return {"kind": self.name, "temperature": float(self.temperature), "layers": int(self.layers),
                "hidden": int(self.hidden), "latent_dim": self.latent_dim, "epochs": int(self.epochs),
                "weights": {name: tensor.detach().clone() for name, tensor in self.flow.state_dict().items()}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "FlowSampler":
        from trainer.latent.samplers import SamplerError, _check_kind

        _check_kind(d, cls.name)
        try:
            flow = RealNVP(int(d["latent_dim"]), int(d["layers"]), int(d["hidden"]))
            flow.load_state_dict({name: torch.as_tensor(value) for name, value in d["weights"].items()})
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            raise SamplerError(f"the stored flow sampler cannot be read ({type(error).__name__}); evaluate the "
                               "checkpoint again to refit it") from None
        return cls(flow, int(d["layers"]), int(d["hidden"]), float(d["temperature"]), int(d.get("epochs", 0)))


def _train(flow: RealNVP, train: torch.Tensor, valid: torch.Tensor, rng: np.random.Generator,
           stop: Deadline) -> int:
    """Adam on the negative log-likelihood, one epoch at a time while the next (as long as the slowest so far) ends
    before `stop`; keeps the weights of the best validation likelihood. Returns the epochs trained."""
    optimizer = torch.optim.AdamW(flow.parameters(), lr=FLOW_LEARNING_RATE, weight_decay=FLOW_WEIGHT_DECAY)
    best, best_state, since_best, slowest, epoch = _score(flow, valid), None, 0, 0.0, 0
    while epoch < FLOW_MAX_EPOCHS and since_best < FLOW_PATIENCE and stop.allows(slowest):
        started = time.monotonic()
        flow.train()
        for rows in np.array_split(rng.permutation(len(train)), max(1, len(train) // FLOW_BATCH)):
            loss = -flow.log_prob(train[torch.from_numpy(rows)]).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(flow.parameters(), 10.0)
            optimizer.step()
        score = _score(flow, valid)
        epoch += 1
        if score > best:
            best, since_best = score, 0
            best_state = {name: tensor.clone() for name, tensor in flow.state_dict().items()}
        else:
            since_best += 1
        slowest = max(slowest, time.monotonic() - started)
    if best_state is not None:       # else the whitening alone (the fitted Gaussian) explained held-out codes best
        flow.load_state_dict(best_state)
    return epoch


def _score(flow: RealNVP, codes: torch.Tensor) -> float:
    """Mean log-likelihood of `codes`, -inf when not finite (a diverged step)."""
    flow.eval()
    with torch.no_grad():
        score = float(flow.log_prob(codes).mean())
    return score if math.isfinite(score) else -math.inf


def stored_flow(latent_stats: dict | None, temperature: float = 1.0) -> "FlowSampler | None":
    """The flow an evaluation stored in a checkpoint's latent statistics (LatentStats.flow), at `temperature`;
    None when there is none or it cannot be read (then it is fitted again)."""
    from trainer.latent.samplers import SamplerError

    stored = latent_stats.get("flow") if isinstance(latent_stats, dict) else None
    if not isinstance(stored, dict):
        return None
    try:
        return FlowSampler.from_dict({**stored, "temperature": temperature})
    except SamplerError:
        return None
