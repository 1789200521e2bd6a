"""Is a model copying its training faces? Nearest-training-image distances of its samples vs of new faces.

For each random sample (drawn with the checkpoint's default sampler) we find the nearest training image and its
pixel RMS distance on [0, 1] (trainer.latent.neighbours, exact). Held-out test images are faces the model never
saw, so their distances to the nearest training image are the baseline of what a *new* face looks like. A model
that makes new faces has samples about as far from the training set as test images are (usually farther: samples
are blurrier); a model that copies has many samples closer than nearly every test image. The summary counts the
share of samples closer than the 5th percentile of the test distances: about 5% or less means new faces.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from trainer.atomic import write_atomically
from trainer.latent.data_codes import DataCodes
from trainer.latent.neighbours import NearestFaces
from trainer.latent.samplers import samples_or_prior

SAMPLES = 200                  # random samples checked (a few seconds on the synthetic default)
TEST_IMAGES = 200              # held-out images for the baseline
CLOSE_PERCENTILE = 5.0         # "close": nearer than this percentile of the test images' distances
COPYING_FRACTION = 0.25        # five times the share new faces have: the model copies
SOME_COPIES_FRACTION = 0.10    # twice that share: some samples are near-copies
PAIRS = 8                      # closest sample/training pairs shown


@dataclass
class MemorisationResult:
    sample_distances: np.ndarray     # (N,) RMS distance of each sample to its nearest training image
    sample_nearest: np.ndarray       # (N,) that training image's index
    test_distances: np.ndarray       # (M,) the same for held-out test images
    n_train: int
    sampler: str = ""
    exact_fraction: float = 1.0      # share of searches proven exact (see trainer.latent.neighbours)

    @property
    def threshold(self) -> float:
        return float(np.percentile(self.test_distances, CLOSE_PERCENTILE))

    @property
    def fraction_close(self) -> float:
        return float(np.mean(self.sample_distances < self.threshold))

    @property
    def copying(self) -> bool:
        return self.fraction_close >= COPYING_FRACTION

    @property
    def verdict(self) -> str:
        share = (f"{self.fraction_close:.0%} of samples are closer to a training face than "
                 f"{100 - CLOSE_PERCENTILE:.0f}% of new (test) faces are")
        if self.copying:
            return f"copying: {share}"
        if self.fraction_close >= SOME_COPIES_FRACTION:
            return f"some near-copies: {share} (about {CLOSE_PERCENTILE:.0f}% is expected of new faces)"
        return f"no sign of copying: {share} (about {CLOSE_PERCENTILE:.0f}% is expected of new faces)"

    def closest_pairs(self, count: int = PAIRS) -> tuple[np.ndarray, np.ndarray]:
        """(sample positions, training indices) of the `count` closest pairs, closest first."""
        order = np.argsort(self.sample_distances, kind="stable")[:count]
        return order, self.sample_nearest[order]

    def to_dict(self) -> dict:
        samples, train = self.closest_pairs()
        return {"distance": "pixel RMS on [0, 1]", "sampler": self.sampler, "n_samples": len(self.sample_distances),
                "n_test": len(self.test_distances), "n_train": self.n_train,
                "median_sample_distance": float(np.median(self.sample_distances)),
                "median_test_distance": float(np.median(self.test_distances)),
                "test_p5_distance": self.threshold, "fraction_closer_than_test_p5": self.fraction_close,
                "copying": self.copying, "verdict": self.verdict, "exact_fraction": self.exact_fraction,
                "closest_pairs": [{"sample": int(s), "train_index": int(t),
                                   "distance": float(self.sample_distances[s])} for s, t in zip(samples, train)]}


def measure_memorisation(samples: torch.Tensor, test_images: torch.Tensor, train_images: torch.Tensor,
                         sampler: str = "", index: NearestFaces | None = None) -> MemorisationResult:
    """Nearest-training-image distances of uint8 (N, C, H, W) samples and of held-out test images."""
    if len(samples) == 0 or len(test_images) == 0 or len(train_images) == 0:
        raise ValueError(f"the memorisation check needs samples, test and training images; got {len(samples)}, "
                         f"{len(test_images)} and {len(train_images)}")
    index = index or NearestFaces.build(train_images)
    nearest, sample_d, sample_exact = index.nearest_in_pixels(samples)
    _, test_d, test_exact = index.nearest_in_pixels(test_images)
    exact = float(np.concatenate([sample_exact, test_exact]).mean())
    return MemorisationResult(sample_d, nearest, test_d, len(train_images), sampler, exact)


def memorisation_for(checkpoint, dataset, sampler: str | None = None, n_samples: int = SAMPLES, seed: int = 0,
                     device: str | torch.device = "cpu",
                     codes: DataCodes | None = None) -> tuple[MemorisationResult, torch.Tensor]:
    """The check on a checkpoint's own data set, with samples of `sampler` (the evaluation's default sampler; a
    Gaussian fitted to encoded training images when None). Returns the result and the uint8 samples. `codes`: the
    data set's codes under this model when the caller has them (trainer.latent.data_codes)."""
    from trainer.evaluation.face_metrics import evenly_spaced
    from trainer.evaluation.sample_quality import FIT_IMAGES

    sampler = sampler or "gaussian"
    model = checkpoint.model
    before = next(model.parameters()).device
    model.to(device)
    try:
        fit = DataCodes.reuse(codes, model, dataset).spread_means("train", FIT_IMAGES) if sampler != "prior" else None
        images, sampler = samples_or_prior(model, n_samples, seed, sampler, fit)
    finally:
        model.to(before)
    samples = torch.from_numpy(images).permute(0, 3, 1, 2)
    test = evenly_spaced(dataset.test, max(TEST_IMAGES, n_samples))
    return measure_memorisation(samples, test, dataset.train, sampler), samples


