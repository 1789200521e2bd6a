"""The user's labels named beside latent dimensions only beyond chance (trainer.evaluation.label_probes.label_dim_labels)."""
import numpy as np
import pytest

from trainer.data.labels import LabelColumn
from trainer.evaluation.label_probes import label_dim_labels, stored_label_dim_labels
from trainer.latent.sliders import axis_sliders


def _columns(rng, n: int, age: np.ndarray | None = None) -> list[LabelColumn]:
    return [LabelColumn("age", (rng.uniform(1, 90, n) if age is None else age).astype(np.float32)),
            LabelColumn("gender", rng.integers(0, 2, n).astype(np.float32), ("0", "1")),
            LabelColumn("race", rng.integers(0, 5, n).astype(np.float32), tuple("01234"))]


@pytest.mark.parametrize("n_images", [60, 200, 2000])
def test_random_labels_name_no_dimension_at_any_test_set_size(n_images):
    rng = np.random.default_rng(n_images)
    latents = rng.normal(size=(n_images, 16))
    found = label_dim_labels(latents, _columns(rng, n_images))
    assert found.n_images == n_images and not any(found.significant)
    assert [spec.detail for spec in axis_sliders(None, list(range(16)), 16, labels=found)] == [""] * 16


def test_a_label_that_is_a_dimension_is_named_beside_it_and_only_there():
    rng = np.random.default_rng(1)
    latents = rng.normal(size=(500, 8))
    age = 40 + 15 * latents[:, 3] + rng.normal(size=500)
    columns = _columns(rng, 500, age)
    columns[0].values[:5] = np.nan                     # images without an age are left out of the statistic
    found = label_dim_labels(latents, columns)
    assert found.n_images == 495
    details = [spec.detail for spec in axis_sliders(None, list(range(8)), 8, labels=found)]
    assert details[3].startswith("~ age ") and details[:3] + details[4:] == [""] * 7


def test_the_tested_names_travel_with_the_stored_evaluation():
    rng = np.random.default_rng(2)
    found = label_dim_labels(rng.normal(size=(100, 4)), _columns(rng, 100))
    payload = {"eval": {"labels": {"dim_labels": found.to_dict()}}}
    assert stored_label_dim_labels(payload, 4) == found
    assert stored_label_dim_labels(payload, 5) is None and stored_label_dim_labels({}, 4) is None
    assert label_dim_labels(np.zeros((10, 4)), _columns(rng, 10)) is None      # too few images to test
