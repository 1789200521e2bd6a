"""The user's labels as latent directions (trainer.latent.label_directions) on generated latents with known labels."""
import numpy as np
import pytest

from trainer.data.labels import LabelColumn
from trainer.latent.label_directions import LabelModels, fit_label_models, label_sliders

TRUE_AGE = np.array([3.0, 2.0, 0, 0, 0, 0, 0, 0])


def _data(n: int, seed: int):
    rng = np.random.default_rng(seed)
    latents = rng.normal(size=(n, 8))
    age = 30 + latents @ TRUE_AGE + 0.3 * rng.normal(size=n)
    gender = (latents[:, 2] + 0.5 * latents[:, 0] > 0).astype(np.float32)   # correlated with age on purpose
    race = rng.integers(0, 3, n).astype(np.float32)                          # unrelated to the latent
    noise = rng.normal(size=n).astype(np.float32)
    columns = [LabelColumn("age", age.astype(np.float32)), LabelColumn("gender", gender, ("female", "male")),
               LabelColumn("race", race, ("a", "b", "c")), LabelColumn("noise", noise)]
    return latents, columns


@pytest.fixture(scope="module")
def models() -> LabelModels:
    train, train_columns = _data(2000, 0)
    test, test_columns = _data(500, 1)
    return fit_label_models(train, train_columns, test, test_columns)


def test_a_label_that_is_linear_in_the_latent_is_recovered(models):
    age = models.probe("age")
    cosine = age.weights[0] @ TRUE_AGE / np.linalg.norm(age.weights[0]) / np.linalg.norm(TRUE_AGE)
    assert cosine > 0.99 and age.quality > 0.95 and age.n_test == 500
    gender = models.probe("gender")
    assert gender.categories == ("female", "male") and gender.quality > 0.9 and gender.chance == 0.5
    assert gender.mig > 0.1


def test_a_random_label_is_not(models):
    assert abs(models.probe("noise").quality) < 0.05
    race = models.probe("race")
    assert race.chance == pytest.approx(1 / 3) and abs(race.quality - race.chance) < 0.06


def test_readout_names_every_label(models):
    z = np.zeros(8)
    text = models.readout(z)
    assert text.startswith("age ≈ 30 years  ·  gender = ") and "%)  ·  race = " in text
    assert "noise ≈ " in text
    assert models.probe("gender").predict(z).sum() == pytest.approx(1.0)


def test_a_label_slider_moves_its_label_and_holding_another_keeps_that_one_fixed(models):
    free = {spec.key: spec for spec in label_sliders(models)}
    held = {spec.key: spec for spec in label_sliders(models, held=["gender"])}
    assert {"label:age", "label:gender=male", "label:race=c", "label:noise"} <= set(free)
    assert "label:gender=female" not in free            # the mirror of gender=male
    age, gender = models.probe("age"), models.probe("gender")
    for specs, moves_gender in ((free, True), (held, False)):
        spec = specs["label:age"]
        ends = np.stack([spec.moved(models.mean, spec.low), spec.moved(models.mean, spec.high)])
        assert np.ptp(age.predict(ends)) > 10
        change = np.ptp(gender.predict(ends)[:, 1])
        assert (change > 0.1) if moves_gender else (change < 1e-6)
    assert "gender held fixed" in held["label:age"].detail


def test_models_round_trip_through_plain_types(models):
    again = LabelModels.from_dict(models.to_dict())
    z = np.random.default_rng(2).normal(size=(3, 8))
    assert again.readout(z[0]) == models.readout(z[0])
    np.testing.assert_allclose(again.probe("race").predict(z), models.probe("race").predict(z))


def test_labels_that_cannot_be_fitted_say_why():
    latents = np.random.default_rng(3).normal(size=(30, 4))
    columns = [LabelColumn("few", np.r_[np.ones(5), np.full(25, np.nan)].astype(np.float32)),
               LabelColumn("flat", np.ones(30, np.float32)),
               LabelColumn("one", np.zeros(30, np.float32), ("x", "y"))]
    found = fit_label_models(latents, columns)
    assert found.probes == []
    assert "5 labelled training images" in found.skipped["few"]
    assert "same value" in found.skipped["flat"] and "two categories" in found.skipped["one"]


def test_stored_label_models_come_from_the_eval_report_of_the_same_latent_size(models):
    from trainer.latent.label_directions import stored_label_models

    payload = {"eval": {"labels": {**models.to_dict(), "file": "labels.csv", "n_train": 2000, "n_test": 500}}}
    assert stored_label_models(payload, 8).readout(np.zeros(8)) == models.readout(np.zeros(8))
    assert stored_label_models(payload, 16) is None
    assert stored_label_models({"eval": {"labels": {"error": "bad"}}}, 8) is None
    assert stored_label_models({}, 8) is None


def test_a_label_slider_shows_the_predicted_label_in_its_unit_over_the_training_faces_range(models):
    train, _ = _data(2000, 0)
    age = models.probe("age")
    for spec in (next(s for s in label_sliders(models, held=held) if s.key == "label:age") for held in ([], ["gender"])):
        assert spec.unit == "years" and "years · training faces " in spec.detail
        low, high = np.percentile(age.predict(train), [1, 99])
        assert (spec.low, spec.high) == pytest.approx((low, high))        # about 30 +- 8.4, not +- 2.5 spreads
        face = train[7]
        assert spec.value(face) == pytest.approx(age.predict(face)[0])
        assert age.predict(spec.moved(face, 50.0))[0] == pytest.approx(50.0)


def test_models_stored_without_ranges_get_the_normal_approximation(models):
    stored = models.to_dict()
    for probe in stored["probes"]:
        del probe["score_range"]
    spec = next(s for s in label_sliders(LabelModels.from_dict(stored)) if s.key == "label:age")
    assert (spec.low, spec.high) == pytest.approx((30 - 2.326 * 13 ** 0.5, 30 + 2.326 * 13 ** 0.5), abs=0.5)


def test_a_numbers_slider_stays_within_the_values_its_column_holds():
    rng = np.random.default_rng(4)
    latents = rng.normal(size=(500, 4))
    age = np.clip(20 + 15 * latents[:, 0], 1, None).astype(np.float32)    # many babies: a line predicts below 1
    spec = label_sliders(fit_label_models(latents, [LabelColumn("age", age)]))[0]
    assert spec.low == pytest.approx(1.0) and spec.high <= age.max()
