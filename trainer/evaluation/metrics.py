"""Model-quality metrics: reconstruction fidelity, latent usage and disentanglement. Qt-free.

Reconstruction (images in [0, 1]; reconstructions are decoded from the posterior mean, so they are deterministic):

* **MSE** -- mean squared error per pixel and channel, averaged over images.
* **PSNR** -- peak signal-to-noise ratio, 10 log10(max^2 / MSE) in dB, computed per image and then averaged
  (so one perfect image cannot make the average infinite: identical images score `cap_db`). 20 dB is an RMS
  error of 0.1; higher is better.
* **SSIM** -- structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004, "Image quality assessment: from error
  visibility to structural similarity"): local means, variances and covariance under an 11x11 Gaussian window
  (sigma 1.5), C1 = (0.01 L)^2, C2 = (0.03 L)^2 with L = 1, only where the window fits ('valid'), per channel, then
  averaged. 1 means identical structure; unrelated images score near 0.

Latent usage (VAE only):

* **-ELBO** -- reconstruction loss + KL(q(z|x) || N(0, I)) per image (beta = 1). It is the true negative ELBO
  for the "bce" (Bernoulli) loss; with "mse" it is the same sum on that loss's scale.
* **KL per dimension** -- how many nats each latent dimension carries on average; near 0 means collapsed.
* **Active units**: dimensions that carry information, by KL for a VAE and by the variance of the code for an AE
  (Burda, Grosse & Salakhutdinov 2016). The rule, its thresholds and its wording are defined once, in
  trainer.latent.stats (active_dimensions, active_definition), for the report, the Train tab and the Explore tab.

Disentanglement (synthetic data with ground-truth factors only):

* **Discretized mutual information** as in Locatello et al. 2019 ("Challenging Common Assumptions in the
  Unsupervised Learning of Disentangled Representations", disentanglement_lib): each latent dimension and each
  continuous factor is cut into equal-width histogram bins (20), categorical factors keep their levels, and
  MI(z_d; v_k) is the plug-in estimate on those codes (what sklearn's mutual_info_score computes, in nats).
* **MIG** -- mutual information gap (Chen, Li, Grosse & Duvenaud 2018, "Isolating Sources of Disentanglement in
  VAEs"): for each factor, the MI of the most informative latent dimension minus that of the second one, divided
  by the factor's entropy, averaged over factors. 1: every factor is captured by exactly one dimension; 0: no
  dimension stands out. Factors that never vary (zero entropy) are skipped.
* **Best factor per dimension** -- for each latent dimension, the factor with the highest normalized MI with the
  chance level taken off, and whether it beats shuffled factors on the same images (trainer.evaluation.association);
  the explorer names a slider's factor only then.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from trainer.deadline import Deadline, run_chunks, spread_order
from trainer.evaluation.association import dim_labels
from trainer.latent.factor_information import mig
from trainer.latent.stats import active_dimensions
from trainer.models.inference import evaluating
from trainer.models.losses import kl_per_dimension, reconstruction_loss
from trainer.models.networks import images_from_logits

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_C1 = 0.01 ** 2
SSIM_C2 = 0.03 ** 2
TABLE_MAX_DIMS = 16       # format_table lists at most this many latent dimensions


# ---------------------------------------------------------------- image fidelity

def _check_image_pair(a: torch.Tensor, b: torch.Tensor, metric: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"{metric}: image batches differ in shape, {tuple(a.shape)} vs {tuple(b.shape)}")
    if a.dim() != 4:
        raise ValueError(f"{metric}: expected image batches shaped (N, C, H, W), got {tuple(a.shape)}")


def psnr(a: torch.Tensor, b: torch.Tensor, max_val: float = 1.0, cap_db: float = 100.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB of each image pair, shape (N,); identical images give `cap_db`."""
    _check_image_pair(a, b, "psnr")
    mse = (a.float() - b.float()).pow(2).flatten(1).mean(dim=1)
    # mse == 0 divides to inf, which the cap turns into cap_db
    ratio = torch.full_like(mse, max_val ** 2) / mse
    return (10.0 * torch.log10(ratio)).clamp(max=cap_db)


