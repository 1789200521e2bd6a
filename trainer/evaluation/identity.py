"""Does a reconstruction show the same person? Judged by dlib's face-recognition network (the faces extra).

Each test photo is compared with its reconstruction through their 128-d dlib embeddings
(trainer.evaluation.face_metrics.FaceNetwork):

* **same-person rate**: the share of pairs closer than SAME_PERSON_DISTANCE, dlib's documented threshold (its
  model tells two photos of one person from two people 99.38% of the time on LFW at this distance);
* **rank-1 identification**: the share of reconstructions whose nearest test photo is their own photo;
* **median distance** between a photo and its reconstruction.

The same numbers for the test photos blurred (sigma 1.5 px at 64 px) stand beside them as a baseline, so a figure
reads on its own. A photo in which dlib finds no face has no identity to keep: it is left out of the pairs and
counted (`identity_photos_no_face`). A reconstruction in which no face is found stays in (it is embedded whole, as
face FD does, and usually counts as another person) and is counted too (`recon_identity_no_face`).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:      # face_metrics imports this module
    from trainer.evaluation.face_metrics import FaceEmbeddings

SAME_PERSON_DISTANCE = 0.6


def identity_scores(photos: FaceEmbeddings, copies: FaceEmbeddings) -> dict:
    """same_person_rate, rank1 and median_identity_distance of `copies` (row i: a copy of photo i), over the photos
    in which a face was detected; None where there are too few pairs (rank-1 needs 2). Also n_pairs and no_face
    (copies among the pairs in which no face was detected)."""
    from scipy.spatial.distance import cdist

    if len(photos.vectors) != len(copies.vectors):
        raise ValueError(f"{len(copies.vectors)} copies for {len(photos.vectors)} photos; they must be paired")
    kept = np.asarray(photos.detected, bool)
    distances = cdist(copies.vectors[kept], photos.vectors[kept])        # (copy, photo)
    own = np.diagonal(distances)
    n = len(own)
    return {"same_person_rate": float((own < SAME_PERSON_DISTANCE).mean()) if n else None,
            "rank1": float((distances.argmin(axis=1) == np.arange(n)).mean()) if n >= 2 else None,
            "median_identity_distance": float(np.median(own)) if n else None,
            "n_pairs": int(n), "no_face": int((~np.asarray(copies.detected, bool)[kept]).sum())}


def identity_report(photos: FaceEmbeddings, reconstructions: FaceEmbeddings, blurred: FaceEmbeddings) -> dict:
    """The face report's identity entries: recon_* and blurred_* scores (identity_scores), the number of pairs, and
    the photos left out for want of a detected face."""
    recon, blur = identity_scores(photos, reconstructions), identity_scores(photos, blurred)
    report = {"identity_pairs": recon["n_pairs"],
              "identity_photos_no_face": int(len(photos.detected) - recon["n_pairs"]),
              "recon_identity_no_face": recon["no_face"], "blurred_identity_no_face": blur["no_face"]}
    for prefix, scores in (("recon", recon), ("blurred", blur)):
        for key in ("same_person_rate", "rank1", "median_identity_distance"):
            report[f"{prefix}_{key}"] = scores[key]
    return report


def format_identity(faces: dict) -> str | None:
    """One line for `vae-train eval` and the explorer's info panel, e.g. 'Same person (dlib distance < 0.6):
    reconstructions 37% (blurred photos 98%) · rank-1 17% (84%) · median distance 0.62 (0.48) · 300 photos, 2
    without a detected face left out'; None when the report has no identity entries (older evaluations)."""
    if faces.get("identity_pairs") is None:
        return None

    def pair(key: str, spec: str) -> str:
        return f"{_number(faces.get('recon_' + key), spec)} ({_number(faces.get('blurred_' + key), spec)})"

    left_out = faces.get("identity_photos_no_face") or 0
    no_face = faces.get("recon_identity_no_face") or 0
    return (f"Same person (dlib distance < {SAME_PERSON_DISTANCE:g}): reconstructions "
            f"{_number(faces.get('recon_same_person_rate'), '.0%')} (blurred photos "
            f"{_number(faces.get('blurred_same_person_rate'), '.0%')}) · rank-1 {pair('rank1', '.0%')} · median distance "
            f"{pair('median_identity_distance', '.2f')} · {faces['identity_pairs']} photos"
            + (f", {left_out} without a detected face left out" if left_out else "")
            + (f", {no_face} reconstructions without a detected face" if no_face else ""))


def _number(value, spec: str) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)
