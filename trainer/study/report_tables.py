"""The report's explanation and tables (results, face network) and how its numbers are written."""
from __future__ import annotations

import math

from trainer.evaluation.identity import SAME_PERSON_DISTANCE
from trainer.evaluation.sample_quality import FeatureSpace
from trainer.latent.stats import active_definition
from trainer.study.summary import RunSummary


def explanation(spaces: list[FeatureSpace]) -> list[str]:
    lines = ["How to read it:", "",
             "- **beta** is our KL weight: loss = sum over pixels of (x - y)^2 (pixels in [0, 1]) + beta * KL. "
             "**sigma** is the original study's equivalent, which weighted the KL against a per-pixel *mean* "
             "squared error on 0-255 pixels: beta = sigma * P / 255^2 with P = 3 x size^2 values per image "
             "(beta = 0.189 sigma at 64x64).",
             "- **wall**: time from the first training step to the end of the final evaluation, summed over "
             "resumed sessions. **params**: model parameters.",
             "- **MSE / PSNR / SSIM**: test-set reconstruction error per pixel (pixels in [0, 1]), its PSNR in dB, "
             "and the structural similarity. "
             "**KL**: per image, nats. **active**: active latent dimensions. " + active_definition(True) + " "
             + active_definition(False) + " **MIG**: mutual information gap with the true factors (synthetic data only).",
             "- **FD / P / R**: sample quality. A Fréchet distance between real and generated images, and "
             "precision / recall (k = 3 nearest neighbours, Kynkäänniemi et al. 2019), in the feature space of a "
             "small network we train ourselves (no Inception weights offline): on synthetic faces a regressor of "
             "the 16 true factors, on an image folder the encoder of a reference autoencoder. Lower FD is better; "
             "precision is the share of samples that look like some real face, recall the share of real faces "
             "the samples cover. These are not FID numbers: compare them only within this report. The feature "
             "network sees the factors (shape, colour, pose, expression) far better than blur or texture, so "
             "judge sharpness by PSNR and the grids.",
             "- **prior** samples decode z ~ N(0, I); **fitted** samples decode z from a Gaussian (or mixture) "
             "fitted to the encoded training images. **recon FD** scores the reconstructions of the real "
             "reference images: the best a sampler of this decoder can reach. **latent mismatch**: the Fréchet "
             "distance in latent space between N(0, I) and a Gaussian matched to the encoded training images "
             "(0 = the prior is where the codes are).", ""]
    for space in spaces:
        floor = space.floor()
        lines.append(f"Feature space `{space.key}` ({space.kind}, {len(space.reference)} reference images): two "
                     f"real sets score FD {floor.fd:.2f}, precision {floor.precision:.2f}, recall "
                     f"{floor.recall:.2f} (the best reachable).")
    return lines + [""]


def results_table(summaries: list[RunSummary]) -> list[str]:
    header = ("| experiment | preset | beta | sigma | latent | params | steps | wall | MSE | PSNR | SSIM | KL | "
              "active | MIG | FD prior | P / R prior | FD fitted | P / R fitted | FD recon | latent mismatch | status |")
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for s in summaries:
        sc = s.scores
        cells = [s.name, s.config.model.preset, num(s.beta), num(s.sigma), str(s.config.model.latent_dim),
                 f"{s.params / 1e6:.2f} M" if s.params else "—", str(s.steps), duration(s.wall_s), num(s.metrics.get("mse")),
                 num(s.metrics.get("psnr"), ".2f"), num(s.metrics.get("ssim"), ".3f"), num(s.metrics.get("kl")),
                 num(s.metrics.get("active_units"), ".0f"), num(s.metrics.get("mig"), ".3f"),
                 num(sc.prior.fd if sc else None, ".2f"), precision_recall_text(sc.prior if sc else None),
                 num(sc.fitted.fd if sc else None, ".2f"), precision_recall_text(sc.fitted if sc else None),
                 num(sc.reconstruction.fd if sc else None, ".2f"), num(sc.latent_mismatch if sc else None),
                 s.status]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def face_table(summaries: list[RunSummary]) -> list[str]:
    """Face-network columns, only when the faces extra measured them (trainer/evaluation/face_metrics.py)."""
    scored = [s for s in summaries if s.faces]
    if not scored:
        return []
    f = scored[0].faces
    lines = ["Face network (dlib's face detector and 128-d face embeddings; trainer/evaluation/face_metrics.py): the share of "
             "samples and reconstructions in which a face is detected, and the Fréchet distance of their face "
             f"embeddings to the test images' (lower is better; {f['n_images']} images per set). For scale: real "
             f"test faces are detected in {num(f['test_face_detect'], '.0%')}, real training faces score FD "
             f"{num(f['floor_face_fd'], '.4f')} (the best reachable) and the test faces blurred "
             f"(sigma 1.5 px) {num(f['blurred_face_fd'], '.4f')}.", "",
             "| experiment | sampler | faces in samples | face FD samples | FD detected only | faces in recon | "
             "face FD recon |", "|---|---|---|---|---|---|---|"]
    for s in scored:
        f = s.faces
        lines.append(f"| {s.name} | {f['sampler']} | {num(f['sample_face_detect'], '.0%')} | "
                     f"{num(f['sample_face_fd'], '.4f')} | {num(f['sample_face_fd_detected'], '.4f')} | "
                     f"{num(f['recon_face_detect'], '.0%')} | {num(f['recon_face_fd'], '.4f')} |")
    return lines + [""] + identity_table(scored)


def identity_table(scored: list[RunSummary]) -> list[str]:
    """Whether reconstructions keep the person (trainer/evaluation/identity.py), the blurred test photos beside
    them; only runs whose face numbers include it."""
    scored = [s for s in scored if s.faces.get("identity_pairs") is not None]
    if not scored:
        return []
    f = scored[0].faces
    blur = (f"{num(f.get('blurred_same_person_rate'), '.0%')} | {num(f.get('blurred_rank1'), '.0%')} | "
            f"{num(f.get('blurred_median_identity_distance'), '.2f')}")
    lines = ["Same person: a test photo and its reconstruction count as one person when dlib's embeddings are "
             f"closer than {SAME_PERSON_DISTANCE:g}; rank-1 is the share of reconstructions whose nearest test "
             f"photo is their own, among {f['identity_pairs']} photos (photos in which dlib finds no face are "
             "left out and counted). The test photos blurred (sigma 1.5 px) are the baseline.", "",
             "| experiment | same person | rank-1 | median distance | photos left out | recon without a face |",
             "|---|---|---|---|---|---|", f"| blurred test photos | {blur} | — | — |"]
    for s in scored:
        f = s.faces
        lines.append(f"| {s.name} | {num(f.get('recon_same_person_rate'), '.0%')} | "
                     f"{num(f.get('recon_rank1'), '.0%')} | {num(f.get('recon_median_identity_distance'), '.2f')} | "
                     f"{f.get('identity_photos_no_face', '—')} | {f.get('recon_identity_no_face', '—')} |")
    return lines + [""]


def num(value: float | None, spec: str = ".3g") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return format(value, spec)


def precision_recall_text(quality) -> str:
    return "—" if quality is None else f"{quality.precision:.2f} / {quality.recall:.2f}"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