def _gaussian_window(channels: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """Normalized 2-D Gaussian kernel, one copy per channel: (channels, 1, SSIM_WINDOW, SSIM_WINDOW)."""
    offsets = torch.arange(SSIM_WINDOW, dtype=dtype, device=device) - (SSIM_WINDOW - 1) / 2
    profile = torch.exp(-offsets.pow(2) / (2 * SSIM_SIGMA ** 2))
    profile = profile / profile.sum()
    kernel = torch.outer(profile, profile)
    return kernel.expand(channels, 1, SSIM_WINDOW, SSIM_WINDOW).contiguous()


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Structural similarity of each image pair (images in [0, 1]), shape (N,)."""
    _check_image_pair(a, b, "ssim")
    height, width = a.shape[-2:]
    if min(height, width) < SSIM_WINDOW:
        raise ValueError(f"ssim: images of {height}x{width} pixels are smaller than the "
                         f"{SSIM_WINDOW}x{SSIM_WINDOW} window; use images of at least {SSIM_WINDOW} pixels")
    a, b = a.float(), b.float()
    # (co)variances do not change when a and b are shifted; centering each channel first keeps float32's
    # E[x^2] - E[x]^2 cancellation small (and exactly zero on flat regions)
    a_c = a - a.mean(dim=(2, 3), keepdim=True)
    b_c = b - b.mean(dim=(2, 3), keepdim=True)
    # all seven local means in one depthwise convolution: far faster on a CPU than seven small ones
    stacked = torch.cat([a, b, a_c, b_c, a_c * a_c, b_c * b_c, a_c * b_c], dim=1)
    window = _gaussian_window(stacked.shape[1], a.dtype, a.device)
    local = F.conv2d(stacked, window, groups=stacked.shape[1])      # no padding: 'valid' positions only
    mean_a, mean_b, mean_ac, mean_bc, mean_aa, mean_bb, mean_ab = local.chunk(7, dim=1)
    var_a = mean_aa - mean_ac.pow(2)
    var_b = mean_bb - mean_bc.pow(2)
    covariance = mean_ab - mean_ac * mean_bc
    luminance = (2 * mean_a * mean_b + SSIM_C1) / (mean_a.pow(2) + mean_b.pow(2) + SSIM_C1)
    structure = (2 * covariance + SSIM_C2) / (var_a + var_b + SSIM_C2)
    per_channel = (luminance * structure).mean(dim=(2, 3))
    return per_channel.mean(dim=1)


# ---------------------------------------------------------------- the report

@dataclass
class EvalReport:
    """Test-split metrics of one model; per-image averages. VAE-only fields are None for an AE, factor fields None
    without ground-truth factors."""
    n_images: int
    mse: float                                    # per pixel and channel
    psnr: float                                   # dB, mean of per-image PSNR
    ssim: float
    neg_elbo: float | None                        # recon_loss + kl
    recon_loss: float                             # summed over pixels, per image
    kl: float | None                              # nats per image
    kl_per_dim: list[float] | None
    active_units: int | None
    latent_dim: int
    mig: float | None
    mig_per_factor: dict[str, float] | None       # factors that vary only
    dim_factors: list[tuple[str, float]] | None   # per dim: (best factor, normalized MI less chance)
    dim_labels: dict | None = None                # trainer.evaluation.association.DimLabels.to_dict()

    def to_dict(self) -> dict:
        """Plain JSON-serializable types (tuples become lists)."""
        d = asdict(self)
        if self.dim_factors is not None:
            d["dim_factors"] = [[str(name), float(score)] for name, score in self.dim_factors]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "EvalReport":
        """Inverse of to_dict; extra keys (such as "step" or "data" added by the caller) are ignored."""
        required = ("n_images", "mse", "psnr", "ssim", "recon_loss", "latent_dim")
        missing = [key for key in required if key not in d]
        if missing:
            raise ValueError(f"evaluation report lacks {', '.join(missing)}; it was not written by EvalReport.to_dict")
        dim_factors = d.get("dim_factors")
        per_factor = d.get("mig_per_factor")
        return cls(n_images=int(d["n_images"]), mse=float(d["mse"]), psnr=float(d["psnr"]), ssim=float(d["ssim"]),
                   neg_elbo=_optional_float(d.get("neg_elbo")), recon_loss=float(d["recon_loss"]),
                   kl=_optional_float(d.get("kl")),
                   kl_per_dim=None if d.get("kl_per_dim") is None else [float(v) for v in d["kl_per_dim"]],
                   active_units=None if d.get("active_units") is None else int(d["active_units"]),
                   latent_dim=int(d["latent_dim"]), mig=_optional_float(d.get("mig")),
                   mig_per_factor=None if per_factor is None else {str(k): float(v) for k, v in per_factor.items()},
                   dim_factors=None if dim_factors is None else [(str(n), float(s)) for n, s in dim_factors],
                   dim_labels=d.get("dim_labels"))

    def format_table(self) -> str:
        """One metric per line, then a short per-dimension listing (KL and/or best factor)."""
        rows = [("images", f"{self.n_images}"),
                ("MSE / pixel", f"{self.mse:.5f}"),
                ("PSNR", f"{self.psnr:.2f} dB"),
                ("SSIM", f"{self.ssim:.4f}"),
                ("recon loss / image", f"{self.recon_loss:.4g}")]
        if self.kl is not None:
            rows += [("KL / image", f"{self.kl:.4g} nats"), ("-ELBO / image", f"{_fmt(self.neg_elbo, '.4g')}")]
        if self.active_units is not None:
            rows.append(("active units", f"{self.active_units} / {self.latent_dim}"))
        else:
            rows.append(("latent dims", f"{self.latent_dim}"))
        if self.mig is not None:
            rows.append(("MIG", f"{self.mig:.4f}"))
        width = max(len(name) for name, _ in rows)
        lines = [f"{name:<{width}}  {value}" for name, value in rows]
        if self.mig_per_factor:
            ranked = sorted(self.mig_per_factor.items(), key=lambda item: -item[1])
            lines.append("MIG per factor: " + ", ".join(f"{name} {gap:.3f}" for name, gap in ranked))
        return "\n".join(lines + self._dim_lines())

    def _dim_lines(self) -> list[str]:
        """Up to TABLE_MAX_DIMS dimensions, the most informative (by KL, else by factor score) first."""
        if self.kl_per_dim is None and self.dim_factors is None:
            return []
        if self.kl_per_dim is not None:
            order = sorted(range(self.latent_dim), key=lambda d: -self.kl_per_dim[d])
        else:
            order = sorted(range(self.latent_dim), key=lambda d: -self.dim_factors[d][1])
        lines = ["per dimension" + (" (by KL)" if self.kl_per_dim is not None else " (by factor score)") + ":"]
        for d in order[:TABLE_MAX_DIMS]:
            parts = [f"  z{d:<3}"]
            if self.kl_per_dim is not None:
                parts.append(f"KL {self.kl_per_dim[d]:8.4f}")
            if self.dim_factors is not None:
                name, score = self.dim_factors[d]
                parts.append(f"{name} ({score:.2f})" + ("" if self._significant(d) else ", chance"))
            lines.append("  ".join(parts))
        if len(order) > TABLE_MAX_DIMS:
            lines.append(f"  ... {len(order) - TABLE_MAX_DIMS} more dimensions")
        if self.dim_labels is not None:
            lines.append(f"  factor scores: normalized MI less its level on {self.dim_labels['shuffles']} shuffles "
                         f"of the factors, on {self.dim_labels['n_images']:,} images; 'chance' where it does not "
                         f"beat {self.dim_labels['threshold']:.3f}, what shuffles reach")
        return lines

    def _significant(self, dim: int) -> bool:
        return self.dim_labels is None or bool(self.dim_labels["significant"][dim])


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


# ---------------------------------------------------------------- evaluating a model

def evaluate(model: torch.nn.Module, images: torch.Tensor, factors: np.ndarray | None = None,
             factor_names: Sequence[str] | None = None, categorical: Sequence[bool] | None = None,
             recon_loss: str = "mse", batch_size: int = 256, device: str | torch.device = "cpu",
             deadline: Deadline | None = None, encoded: Encoded | None = None) -> EvalReport:
    """All metrics of a model (already on `device`) on uint8 (N, C, H, W) test images.

    The model runs in eval mode without gradients, in batches; its training flag is restored afterwards.
    Reconstructions are decoded from the posterior mean (skip-connection models decode without skips, as in the
    previews and the explorer). With ground-truth `factors` (N, F) we also compute MIG and the best factor of each
    dimension from the posterior means. With a `deadline`, images are taken in a fixed random order, in smaller
    batches, until the next batch would pass it: the report's n_images says on how many (at least one).
    `encoded(rows)` gives the posterior means and log-variances of the images at those rows when the caller
    already has codes (a DataCodes, trainer.latent.data_codes); without it the model encodes each batch.
    """
    images = torch.as_tensor(images)
    if images.dim() != 4 or len(images) == 0:
        raise ValueError(f"evaluate: expected a non-empty image batch shaped (N, C, H, W), got {tuple(images.shape)}")
    if factors is not None and len(factors) != len(images):
        raise ValueError(f"evaluate: {len(factors)} factor rows for {len(images)} images")
    order = None
    if deadline is not None:               # any first images of this order are a fair sample of all
        order, batch_size = torch.from_numpy(spread_order(len(images))), min(batch_size, DEADLINE_BATCH)
    with evaluating(model):
        per_image = _per_image_metrics(model, images, recon_loss, batch_size, device, order, deadline, encoded)
    if factors is not None and order is not None:
        factors = np.asarray(factors)[order[:len(per_image["means"])].numpy()]
    return _build_report(per_image, factors, factor_names, categorical)


DEADLINE_BATCH = 64            # under a deadline: batches short enough to stop close to it
Encoded = Callable[[np.ndarray], "tuple[np.ndarray, np.ndarray | None]"]   # rows -> (means, log-variances)


def _per_image_metrics(model: torch.nn.Module, images: torch.Tensor, recon_loss: str, batch_size: int,
                       device: str | torch.device, order: torch.Tensor | None = None,
                       deadline: Deadline | None = None, encoded: Encoded | None = None) -> dict[str, np.ndarray]:
    """Per-image arrays: mse, psnr, ssim, recon (N,), means (N, D) and, for a VAE, kl_dims (N, D), of the images
    in `order` (all, in order, when None) until the deadline."""
    collected: dict[str, list[np.ndarray]] = {key: [] for key in ("mse", "psnr", "ssim", "recon", "means", "kl_dims")}

    def batch_metrics(rows: slice) -> None:
        picked = torch.arange(len(images))[rows] if order is None else order[rows]
        x = images[picked].to(device)
        x = x.float() / 255 if x.dtype == torch.uint8 else x.float()
        mean, logvar = model.encode(x) if encoded is None else _as_tensors(encoded(picked.numpy()), device)
        logits = model.decode_logits(mean).float()
        recon = images_from_logits(logits)
        batch = {"mse": (recon - x).pow(2).flatten(1).mean(dim=1), "psnr": psnr(recon, x), "ssim": ssim(recon, x),
                 "recon": reconstruction_loss(logits, x, recon_loss), "means": mean.float()}
        if logvar is not None:
            batch["kl_dims"] = kl_per_dimension(mean, logvar)
        for key, value in batch.items():
            collected[key].append(value.cpu().double().numpy())   # float64 after .cpu(): MPS has none

    run_chunks(len(images), batch_size, batch_metrics, deadline)
    return {key: np.concatenate(parts) for key, parts in collected.items() if parts}


def _as_tensors(codes: tuple[np.ndarray, np.ndarray | None],
                device: str | torch.device) -> tuple[torch.Tensor, torch.Tensor | None]:
    means, logvars = codes
    return (torch.from_numpy(means).to(device),
            None if logvars is None else torch.from_numpy(logvars).to(device))


def _build_report(per_image: dict[str, np.ndarray], factors: np.ndarray | None, factor_names: Sequence[str] | None,
                  categorical: Sequence[bool] | None) -> EvalReport:
    means = per_image["means"]
    recon = float(per_image["recon"].mean())
    kl = kl_per_dim = active = neg_elbo = None
    if "kl_dims" in per_image:
        kl_per_dim = [float(v) for v in per_image["kl_dims"].mean(axis=0)]
        kl = float(sum(kl_per_dim))
        neg_elbo = recon + kl
    active = int(active_dimensions(kl_per_dim, means.var(axis=0)).sum())
    mig_value = mig_per_factor = dim_factors = labels = None
    if factors is not None:
        factors = np.asarray(factors)
        names = list(factor_names) if factor_names is not None else [f"factor_{k}" for k in range(factors.shape[1])]
        mean_gap, gaps = mig(means, factors, categorical=categorical)
        mig_value = None if math.isnan(mean_gap) else mean_gap
        mig_per_factor = {name: float(gap) for name, gap in zip(names, gaps) if not math.isnan(gap)}
        tested = dim_labels(means, factors, names, categorical=categorical)
        dim_factors, labels = tested.pairs(), tested.to_dict()
    return EvalReport(n_images=len(means), mse=float(per_image["mse"].mean()), psnr=float(per_image["psnr"].mean()),
                      ssim=float(per_image["ssim"].mean()), neg_elbo=neg_elbo, recon_loss=recon, kl=kl,
                      kl_per_dim=kl_per_dim, active_units=active, latent_dim=int(means.shape[1]), mig=mig_value,
                      mig_per_factor=mig_per_factor, dim_factors=dim_factors, dim_labels=labels)
