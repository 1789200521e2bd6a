"""`vae-train`: train, evaluate and predict from the command line (also `python -m trainer`, `python main.py train`)."""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from dataclasses import asdict
from pathlib import Path

from trainer.training.checkpoint import CheckpointError
from trainer.training.control import TrainingControl
from trainer.config import EPOCH_LIMIT, ConfigError, DataConfig, RunConfig, TrainConfig
from trainer.data.datasets import DataError
from trainer.training.distributed import JobTerminated
from trainer.evaluation.face_metrics import FaceMetricsError
from trainer.models.presets import PRESET_DATA_SETTINGS, PRESET_TRAIN_SETTINGS, PRESETS, default_preset_for, preset_config
from trainer.training.rundir import RunDirError

COMMANDS = ("train", "eval", "predict", "export", "cache", "experiments", "compare")

# What `train --resume RUN` may change, flag dest -> TrainConfig field; each change is logged in train.log.
RESUME_CHANGEABLE = {"epochs": "epochs", "max_steps": "max_steps", "time_budget": "time_budget_minutes",
                     "time_budget_minutes": "time_budget_minutes", "lr": "lr", "batch_size": "batch_size",
                     "beta": "beta", "kl_warmup": "kl_warmup_steps", "device": "device", "threads": "threads",
                     "precision": "precision", "eval_every": "eval_every_steps", "compile": "compile"}
# What it may not: the model's shape and the data are fixed by the checkpoint, the rest by the run's identity.
RESUME_FIXED = {"preset": ("model", "preset", "the model's shape"),
                "latent_dim": ("model", "latent_dim", "the model's shape"),
                "base_channels": ("model", "base_channels", "the model's shape"),
                "image_size": ("model", "image_size", "the model's shape"),
                "data": ("data", "source", "the data set"),
                "synthetic_count": ("data", "synthetic_count", "the data set"),
                "test_fraction": ("data", "test_fraction", "the data set"),
                "hflip": ("data", "hflip", "the data set"),
                "recon_loss": ("train", "recon_loss", "the loss"), "tc_weight": ("train", "tc_weight", "the loss"),
                "factor_supervision": ("train", "factor_supervision", "the loss"),
                "label_fraction": ("train", "label_fraction", "the loss"), "seed": ("train", "seed", "the run"),
                "schedule": ("train", "schedule", "the learning-rate schedule"),
                "name": ("train", "run_name", "the run"), "runs_dir": ("train", "runs_dir", "the run")}


