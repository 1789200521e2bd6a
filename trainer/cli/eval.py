"""`vae-train eval`, `predict` and `export`: what can be done with a checkpoint."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from trainer.config import ConfigError, DataConfig, RunConfig
from trainer.names import printable
from trainer.package import install_command

FORMATTER = argparse.ArgumentDefaultsHelpFormatter


def add_checkpoint_parsers(commands) -> None:
    """Add the `eval`, `predict` and `export` subcommands."""
    _add_eval_parser(commands)
    _add_predict_parser(commands)
    _add_export_parser(commands)


def _non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _add_eval_parser(commands) -> None:
    p = commands.add_parser("eval", help="metrics of a checkpoint on a test split",
                            formatter_class=FORMATTER)
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--data", default=None, help="data to evaluate on (default: the data it was trained on)")
    p.add_argument("--json", type=Path, default=None, help="where to write the JSON (default: CHECKPOINT.eval.json)")
    p.add_argument("--device", default="auto")
    p.add_argument("--store", action="store_true",
                   help="also write the results into the checkpoint (by default the checkpoint is left unchanged "
                        "and the results go to the cache, where the explorer finds them)")
    p.add_argument("--no-store", action="store_true", help=argparse.SUPPRESS)    # the default now; kept for scripts
    p.add_argument("--no-faces", action="store_true",
                   help="skip the face-network metrics (with the faces extra they add about a minute on a CPU)")
    p.add_argument("--no-memorisation", action="store_true",
                   help="skip the memorisation check (samples vs test images: distance to the nearest training "
                        "image; its figure goes beside the JSON as NAME.memorisation.png)")
    p.set_defaults(handler=run_eval)


def _add_predict_parser(commands) -> None:
    p = commands.add_parser("predict", help="write reconstructions and random samples as PNG files",
                            formatter_class=FORMATTER)
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--data", default=None, help="images to reconstruct (default: the data it was trained on)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--n-recon", type=_non_negative_int, default=64, help="test images to reconstruct")
    p.add_argument("--n-samples", type=_non_negative_int, default=64, help="random samples to draw")
    p.add_argument("--sampler", default="default", choices=("default", "prior", "gaussian", "mixture", "flow"),
                   help="where samples come from: the prior, or a Gaussian / mixture / normalising flow fitted to "
                        "encoded latents (a flow the evaluation stored is reused); "
                        "default: the one that fits held-out codes best, as the evaluation chose")
    p.add_argument("--temperature", type=_positive_float, default=1.0, help="sampling temperature")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.set_defaults(handler=run_predict)


def _add_export_parser(commands) -> None:
    p = commands.add_parser("export", formatter_class=FORMATTER,
                            help="copy a checkpoint without optimizer state (smaller; cannot resume), or write its "
                                 "decoder and encoder as ONNX / TorchScript graphs",
                            description="checkpoint (the default): OUT is the slim checkpoint file. onnx, "
                                        "torchscript: OUT is a folder that gets decoder and encoder graphs (latent "
                                        "-> image; image -> mean, logvar), each checked against PyTorch on random "
                                        f"inputs. ONNX needs {install_command('onnx')}.")
    p.add_argument("checkpoint", type=Path)
    p.add_argument("out", type=Path, help="the slim checkpoint to write, or the folder of the graphs")
    p.add_argument("--format", choices=("checkpoint", "onnx", "torchscript"), default="checkpoint",
                   help="what to write")
    p.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    if args.format != "checkpoint":
        return _export_graphs(args)
    from trainer.training.checkpoint import export_for_inference
    from trainer.training.rundir import check_output_file

    check_output_file(args.out, "export target")
    args.signals.keeping(f"nothing was written to {printable(args.out)}")
    out = export_for_inference(args.checkpoint, args.out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def _export_graphs(args: argparse.Namespace) -> int:
    from trainer.models.export import TOLERANCE, check_format_available, export_graphs
    from trainer.training.checkpoint import load_checkpoint
    from trainer.training.rundir import check_output_folder

    check_format_available(args.format)            # before the slow part: a missing package is said at once
    check_output_folder(args.out, "export folder")
    args.signals.keeping(f"the graphs written so far in {printable(args.out)} are whole")
    checkpoint = load_checkpoint(args.checkpoint)
    for graph in export_graphs(checkpoint.model, args.out, args.format):
        print(f"wrote {graph.path} ({graph.path.stat().st_size / 1e6:.1f} MB): {', '.join(graph.inputs)} -> "
              f"{', '.join(graph.outputs)}; largest difference from PyTorch {graph.max_difference:.1e} "
              f"(limit {TOLERANCE:g})")
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from trainer.training.checkpoint import load_checkpoint
    from trainer.cli.progress import DataProgressBar
    from trainer.data.datasets import load_dataset
    from trainer.training.device import resolve_device
    from trainer.evaluation.evaluate import evaluate_checkpoint_file
    from trainer.evaluation.metrics import EvalReport
    from trainer.latent.samplers import SamplerChoice

    from trainer.evaluation.face_metrics import INSTALL_HINT, face_metrics_available, format_face_table
    from trainer.evaluation.memorisation import format_memorisation, memorisation_figure_path
    from trainer.evaluation.label_probes import format_label_table

    from trainer.training.rundir import check_output_file

    if args.store and args.no_store:
        raise ConfigError("--store and --no-store contradict each other; give one")
    args.signals.keeping("the checkpoint is unchanged and no report was written")
    checkpoint = load_checkpoint(args.checkpoint)
    out = args.json or args.checkpoint.with_suffix(".eval.json")
    check_output_file(out, "JSON report")
    dataset = load_dataset(_data_config(checkpoint.config, args.data), progress=DataProgressBar())
    faces = not args.no_faces and face_metrics_available()
    figure = None if args.no_memorisation else memorisation_figure_path(out)
    if figure is not None:
        check_output_file(figure, "memorisation figure")
    report = evaluate_checkpoint_file(args.checkpoint, dataset, device=resolve_device(args.device),
                                      store=args.store, faces=faces, memorisation_png=figure)
    print(EvalReport.from_dict(report).format_table())
    for note in report.get("notes", []):
        print(f"note: {note}")
    choice = SamplerChoice.from_dict(report.get("sampler"))
    if choice is not None:
        print(f"default sampler: {choice.describe()}")
    if report.get("labels"):
        print(format_label_table(report["labels"]))
    if report.get("memorisation"):
        print(format_memorisation(report["memorisation"]))
    if faces:
        print(format_face_table(report["faces"]))
    elif not args.no_faces:
        print(INSTALL_HINT)
    _write_text(out, json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


def _write_text(path: Path, text: str) -> None:
    """Write a small output file via a temporary file, so a failed write never leaves half a file."""
    from trainer.training.rundir import OutputPathError
    from trainer.files import write_text_atomic
    try:
        write_text_atomic(path, text)
    except OSError as error:
        raise OutputPathError(f"could not write {path}: {error.strerror}") from None


def run_predict(args: argparse.Namespace) -> int:
    from trainer.cli.predict import write_predictions
    from trainer.training.rundir import check_output_folder

    check_output_folder(args.out, "output folder")
    args.signals.keeping(f"the images written so far in {printable(args.out)} are whole")
    written = write_predictions(args.checkpoint, args.out, data=args.data, n_recon=args.n_recon,
                                n_samples=args.n_samples, sampler=args.sampler, temperature=args.temperature,
                                seed=args.seed, device=args.device)
    print(f"wrote {written} images to {args.out}")
    return 0


def _data_config(config: RunConfig, data: str | None) -> DataConfig:
    if data is None:
        return config.data
    return DataConfig(**{**config.data.__dict__, "source": data})
