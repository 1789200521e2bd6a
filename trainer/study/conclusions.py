"""The original study's three conclusions, checked with numbers: groups of runs that differ in one setting, the
seed-to-seed spread, and Spearman rank correlations (scipy)."""
from __future__ import annotations

import json
import math
from typing import Sequence

from scipy.stats import spearmanr

from trainer.study.experiments import RUNTIME_FIELDS
from trainer.study.report_tables import num
from trainer.study.summary import RunSummary

# Ignored when grouping runs for the conclusions: where and how a run ran (not what it learned), and the preset's
# name (its fields, e.g. the reparameterization, are compared one by one).
IGNORED_FIELDS = RUNTIME_FIELDS | {"model.preset"}
CLEAR_EFFECT = 2.0       # a difference "exceeds seed noise" when it is this many times the seed-to-seed difference


def conclusions_markdown(summaries: list[RunSummary]) -> list[str]:
    return (conclusion_kl_tradeoff(summaries) + [""] + conclusion_reparameterization(summaries) + [""]
            + conclusion_latent_distribution(summaries) + [""])


def group_runs(summaries: Sequence[RunSummary], varying: set[str]) -> list[list[RunSummary]]:
    """Groups of runs whose configs are equal except in the `varying` fields ("section.key"); singletons dropped."""
    groups: dict[str, list[RunSummary]] = {}
    for summary in summaries:
        flat = {f"{section}.{key}": value for section, fields in summary.config.to_dict().items()
                for key, value in fields.items()}
        signature = json.dumps({k: v for k, v in flat.items() if k not in varying | IGNORED_FIELDS},
                               sort_keys=True, default=str)
        groups.setdefault(signature, []).append(summary)
    return [group for group in groups.values() if len(group) > 1]


def seed_noise(summaries: Sequence[RunSummary], metric: str) -> float | None:
    """The largest difference in `metric` between runs that differ only in their seed (None without repeats)."""
    spreads = []
    for group in group_runs(summaries, {"train.seed"}):
        values = [s.value(metric) for s in group if s.value(metric) is not None]
        if len(values) > 1:
            spreads.append(max(values) - min(values))
    return max(spreads) if spreads else None


def conclusion_kl_tradeoff(summaries: list[RunSummary]) -> list[str]:
    lines = ["### 1. The KL weight trades reconstruction quality against sampling quality", "",
             "Expected if it holds: across runs that differ only in beta, a higher beta gives a lower PSNR "
             "(Spearman rho(beta, PSNR) < 0) and better prior samples (rho(beta, FD prior) < 0).", ""]
    sweeps = [g for g in group_runs([s for s in summaries if s.is_variational], {"train.beta"})
              if len({s.beta for s in g}) > 1]
    if not sweeps:
        return lines + ["Not testable: no runs differ only in beta."]
    for group in sweeps:
        group = sorted(group, key=lambda s: s.beta)
        betas = [s.beta for s in group]
        rho_psnr = rank_correlation(betas, [s.value("psnr") for s in group])
        rho_fd = rank_correlation(betas, [s.value("fd_prior") for s in group])
        rows = ", ".join(f"{s.name}: beta {s.beta:.3g} -> PSNR {num(s.value('psnr'), '.2f')} dB, FD prior "
                         f"{num(s.value('fd_prior'), '.2f')}" for s in group)
        if rho_psnr < 0 and rho_fd < 0:
            verdict = "**holds**"
        elif rho_psnr < 0:
            verdict = "**holds only for reconstruction** (a higher beta costs PSNR but does not improve samples)"
        elif rho_fd < 0:
            verdict = "**holds only for sampling** (a higher beta improves samples at no PSNR cost)"
        else:
            verdict = "**does not hold**"
        lines.append(f"- {group[0].config.model.preset} sweep ({len(group)} runs; {rows}): rho(beta, PSNR) = "
                     f"{num(rho_psnr, '+.2f')}, rho(beta, FD prior) = {num(rho_fd, '+.2f')}: {verdict}.")
    lines += ["", "With a handful of points a rank correlation is coarse (with 3 points it can only be +-1 or "
                  "+-0.5; with 2, +-1); read it with the numbers beside it."]
    return lines