def memorisation_report(checkpoint, dataset, figure_path: Path | str | None, sampler: str | None = None,
                        seed: int = 0, device: str | torch.device = "cpu", codes: DataCodes | None = None) -> dict:
    """memorisation_for() as a report dict (MemorisationResult.to_dict()), its figure written to figure_path."""
    result, samples = memorisation_for(checkpoint, dataset, sampler, seed=seed, device=device, codes=codes)
    report = result.to_dict()
    if figure_path is not None:
        report["figure"] = str(memorisation_figure(result, samples, dataset.train, figure_path))
    return report


def memorisation_figure_path(json_path: Path | str) -> Path:
    """Where `vae-train eval` puts the figure: beside its JSON, best.eval.json -> best.memorisation.png."""
    path = Path(json_path)
    stem = path.name.removesuffix(".json").removesuffix(".eval")
    return path.with_name(f"{stem}.memorisation.png")


# ---------------------------------------------------------------- the figure

def memorisation_figure(result: MemorisationResult, samples: torch.Tensor, train_images: torch.Tensor,
                        path: Path | str, title: str = "") -> Path:
    """A histogram of both distance distributions above the closest sample/training pairs; saved as PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from trainer.latent.grids import image_grid

    figure = Figure(figsize=(8, 6.4), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, height_ratios=[3, 2])
    high = float(max(result.sample_distances.max(), result.test_distances.max())) * 1.05 or 1.0
    bins = np.linspace(0.0, high, 41)
    top.hist(result.test_distances, bins=bins, alpha=0.6, density=True, color="#1f77b4",
             label=f"test images (new faces), median {np.median(result.test_distances):.3f}")
    top.hist(result.sample_distances, bins=bins, alpha=0.6, density=True, color="#d62728",
             label=f"samples ({result.sampler or 'default sampler'}), median {np.median(result.sample_distances):.3f}")
    top.axvline(result.threshold, color="black", linestyle="--", linewidth=1,
                label=f"5th percentile of test: {result.threshold:.3f}")
    top.set_xlabel("distance to the nearest training image (pixel RMS on [0, 1])")
    top.set_ylabel("density")
    top.set_title(title or result.verdict, fontsize=10, wrap=True)
    top.legend(fontsize=8)
    order, nearest = result.closest_pairs()
    pairs = torch.cat([samples[torch.from_numpy(order)], train_images[torch.from_numpy(nearest)]])
    grid = image_grid(pairs.permute(0, 2, 3, 1).numpy(), nrow=len(order))
    bottom.imshow(grid, interpolation="nearest")
    cell = grid.shape[1] / max(1, len(order))
    bottom.set_xticks([(i + 0.5) * cell for i in range(len(order))],
                      [f"{result.sample_distances[s]:.3f}" for s in order], fontsize=8)
    bottom.set_yticks([grid.shape[0] * 0.25, grid.shape[0] * 0.75], ["sample", "nearest\ntraining"], fontsize=8)
    bottom.set_title("the closest samples (top) and their nearest training images (bottom), with distances",
                     fontsize=9)
    return write_atomically(path, lambda temporary: figure.savefig(temporary, format="png"))


# ---------------------------------------------------------------- text for the CLI and the report

def format_memorisation(report: dict) -> str:
    """Lines for `vae-train eval` from memorisation_report()'s dict."""
    lines = [f"memorisation ({report['n_samples']} samples, {report['n_test']} test images vs {report['n_train']} "
             f"training images, pixel RMS on [0, 1]): median distance to the nearest training image "
             f"{report['median_sample_distance']:.4f} for samples, {report['median_test_distance']:.4f} for test "
             f"images", f"  {report['verdict']}"]
    if report.get("figure"):
        lines.append(f"  figure: {report['figure']}")
    return "\n".join(lines)


def memorisation_section(entries: Sequence[tuple[str, dict | None, str | None]]) -> list[str]:
    """Markdown lines of the experiments report: a table row and the figure per (run name, report, figure path
    relative to the report)."""
    scored = [(name, report, figure) for name, report, figure in entries if report]
    if not scored:
        return []
    lines = ["## Memorisation", "",
             f"Distance from each of {scored[0][1]['n_samples']} random samples to its nearest training image "
             "(pixel RMS on [0, 1]), against the same distance for held-out test images (new faces). A model that "
             f"makes new faces has about {CLOSE_PERCENTILE:.0f}% of its samples closer than the test images' "
             f"{CLOSE_PERCENTILE:.0f}th percentile; a copying model many more.", "",
             "| experiment | sampler | median sample distance | median test distance | samples closer than test "
             "p5 | verdict |", "|---|---|---|---|---|---|"]
    for name, report, _ in scored:
        lines.append(f"| {name} | {report['sampler']} | {report['median_sample_distance']:.4f} | "
                     f"{report['median_test_distance']:.4f} | {report['fraction_closer_than_test_p5']:.0%} | "
                     f"{report['verdict'].split(':')[0]} |")
    lines.append("")
    for name, _, figure in scored:
        if figure:
            lines += [f"![memorisation of {name}]({figure})", ""]
    return lines
