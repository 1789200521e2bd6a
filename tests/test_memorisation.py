"""trainer.evaluation.memorisation: a model that copies training faces is told apart from one that makes new ones."""
import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from trainer.data.datasets import FaceDataset
from trainer.evaluation.memorisation import (measure_memorisation, memorisation_figure,
                                             memorisation_figure_path, memorisation_for, memorisation_section)


def faces(n: int, seed: int, size: int = 32) -> torch.Tensor:
    """Smooth random uint8 (n, 3, size, size) images, all from one distribution (as faces of one data set are)."""
    g = torch.Generator().manual_seed(seed)
    low = torch.randint(0, 256, (n, 3, 4, 4), generator=g).float()
    images = torch.nn.functional.interpolate(low, size=size, mode="bilinear", align_corners=False)
    return images.add_(torch.randn(n, 3, size, size, generator=g) * 6).clamp_(0, 255).to(torch.uint8)


class CopyingModel(torch.nn.Module):
    """A 'decoder' that memorised 10 training images: every latent decodes to one of them (chosen by z)."""

    is_variational = True

    def __init__(self, memorised: torch.Tensor):
        super().__init__()
        self.latent_dim = 8
        self.device_anchor = torch.nn.Parameter(torch.zeros(1))     # the codec finds the model's device by it
        self.register_buffer("memorised", memorised.float() / 255)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        which = (z[:, :2].abs().sum(1) * 7).long() % len(self.memorised)
        return self.memorised[which]


class NewFacesModel(CopyingModel):
    """A 'decoder' of new faces from the data's own distribution, never seen in training."""

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return faces(len(z), seed=100).float() / 255


@pytest.fixture
def dataset() -> FaceDataset:
    return FaceDataset(train=faces(300, seed=1), test=faces(400, seed=2), source="synthetic")


def check(model, dataset, n=200):
    result, samples = memorisation_for(SimpleNamespace(model=model), dataset, sampler="prior", n_samples=n)
    return result, samples


@pytest.mark.slow
def test_a_copying_model_is_called_copying_and_a_new_faces_model_is_not(dataset):
    copier, _ = check(CopyingModel(dataset.train[:10]), dataset)
    maker, _ = check(NewFacesModel(dataset.train[:10]), dataset)
    assert copier.copying and copier.verdict.startswith("copying")
    assert not maker.copying and maker.verdict.startswith("no sign of copying")
    assert copier.fraction_close > 0.9 and maker.fraction_close < 0.15
    assert set(copier.sample_nearest.tolist()) <= set(range(10))        # its nearest faces are the memorised ones
    assert np.median(copier.sample_distances) < 1e-6 < np.median(maker.sample_distances)
    assert copier.exact_fraction == 1.0
    summary = copier.to_dict()
    assert summary["copying"] and summary["n_train"] == 300 and len(summary["closest_pairs"]) == 8
    json.dumps(summary)                                                  # it goes into the eval JSON


def test_distances_are_the_brute_force_nearest_training_distances(dataset):
    samples = faces(15, seed=5)
    result = measure_memorisation(samples, dataset.test[:20], dataset.train)
    for row, sample in enumerate(samples):
        rms = ((dataset.train.double() - sample.double()) / 255).pow(2).mean(dim=(1, 2, 3)).sqrt()
        assert result.sample_nearest[row] == int(rms.argmin())
        assert result.sample_distances[row] == pytest.approx(float(rms.min()), abs=1e-5)


@pytest.mark.slow
def test_figure_and_report_section(dataset, tmp_path):
    result, samples = check(CopyingModel(dataset.train[:10]), dataset, n=40)
    path = memorisation_figure(result, samples, dataset.train, tmp_path / "m.png")
    from PIL import Image
    with Image.open(path) as image:
        assert image.size == (800, 640)
    assert not list(tmp_path.glob(".*tmp"))
    lines = memorisation_section([("copier", result.to_dict(), "runs/copier/memorisation.png"), ("broken", None, None)])
    text = "\n".join(lines)
    assert "## Memorisation" in text and "| copier | prior |" in text and "copying |" in text
    assert "![memorisation of copier](runs/copier/memorisation.png)" in text and "broken" not in text
    assert memorisation_section([]) == []


def test_empty_inputs_are_a_clear_error():
    with pytest.raises(ValueError, match="needs samples"):
        measure_memorisation(faces(2, 0), faces(0, 0), faces(3, 0))


def test_figure_path_sits_beside_the_json(tmp_path):
    assert memorisation_figure_path(tmp_path / "best.eval.json") == tmp_path / "best.memorisation.png"
    assert memorisation_figure_path(tmp_path / "out.json") == tmp_path / "out.memorisation.png"


@pytest.mark.slow
def test_vae_train_eval_reports_memorisation(tiny_checkpoint, tmp_path, capsys):
    from trainer.cli.commands import main

    out = tmp_path / "tiny.eval.json"
    assert main(["eval", str(tiny_checkpoint), "--json", str(out), "--no-faces"]) == 0
    report = json.loads(out.read_text())["memorisation"]
    assert report["verdict"] and 0 <= report["fraction_closer_than_test_p5"] <= 1
    assert (tmp_path / "tiny.memorisation.png").is_file()
    assert "memorisation (" in capsys.readouterr().out
    assert main(["eval", str(tiny_checkpoint), "--json", str(tmp_path / "b.json"), "--no-faces",
                 "--no-memorisation"]) == 0
    assert "memorisation" not in json.loads((tmp_path / "b.json").read_text())
    assert not (tmp_path / "b.memorisation.png").exists()


@pytest.mark.slow
def test_experiments_report_has_a_memorisation_section(tiny_checkpoint, tmp_path):
    from PIL import Image

    from trainer.evaluation.sample_quality import FeatureNetSettings
    from trainer.study.report import write_report

    run_dir = tiny_checkpoint.parent.parent
    settings = FeatureNetSettings(steps=5, batch_size=16, train_images=64, feature_dim=8, base_channels=4, depth=3,
                                  n_reference=40)
    report = write_report([run_dir], tmp_path / "report", feature_settings=settings, say=lambda _: None,
                          face_images=0)
    text = report.read_text()
    name = json.loads((tmp_path / "report" / "summary.json").read_text())["runs"][0]["name"]
    assert "## Memorisation" in text and f"![memorisation of {name}](runs/{name}/memorisation.png)" in text
    assert Image.open(tmp_path / "report" / "runs" / name / "memorisation.png").size == (800, 640)
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary["runs"][0]["memorisation"]["verdict"]