def conclusion_reparameterization(summaries: list[RunSummary]) -> list[str]:
    lines = ["### 2. The way of reparameterizing changes results", "",
             f"Compared at equal beta among runs that differ only in the reparameterization (study-vae-04 also adds "
             f"a fully connected layer). It holds when the spread between variants exceeds {CLEAR_EFFECT:g}x the "
             "spread between two seeds of the same run.", ""]
    varying = {"model.reparam", "model.latent_fc"}
    groups = [g for g in group_runs([s for s in summaries if s.is_variational], varying)
              if len({s.config.model.reparam for s in g}) > 1]
    if not groups:
        return lines + ["Not testable: no two runs differ only in the reparameterization."]
    noise = {m: seed_noise(summaries, m) for m in ("psnr", "fd_prior")}
    noise_text = ", ".join(f"{m} {num(v, '.3g')}" for m, v in noise.items())
    lines.append(f"Seed-to-seed spread: {noise_text}" + ("" if any(v is not None for v in noise.values()) else
                                                          " (no seed repeat among these runs)") + ".")
    for group in groups:
        rows = ", ".join(f"{s.name} ({s.config.model.reparam}): PSNR {num(s.value('psnr'), '.2f')}, FD prior "
                         f"{num(s.value('fd_prior'), '.2f')}, KL {num(s.value('kl'), '.3g')}" for s in group)
        spreads = {m: _spread([s.value(m) for s in group]) for m in ("psnr", "fd_prior")}
        clear = [m for m in spreads if spreads[m] is not None and noise[m] is not None
                 and spreads[m] > CLEAR_EFFECT * noise[m]]
        if all(noise[m] is None for m in spreads):
            verdict = "**cannot tell** (no seed repeat to compare with)"
        elif clear:
            verdict = f"**holds** ({', '.join(clear)} spread beyond seed noise)"
        else:
            verdict = "**does not hold** here (differences within seed noise)"
        lines.append(f"- beta {group[0].beta:.3g} (sigma {group[0].sigma:.3g}): {rows}. Spread: PSNR "
                     f"{num(spreads['psnr'], '.3g')} dB, FD prior {num(spreads['fd_prior'], '.3g')}: {verdict}.")
    return lines


def conclusion_latent_distribution(summaries: list[RunSummary]) -> list[str]:
    lines = ["### 3. The latent distribution decides sampling quality", "",
             "Expected if it holds: models whose encoded data lie far from N(0, I) (high latent mismatch) make "
             "worse prior samples (Spearman rho(latent mismatch, FD prior) > 0), and sampling from a density "
             "fitted to the codes beats the prior (FD fitted < FD prior) for most models.", ""]
    scored = [s for s in summaries if s.scores is not None]
    if len(scored) < 2:
        return lines + ["Not testable: fewer than two scored runs."]
    rho = rank_correlation([s.value("latent_mismatch") for s in scored], [s.value("fd_prior") for s in scored])
    better = [s for s in scored if s.scores.fitted.fd < s.scores.prior.fd]
    for s in scored:
        lines.append(f"- {s.name}: latent mismatch {s.scores.latent_mismatch:.3g}, FD prior {s.scores.prior.fd:.2f} "
                     f"-> fitted {s.scores.fitted.fd:.2f} (recon {s.scores.reconstruction.fd:.2f})")
    holds = rho > 0.5 and len(better) >= 2 * len(scored) / 3
    lines += ["", f"rho(latent mismatch, FD prior) = {num(rho, '+.2f')} over {len(scored)} runs; the fitted "
              f"sampler beats the prior in {len(better)} of {len(scored)} runs: "
              + ("**holds**." if holds else
                 "**does not hold** (it needs rho > 0.5 and the fitted sampler better in 2/3 of runs).")]
    return lines


def rank_correlation(x: Sequence[float | None], y: Sequence[float | None]) -> float:
    """Spearman's rho over the pairs where both values are known; nan with fewer than 2 pairs or a constant side."""
    pairs = [(a, b) for a, b in zip(x, y) if a is not None and b is not None]
    if len(pairs) < 2 or len({a for a, _ in pairs}) < 2 or len({b for _, b in pairs}) < 2:
        return math.nan
    return float(spearmanr([a for a, _ in pairs], [b for _, b in pairs]).statistic)


def _spread(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return max(values) - min(values) if len(values) > 1 else None


