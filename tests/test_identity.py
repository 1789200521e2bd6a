"""Identity kept by reconstructions (trainer/evaluation/identity.py): the scores on hand-made embeddings, the face
report's entries on a fake network, and where they are shown (eval table, experiments report, info panel)."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from trainer.evaluation.face_metrics import FaceEmbeddings, face_report, format_face_table
from trainer.evaluation.identity import format_identity, identity_report, identity_scores


def _embeddings(points: list[float], detected: list[bool] | None = None) -> FaceEmbeddings:
    """One embedding per value, on the first axis of the 128-d space."""
    vectors = np.zeros((len(points), 128))
    vectors[:, 0] = points
    return FaceEmbeddings(vectors, np.array(detected if detected is not None else [True] * len(points)))


def test_same_person_rank1_and_median_distance_of_paired_copies() -> None:
    photos = _embeddings([0.0, 1.0, 2.0, 3.0])
    # copy 0: 0.1 from its photo; copy 1: 0.55 (same person, but 0.45 from photo 2: a rank-1 miss);
    # copy 2: 0.7 (another person, and nearer photo 3); copy 3: exact.
    copies = _embeddings([0.1, 1.55, 2.7, 3.0])
    scores = identity_scores(photos, copies)
    assert scores["same_person_rate"] == pytest.approx(3 / 4)
    assert scores["rank1"] == pytest.approx(2 / 4)          # copies 1 and 2 are nearer another photo
    assert scores["median_identity_distance"] == pytest.approx((0.1 + 0.55) / 2)
    assert scores["n_pairs"] == 4 and scores["no_face"] == 0


def test_photos_without_a_face_are_left_out_and_counted_copies_without_one_stay_in() -> None:
    photos = _embeddings([0.0, 1.0, 2.0, 3.0], detected=[True, False, True, True])
    copies = _embeddings([0.0, 1.0, 2.0, 9.0], detected=[True, True, True, False])
    report = identity_report(photos, copies, _embeddings([0.0, 1.0, 2.0, 3.0]))
    assert report["identity_pairs"] == 3 and report["identity_photos_no_face"] == 1
    assert report["recon_identity_no_face"] == 1 and report["blurred_identity_no_face"] == 0
    assert report["recon_same_person_rate"] == pytest.approx(2 / 3)   # copy 3 (no face) counts as another person
    assert report["blurred_same_person_rate"] == 1.0 and report["blurred_rank1"] == 1.0


def test_too_few_pairs_give_none_not_a_fake_score() -> None:
    one = identity_scores(_embeddings([0.0, 5.0], [True, False]), _embeddings([0.0, 5.0]))
    assert one["n_pairs"] == 1 and one["same_person_rate"] == 1.0 and one["rank1"] is None
    none = identity_scores(_embeddings([0.0], [False]), _embeddings([0.0]))
    assert none["same_person_rate"] is None and none["median_identity_distance"] is None
    with pytest.raises(ValueError, match="paired"):
        identity_scores(_embeddings([0.0, 1.0]), _embeddings([0.0]))


class ShiftNetwork:
    """Embeds an image as its mean brightness (0..1 on the first axis, scaled by 4 so a 0.15 change crosses the
    0.6 threshold); every image "has a face"."""

    detect_size = 1

    def embeddings(self, images: torch.Tensor) -> FaceEmbeddings:
        return _embeddings(list(4 * images.double().mean(dim=(1, 2, 3)).numpy() / 255))


def test_the_face_report_scores_reconstructions_and_blurred_photos_from_one_embedding_each(tmp_path) -> None:
    values = [10, 60, 110, 160, 210]
    test = torch.stack([torch.full((3, 16, 16), v, dtype=torch.uint8) for v in values])
    recon = test.clone()
    recon[0] = 60                                   # photo 0 comes back as photo 1's person
    report = face_report(recon, test, test, test, ShiftNetwork(), cache_dir=tmp_path)
    assert report["recon_same_person_rate"] == pytest.approx(4 / 5)
    assert report["recon_rank1"] == pytest.approx(4 / 5)
    assert report["blurred_same_person_rate"] == 1.0       # a flat image blurs to itself
    assert report["identity_pairs"] == 5 and report["identity_photos_no_face"] == 0


FACES = {"sample_face_detect": 0.5, "sample_face_fd": 0.2, "sample_face_fd_detected": None,
         "recon_face_detect": 0.75, "recon_face_fd": 0.1, "floor_face_fd": 0.03, "blurred_face_fd": 0.05,
         "test_face_detect": 1.0, "n_images": 4, "sampler": "gaussian", "identity_pairs": 3,
         "identity_photos_no_face": 1, "recon_identity_no_face": 2, "blurred_identity_no_face": 0,
         "recon_same_person_rate": 0.37, "recon_rank1": 0.17, "recon_median_identity_distance": 0.62,
         "blurred_same_person_rate": 0.98, "blurred_rank1": 0.84, "blurred_median_identity_distance": 0.48}


def test_the_eval_table_the_report_and_the_info_panel_show_identity_beside_the_blur_baseline() -> None:
    from trainer.study.report_tables import face_table
    from vae_gui.explorer.checkpoint_text import format_faces

    line = format_identity(FACES)
    assert "reconstructions 37% (blurred photos 98%)" in line and "rank-1 17% (84%)" in line
    assert "0.62 (0.48)" in line and "1 without a detected face left out" in line
    assert line in format_face_table(FACES)
    table = "\n".join(face_table([SimpleNamespace(name="run-a", faces=FACES)]))
    assert "| blurred test photos | 98% | 84% | 0.48 |" in table and "| run-a | 37% | 17% | 0.62 | 1 | 2 |" in table
    panel = format_faces({"faces": FACES})
    assert "rank-1 17% (84%)" in panel and "distance &lt; 0.6" in panel      # HTML-escaped in the rich text


def test_older_face_reports_without_identity_show_no_identity_line() -> None:
    from trainer.study.report_tables import face_table

    old = {k: v for k, v in FACES.items() if "identity" not in k and "same_person" not in k and "rank1" not in k}
    assert format_identity(old) is None
    assert "Same person" not in format_face_table(old)
    assert not any("Same person" in line for line in face_table([SimpleNamespace(name="run-a", faces=old)]))
