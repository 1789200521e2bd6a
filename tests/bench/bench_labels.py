"""Benchmark: the "Your labels" sliders on a labelled folder (issue 23's done-when figures).

For test faces of the data set, the age slider ("label:age") of the explorer's "Your labels" mode is moved from the
low to the high end of its range as the explorer shows it (the training faces' predicted ages, 1st to 99th
percentile: slider_low .. slider_high, in years), once free and once with gender held fixed, and we measure:

  age_change        predicted age at the high end minus at the low end (target >= 20 years)
  gender_change     change of the predicted probability of the second gender category (target < 0.1 held fixed)

(JSON keys: free_... for the free slider, held_... with the --held label fixed.)

each read from the latent itself (what the explorer's readout shows) and after a round trip through the model
(the face decoded, the image encoded again, then read): the round trip says whether the decoded faces really change.
The label models are the ones `vae-train eval` stored for the checkpoint (its report's "labels"); without them they
are fitted here the same way (trainer.evaluation.label_probes.label_probe_report).

    python tests/bench/bench_labels.py CHECKPOINT [--faces 50] [--number age] [--held gender]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from trainer.data.datasets import load_dataset  # noqa: E402
from trainer.evaluation.label_probes import label_probe_report  # noqa: E402
from trainer.latent.codec import decode_latents, encode_images, hwc_to_nchw  # noqa: E402
from trainer.latent.label_directions import LabelModels, label_sliders, stored_label_models  # noqa: E402
from trainer.training.checkpoint import load_checkpoint  # noqa: E402


def label_models(checkpoint, dataset) -> LabelModels:
    models = stored_label_models(checkpoint.payload, checkpoint.model.latent_dim)
    if models is None:
        report = label_probe_report(checkpoint, dataset)
        if not report or "error" in report:
            raise SystemExit(f"no labels for {dataset.source}: {report}")
        models = LabelModels.from_dict(report)
    return models


def measure(models: LabelModels, model, faces: np.ndarray, number: str, held: list[str], category: str) -> dict:
    spec = next(s for s in label_sliders(models, held=held) if s.key == f"label:{number}")
    low = np.stack([spec.moved(z, spec.low) for z in faces])
    high = np.stack([spec.moved(z, spec.high) for z in faces])
    age, gender = models.probe(number), models.probe(category)
    k = 1 if len(gender.categories) == 2 else 0
    result = {"slider_low": spec.low, "slider_high": spec.high}
    for where, (a, b) in {"latent": (low, high), "round_trip": (_round_trip(model, low), _round_trip(model, high))}.items():
        result[f"{where}_age_change"] = float(np.mean(age.predict(b) - age.predict(a)))
        result[f"{where}_gender_change"] = float(np.mean(np.abs(gender.predict(b)[:, k] - gender.predict(a)[:, k])))
    return result


def _round_trip(model, latents: np.ndarray) -> np.ndarray:
    images = decode_latents(model, latents, exact=True)
    return encode_images(model, hwc_to_nchw(images))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--faces", type=int, default=50, help="test faces to move")
    parser.add_argument("--number", default="age")
    parser.add_argument("--held", default="gender")
    args = parser.parse_args()
    checkpoint = load_checkpoint(args.checkpoint)
    dataset = load_dataset(checkpoint.config.data)
    models = label_models(checkpoint, dataset)
    model = checkpoint.model.eval()
    faces = encode_images(model, dataset.test[:args.faces])[0]
    rows = {"free": measure(models, model, faces, args.number, [], args.held),
            f"{args.held} held": measure(models, model, faces, args.number, [args.held], args.held)}
    keys = list(next(iter(rows.values())))
    print(f"{len(faces)} test faces, the '{args.number}' slider from its low to its high end "
          f"(probe {models.probe(args.number).quality_text()}; {args.held} {models.probe(args.held).quality_text()})")
    print(f"{'':<14}" + "".join(f"{key:>26}" for key in keys))
    for name, row in rows.items():
        print(f"{name:<14}" + "".join(f"{row[key]:>26.3f}" for key in keys))
    print(json.dumps({"faces": len(faces), "number": args.number, "held": args.held,
                      **{f"{'free' if name == 'free' else 'held'}_{key}": round(value, 4)
                         for name, row in rows.items() for key, value in row.items()}}))


if __name__ == "__main__":
    main()