def build_parser(typed_only: bool = False) -> argparse.ArgumentParser:
    """The CLI parser. typed_only: `train` options get no defaults, so parsing shows what the user typed."""
    parser = argparse.ArgumentParser(prog="vae-train", description="Train and evaluate face AEs and VAEs.",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    train = _add_train_parser(commands)
    if typed_only:
        for action in train._actions:
            action.default = argparse.SUPPRESS
    _add_eval_parser(commands)
    _add_predict_parser(commands)
    _add_export_parser(commands)
    _add_cache_parser(commands)
    from trainer.cli.study import add_experiment_parsers
    add_experiment_parsers(commands)
    return parser


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


def _add_train_parser(commands) -> argparse.ArgumentParser:
    d, t = DataConfig(), TrainConfig()
    p = commands.add_parser("train", help="train a model", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--data", default=d.source, help="'synthetic' (built-in faces) or an image folder "
                   "(DIR/train + DIR/test, or any folder of images, split by file path)")
    p.add_argument("--preset", default=None, choices=sorted(PRESETS),
                   help="model structure and the training settings it recommends (default: photo for an image "
                        "folder, default for synthetic faces)")
    p.add_argument("--latent-dim", type=int, default=None, help="latent size (None: the preset's)")
    p.add_argument("--base-channels", type=int, default=None, help="first conv layer's channels (None: the preset's)")
    p.add_argument("--image-size", type=int, default=d.image_size, choices=(32, 64, 128), help="image size in pixels")
    p.add_argument("--beta", type=float, default=None,
                   help=f"weight of the KL term (the original study's sigma) (default: the preset's, else {t.beta:g})")
    p.add_argument("--kl-warmup", type=int, default=None,
                   help=f"steps over which beta ramps up from 0 (default: the preset's, else {t.kl_warmup_steps})")
    p.add_argument("--tc-weight", type=float, default=t.tc_weight,
                   help="extra weight on the KL's total-correlation part (beta-TCVAE), for more disentangled latents")
    p.add_argument("--factor-supervision", type=float, default=t.factor_supervision,
                   help="weight tying latent dim k to true factor k (synthetic data only; 0: unsupervised)")
    p.add_argument("--label-fraction", type=float, default=t.label_fraction,
                   help="share of training faces whose factor labels the supervision uses")
    p.add_argument("--recon-loss", default=None, choices=("mse", "bce", "gaussian"),
                   help="reconstruction loss; gaussian: a calibrated decoder (sigma-VAE), with which beta 1 is a "
                        f"true ELBO (default: the preset's, else {t.recon_loss})")
    p.add_argument("--epochs", type=int, default=None,
                   help=f"passes over the training set (default: {t.epochs}; with --time-budget, no limit)")
    p.add_argument("--max-steps", type=int, default=t.max_steps, help="stop after this many steps (0: no limit)")
    p.add_argument("--time-budget", type=float, default=t.time_budget_minutes, metavar="MINUTES",
                   help="plan the run to end, final evaluation included, within this many minutes (0: off; "
                        "epochs and max steps stay upper limits)")
    p.add_argument("--batch-size", type=int, default=None,
                   help=f"global batch size (default: the preset's, else {t.batch_size})")
    p.add_argument("--lr", type=float, default=None, help=f"learning rate (AdamW) (default: the preset's, else {t.lr:g})")
    p.add_argument("--schedule", default=t.schedule, choices=("cosine", "constant"), help="learning-rate schedule")
    p.add_argument("--seed", type=int, default=t.seed, help="random seed")
    p.add_argument("--device", default=t.device, help="auto, cpu, cuda, cuda:N or mps")
    p.add_argument("--precision", default=t.precision, choices=("auto", "bf16", "fp32"),
                   help="autocast precision (weights stay fp32)")
    p.add_argument("--threads", type=int, default=t.threads, help="CPU threads for torch (0: default)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (helps on GPUs)")
    p.add_argument("--hflip", action=argparse.BooleanOptionalAction, default=None,
                   help="random horizontal flips (default: the preset's, else off)")
    p.add_argument("--test-fraction", type=float, default=d.test_fraction, help="test share of a flat folder")
    p.add_argument("--synthetic-count", type=int, default=d.synthetic_count, help="number of synthetic faces")
    p.add_argument("--eval-every", type=int, default=t.eval_every_steps, help="also validate every N steps (0: per epoch)")
    p.add_argument("--name", default="", help="run directory name (default: preset and time)")
    p.add_argument("--runs-dir", default=t.runs_dir, help="where run directories are created")
    p.add_argument("--resume", type=Path, default=None, help="continue the run in this run directory")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _add_eval_parser(commands) -> None:
    p = commands.add_parser("eval", help="metrics of a checkpoint on a test split",
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
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


def _add_predict_parser(commands) -> None:
    p = commands.add_parser("predict", help="write reconstructions and random samples as PNG files",
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("checkpoint", type=Path)
    p.add_argument("--data", default=None, help="images to reconstruct (default: the data it was trained on)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--n-recon", type=_non_negative_int, default=64, help="test images to reconstruct")
    p.add_argument("--n-samples", type=_non_negative_int, default=64, help="random samples to draw")
    p.add_argument("--sampler", default="default", choices=("default", "prior", "gaussian", "mixture"),
                   help="where samples come from: the prior, or a Gaussian / mixture fitted to encoded latents; "
                        "default: the one that fits held-out codes best, as the evaluation chose")
    p.add_argument("--temperature", type=_positive_float, default=1.0, help="sampling temperature")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")


def _add_export_parser(commands) -> None:
    p = commands.add_parser("export", help="copy a checkpoint without optimizer state (smaller; cannot resume)",
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("checkpoint", type=Path)
    p.add_argument("out", type=Path, help="the slim checkpoint to write")


def _add_cache_parser(commands) -> None:
    p = commands.add_parser("cache", help="show where the data and results caches are and their size",
                            formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--clear", action="store_true", help="delete the caches (they are rebuilt when needed)")


def run_cache(args: argparse.Namespace) -> int:
    from trainer.data.cache import cache_summary, clear_cache

    if args.clear:
        removed = clear_cache()
        print(f"removed {removed / 1e6:.1f} MB of caches")
    print(cache_summary())
    return 0


def run_export(args: argparse.Namespace) -> int:
    from trainer.training.checkpoint import export_for_inference
    from trainer.training.rundir import check_output_file

    check_output_file(args.out, "export target")
    out = export_for_inference(args.checkpoint, args.out)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


def config_from_args(args: argparse.Namespace) -> RunConfig:
    preset = args.preset or default_preset_for(args.data)
    model = preset_config(preset, latent_dim=args.latent_dim, base_channels=args.base_channels,
                          image_size=args.image_size)
    # A flag the user typed wins over what the preset recommends, which wins over the config's default.
    train_default = {**asdict(TrainConfig()), **PRESET_TRAIN_SETTINGS.get(preset, {})}
    data_default = {**asdict(DataConfig()), **PRESET_DATA_SETTINGS.get(preset, {})}

    def chosen(value, name: str, defaults: dict = train_default):
        return defaults[name] if value is None else value

    data = DataConfig(source=args.data, image_size=args.image_size, test_fraction=args.test_fraction,
                      synthetic_count=args.synthetic_count, hflip=chosen(args.hflip, "hflip", data_default))
    # With a time budget the budget ends the run; epochs limit it only when typed.
    epochs = args.epochs if args.epochs is not None else (EPOCH_LIMIT if args.time_budget > 0 else TrainConfig().epochs)
    train = TrainConfig(epochs=epochs, max_steps=args.max_steps, time_budget_minutes=args.time_budget,
                        batch_size=chosen(args.batch_size, "batch_size"), lr=chosen(args.lr, "lr"),
                        schedule=args.schedule, beta=chosen(args.beta, "beta"),
                        kl_warmup_steps=chosen(args.kl_warmup, "kl_warmup_steps"),
                        tc_weight=args.tc_weight, factor_supervision=args.factor_supervision,
                        label_fraction=args.label_fraction,
                        recon_loss=chosen(args.recon_loss, "recon_loss"), seed=args.seed, device=args.device, threads=args.threads,
                        precision=args.precision, compile=args.compile, eval_every_steps=args.eval_every,
                        run_name=args.name, runs_dir=args.runs_dir)
    config = RunConfig(model=model, data=data, train=train)
    config.validate()
    return config


def run_train(args: argparse.Namespace) -> int:
    from trainer.training.distributed import distributed_session
    from trainer.training.loop import train
    from trainer.cli.progress import ProgressPrinter

    if args.resume:
        config = resume_config_from_args(args)
    else:
        config = config_from_args(args)
    # The config keeps the device setting as given ("auto"), so the checkpoint resumes anywhere; under torchrun the
    # loop itself puts each process on GPU number LOCAL_RANK.
    with distributed_session(config.train.device) as (dist, _):
        printer = ProgressPrinter(quiet=args.quiet or not dist.is_main)
        control = TrainingControl()
        terminated: list[int] = []
        previous_int = _stop_on_first_interrupt(control, second_aborts=not dist.enabled)
        previous_term = _stop_on_first_sigterm(control, terminated)
        try:
            result = train(config, events=printer, control=control, resume=args.resume, dist=dist)
        finally:
            signal.signal(signal.SIGINT, previous_int)
            signal.signal(signal.SIGTERM, previous_term)
            printer.close()
    if dist.is_main:
        print(f"{result.status}: {result.message}\nrun directory: {result.run_dir}")
        if result.final_eval:
            from trainer.evaluation.metrics import EvalReport
            print(EvalReport.from_dict(result.final_eval).format_table())
    if terminated:      # the usual exit status of a process ended by SIGTERM, after saving
        return 128 + int(signal.SIGTERM)
    return 0 if result.status in ("completed", "stopped") else 1


def resume_config_from_args(args: argparse.Namespace) -> RunConfig:
    """The run's stored config with the settings the user typed that a resume may change; refuses the others."""
    from trainer.training.loop import resume_config

    typed = getattr(args, "typed", None)
    if typed is None:       # called without main(): treat every flag that differs from its default as typed
        defaults = vars(build_parser().parse_args(["train"]))
        typed = {k for k, v in vars(args).items() if k in defaults and v != defaults[k]}
    stored = resume_config(args.resume)
    for flag, (section, field, what) in RESUME_FIXED.items():
        if flag not in typed:
            continue
        before, given = getattr(getattr(stored, section), field), getattr(args, flag)
        if not _same_setting(flag, before, given):
            option = "--" + flag.replace("_", "-")
            raise ConfigError(f"{option} cannot change when resuming {args.resume}: the run has {before!r}, "
                              f"you gave {given!r}, and it fixes {what}. Start a new run to change it")
    overrides = {field: getattr(args, flag) for flag, field in RESUME_CHANGEABLE.items()
                 if flag in typed and hasattr(args, flag)}
    config = resume_config(args.resume, **overrides)
    config.validate()
    return config


def _same_setting(flag: str, before, given) -> bool:
    if flag == "data" and before != "synthetic" and given != "synthetic":
        return Path(before).expanduser().resolve() == Path(given).expanduser().resolve()
    return before == given


def _stop_on_first_interrupt(control: TrainingControl, second_aborts: bool = True):
    """First Ctrl-C: stop at the next step and save a checkpoint. Second Ctrl-C: the usual KeyboardInterrupt.

    Under torchrun every Ctrl-C only stops (second_aborts=False): torchrun forwards the terminal's SIGINT to its
    workers, so each sees two at once; torchrun itself kills them if they take longer than its shutdown timeout.
    """
    def handler(signum, frame):
        if control.stop_requested:
            if second_aborts:
                raise KeyboardInterrupt
            return
        print("\nstopping after this step" + (" (Ctrl-C again to abort)..." if second_aborts else "..."),
              file=sys.stderr)
        control.stop()
    return signal.signal(signal.SIGINT, handler)


def _stop_on_first_sigterm(control: TrainingControl, terminated: list[int]):
    """First SIGTERM (kill, a cancelled job, torchrun ending the job): stop after this step and save, as the first
    Ctrl-C does; under torchrun every rank agrees on the stop in the loop's all-reduce. A second SIGTERM gives up
    at once (a checkpoint being written is cleaned up by save_checkpoint)."""
    def handler(signum, frame):
        if terminated:
            raise JobTerminated("received SIGTERM again: stopped without saving; the last checkpoint is kept")
        terminated.append(signum)
        print("\nreceived SIGTERM: stopping after this step and saving a checkpoint...", file=sys.stderr)
        control.stop()
    return signal.signal(signal.SIGTERM, handler)


def run_eval(args: argparse.Namespace) -> int:
    from trainer.training.checkpoint import load_checkpoint
    from trainer.data.datasets import load_dataset
    from trainer.training.device import resolve_device
    from trainer.evaluation.evaluate import evaluate_checkpoint_file
    from trainer.evaluation.metrics import EvalReport
    from trainer.latent.samplers import SamplerChoice

    from trainer.evaluation.face_metrics import INSTALL_HINT, face_metrics_available, format_face_table

    from trainer.training.rundir import check_output_file

    if args.store and args.no_store:
        raise ConfigError("--store and --no-store contradict each other; give one")
    checkpoint = load_checkpoint(args.checkpoint)
    out = args.json or args.checkpoint.with_suffix(".eval.json")
    check_output_file(out, "JSON report")
    dataset = load_dataset(_data_config(checkpoint.config, args.data))
    faces = not args.no_faces and face_metrics_available()
    report = evaluate_checkpoint_file(args.checkpoint, dataset, device=resolve_device(args.device),
                                      store=args.store, faces=faces)
    print(EvalReport.from_dict(report).format_table())
    for note in report.get("notes", []):
        print(f"note: {note}")
    choice = SamplerChoice.from_dict(report.get("sampler"))
    if choice is not None:
        print(f"default sampler: {choice.describe()}")
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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        raise OutputPathError(f"could not write {path}: {error.strerror}") from None


def run_predict(args: argparse.Namespace) -> int:
    from trainer.cli.predict import write_predictions
    from trainer.training.rundir import check_output_folder

    check_output_folder(args.out, "output folder")

    written = write_predictions(args.checkpoint, args.out, data=args.data, n_recon=args.n_recon,
                                n_samples=args.n_samples, sampler=args.sampler, temperature=args.temperature,
                                seed=args.seed, device=args.device)
    print(f"wrote {written} images to {args.out}")
    return 0


def _data_config(config: RunConfig, data: str | None) -> DataConfig:
    if data is None:
        return config.data
    return DataConfig(**{**config.data.__dict__, "source": data})


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 done, 1 a runtime failure (disk full, a crash), 2 bad input, 130 Ctrl-C, 143 SIGTERM."""
    from trainer.training.checkpoint import CheckpointWriteError
    from trainer.latent.stats import LatentStatsError
    from trainer.training.rundir import OutputPathError
    from trainer.evaluation.sample_quality import SampleQualityError
    from trainer.latent.samplers import SamplerError

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    if args.command == "train":
        args.typed = set(vars(build_parser(typed_only=True).parse_args(argv))) - {"command"}
    handlers = {"train": run_train, "eval": run_eval, "predict": run_predict, "export": run_export,
                "cache": run_cache}
    try:
        if args.command in handlers:
            return handlers[args.command](args)
        return args.handler(args)
    except CheckpointWriteError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except (ConfigError, DataError, CheckpointError, RunDirError, OutputPathError, SamplerError, SampleQualityError,
            LatentStatsError, FaceMetricsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except JobTerminated as error:
        print(f"error: {error}", file=sys.stderr)
        return 128 + int(signal.SIGTERM)
    except OSError as error:        # a file we read or write failed in a way not foreseen above
        where = f"{error.filename}: " if error.filename else ""
        print(f"error: {where}{error.strerror or error}", file=sys.stderr)
        return 1
    except MemoryError:
        print("error: out of memory; use a smaller model, batch size or data set", file=sys.stderr)
        return 1
    except Exception as error:      # a bug: one line for the user; VAE_EXPLORER_DEBUG=1 shows the traceback
        if os.environ.get("VAE_EXPLORER_DEBUG"):
            raise
        print(f"error: unexpected {type(error).__name__}: {error} (set VAE_EXPLORER_DEBUG=1 for details and "
              f"please report it)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
