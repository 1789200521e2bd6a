"""Face metrics (trainer/evaluation/face_metrics.py): real dlib on non-faces and synthetic faces, the aggregation on a fake
network, and `vae-train eval` with and without the faces extra. No face photo is used (none may be committed).

dlib's embedding network takes ~80 ms per image on one core, so every set here is a handful of images.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from imagefiles import make_split_folder
from trainer.evaluation import face_metrics
from trainer.cli import main
from trainer.evaluation.face_metrics import (INSTALL_HINT, FaceEmbeddings, FaceMetricsError, FaceNetwork, blurred,
                                  compare_embeddings, face_metrics_available, face_report, face_scores)
from trainer.data.synthetic import make_synthetic_faces

REPORT_KEYS = {"recon_face_detect", "recon_face_fd", "sample_face_detect", "sample_face_fd", "sample_face_fd_detected",
               "floor_face_fd", "blurred_face_fd"}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def network() -> FaceNetwork:
    return FaceNetwork()


def _non_faces(n: int = 4, size: int = 64) -> torch.Tensor:
    """Uniform grey, pixel noise and smooth colour blobs: nothing a face detector should fire on."""
    rng = np.random.default_rng(0)
    grey = np.full((1, 3, size, size), 128, np.uint8)
    noise = rng.integers(0, 256, (n - 2, 3, size, size), dtype=np.uint8)
    blobs = torch.nn.functional.interpolate(torch.from_numpy(rng.integers(0, 256, (1, 3, 6, 6), dtype=np.uint8))
                                            .float(), size=size, mode="bicubic").clamp(0, 255).to(torch.uint8)
    return torch.cat([torch.from_numpy(grey), torch.from_numpy(noise), blobs])


def _synthetic_faces(n: int, size: int = 64) -> torch.Tensor:
    images, _ = make_synthetic_faces(n, seed=0, image_size=size)
    return torch.from_numpy(images)


# ---------------------------------------------------------------- real dlib

def test_the_faces_extra_is_installed_here() -> None:
    assert face_metrics_available(), INSTALL_HINT


@pytest.mark.slow
def test_non_faces_are_not_detected_and_blurred_noise_scores_zero(network: FaceNetwork) -> None:
    assert not network.detect(_non_faces()).any()
    embeddings = network.embeddings(blurred(_non_faces()))
    assert embeddings.detect_rate == 0.0


def test_synthetic_cartoon_faces_are_detected(network: FaceNetwork) -> None:
    # About a quarter of the procedural faces pass dlib's detector (faces 2, 3, 4, 6 and 9 of seed 0 at 64 px).
    detected = network.detect(_synthetic_faces(10))
    assert detected.dtype == bool and detected.shape == (10,)
    assert 1 <= detected.sum() < 10


@pytest.mark.slow
def test_embeddings_have_128_dims_are_deterministic_and_fd_of_a_set_with_itself_is_zero(
        network: FaceNetwork) -> None:
    images = torch.cat([_synthetic_faces(4)[[2, 3]], _non_faces(2)])
    vectors, detected = network.embed(images)
    assert vectors.shape == (4, 128) and vectors.dtype == np.float64 and np.isfinite(vectors).all()
    assert detected.tolist() == [True, True, False, False]
    again, _ = network.embed(images)
    np.testing.assert_array_equal(vectors, again)
    scores = compare_embeddings(FaceEmbeddings(vectors, detected), FaceEmbeddings(vectors, detected))
    assert scores["face_fd"] == pytest.approx(0.0, abs=1e-6)
    assert scores["face_fd_detected"] == pytest.approx(0.0, abs=1e-6)
    assert scores["face_detect"] == 0.5 and scores["n_detected"] == 2
    # Faces against non-faces are far apart.
    assert face_scores(images[2:], images[:2], network)["face_fd"] > 0.1


def test_grey_images_are_taken_and_wrong_images_refused(network: FaceNetwork) -> None:
    assert network.detect(_non_faces(3)[:, :1]).shape == (3,)
    with pytest.raises(FaceMetricsError, match="uint8"):
        network.detect(torch.zeros(2, 3, 8, 8))


@pytest.mark.slow
def test_face_report_on_real_dlib(network: FaceNetwork, tmp_path: Path) -> None:
    faces = _synthetic_faces(10)
    report = face_report(faces[[2, 3, 4]], _non_faces(3), faces[[2, 3, 4]], faces[[6, 9, 0]], network,
                         cache_dir=tmp_path)
    assert REPORT_KEYS <= set(report)
    assert report["recon_face_detect"] == 1.0 and report["sample_face_detect"] == 0.0
    assert report["recon_face_fd"] == pytest.approx(0.0, abs=1e-6)      # the "reconstructions" are the test images
    assert report["sample_face_fd_detected"] is None                     # no face among the samples
    assert report["sample_face_fd"] > report["floor_face_fd"] > 0
    assert report["n_images"] == 3


# ---------------------------------------------------------------- aggregation, on a fake network

class FakeNetwork:
    """Embeds an image as its mean colour (3 dims, padded to 128); "detects" a face in bright images."""

    detect_size = 1

    def __init__(self):
        self.embedded = 0

    def embeddings(self, images: torch.Tensor) -> FaceEmbeddings:
        self.embedded += len(images)
        colour = images.double().mean(dim=(2, 3)).numpy() / 255
        vectors = np.zeros((len(images), 128))
        vectors[:, :3] = colour
        return FaceEmbeddings(vectors, colour.mean(1) > 0.5)


def _striped(values: list[int], size: int = 16) -> torch.Tensor:
    """One image per value: channel c is value + 10 c plus thin stripes (which a blur changes), clipped to 255."""
    stripes = 10 * (torch.arange(size) % 2).expand(size, size)
    return torch.stack([torch.stack([v + 10 * c + stripes for c in range(3)]) for v in values]).clamp(0, 255).to(
        torch.uint8)


@pytest.mark.slow
def test_face_report_aggregates_and_caches_the_real_sets(tmp_path: Path) -> None:
    fake = FakeNetwork()
    test = _striped([200, 210, 20, 30])
    train = _striped([190, 220, 25, 35, 240, 5])             # cut evenly to 4 images: 190, 25, 35, 5
    samples = _striped([200, 0, 0, 0])
    report = face_report(test, samples, test, train, fake, cache_dir=tmp_path)
    assert report["n_images"] == 4
    assert report["recon_face_detect"] == 0.5 and report["sample_face_detect"] == 0.25
    assert report["recon_face_fd"] == pytest.approx(0.0, abs=1e-9)
    assert report["sample_face_fd_detected"] is None                 # one detected sample: no covariance
    assert report["recon_face_fd_detected"] == pytest.approx(0.0, abs=1e-9)
    assert report["sample_face_fd"] > report["floor_face_fd"] > 0
    assert report["test_face_detect"] == 0.5
    assert fake.embedded == 5 * 4
    again = face_report(test, samples, test, train, fake, cache_dir=tmp_path)
    assert again == report
    assert fake.embedded == 5 * 4 + 2 * 4                           # test, train and blurred test came from the cache


def test_face_report_needs_two_images_per_set(tmp_path: Path) -> None:
    with pytest.raises(FaceMetricsError, match="at least 2"):
        face_report(_striped([1]), _striped([1, 2]), _striped([1, 2]), _striped([1, 2]), FakeNetwork(),
                    cache_dir=tmp_path)


def test_the_report_and_the_info_panel_show_stored_face_numbers() -> None:
    from trainer.study.report_tables import face_table
    from vae_gui.explorer.checkpoint_text import format_faces

    faces = {"sample_face_detect": 0.5, "sample_face_fd": 0.2, "sample_face_fd_detected": None,
             "recon_face_detect": 0.75, "recon_face_fd": 0.1, "floor_face_fd": 0.03, "blurred_face_fd": 0.05,
             "test_face_detect": 1.0, "n_images": 4, "sampler": "gaussian"}
    table = face_table([SimpleNamespace(name="run-a", faces=faces), SimpleNamespace(name="run-b", faces=None)])
    assert "| run-a | gaussian | 50% | 0.2000 | — | 75% | 0.1000 |" in table
    assert not any("run-b" in line for line in table)
    assert face_table([SimpleNamespace(name="run-b", faces=None)]) == []
    text = format_faces({"psnr": 20.0, "faces": faces})
    assert "faces in samples 50%" in text and "face FD samples 0.200" in text and "blurred 0.050" in text


# ---------------------------------------------------------------- vae-train eval

@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    folder = make_split_folder(tmp_path / "faces", n_train=6, n_test=3)
    assert main(["train", "--data", str(folder), "--runs-dir", str(tmp_path / "runs"), "--image-size", "32",
                 "--base-channels", "8", "--latent-dim", "4", "--batch-size", "4", "--max-steps", "1",
                 "--threads", "1", "--precision", "fp32", "--device", "cpu", "--quiet", "--name", "r"]) == 0
    return tmp_path / "runs" / "r" / "checkpoints" / "last.pt"


@pytest.mark.slow
def test_eval_adds_a_face_network_block(checkpoint: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "eval.json"
    assert main(["eval", str(checkpoint), "--json", str(out), "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert "Face network" in printed and INSTALL_HINT not in printed
    report = json.loads(out.read_text())
    faces = report["faces"]
    assert REPORT_KEYS <= set(faces) and faces["n_images"] == 3
    assert faces["sampler"] == report["sampler"]["default"]      # the samples a user sees by default
    from trainer.training.checkpoint import load_checkpoint
    assert load_checkpoint(checkpoint).payload["eval"]["faces"] == faces       # stored, so the explorer shows it


@pytest.mark.slow
def test_eval_without_dlib_prints_the_hint_and_succeeds(checkpoint: Path, tmp_path: Path, capsys,
                                                       monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "dlib", None)          # `import dlib` now raises ImportError
    assert not face_metrics_available()
    out = tmp_path / "eval.json"
    assert main(["eval", str(checkpoint), "--json", str(out), "--device", "cpu", "--no-store"]) == 0
    printed = capsys.readouterr().out
    assert printed.count(INSTALL_HINT) == 1 and "Face network" not in printed
    assert "faces" not in json.loads(out.read_text())
    with pytest.raises(face_metrics.FaceMetricsUnavailable, match="faces extra"):
        FaceNetwork()
    from vae_gui.explorer.checkpoint_text import format_faces
    assert INSTALL_HINT.replace('"', "&quot;") in format_faces({"psnr": 20.0})
