"""`vae-train experiments FILE` (run an experiment list, then report) and `vae-train compare RUN_DIR...`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trainer.names import printable
from trainer.training.run_files import RunFiles


def add_experiment_parsers(commands) -> None:
    """Add the `experiments` and `compare` subcommands to the CLI's subparsers."""
    formatter = argparse.ArgumentDefaultsHelpFormatter
    p = commands.add_parser("experiments", formatter_class=formatter,
                            help="run a list of experiments from a TOML file (skipping finished ones), then report")
    p.add_argument("file", type=Path, nargs="?", default=None,
                   help="experiments file (default: the original study's list, shipped with the app)")
    p.add_argument("--only", nargs="+", metavar="NAME", default=None,
                   help="run only these experiments (the report still covers every one that has run)")
    p.add_argument("--data", default=None, help="run every experiment on this image folder instead")
    p.add_argument("--runs-dir", type=Path, default=Path("runs"), help="runs go to RUNS_DIR/experiments/<data>/NAME")
    p.add_argument("--report", type=Path, default=Path("report"), help="where the report is written")
    p.add_argument("--no-report", action="store_true", help="train only")
    p.add_argument("--device", default="auto", help="device for scoring the runs in the report")
    p.add_argument("--threads", type=int, default=0,
                   help="torch CPU threads for every run (0: the file's setting); 1 is fastest on a busy machine")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=run_experiments_command)

    p = commands.add_parser("compare", formatter_class=formatter,
                            help="write the experiment report (table, plots, grids, conclusions) for any runs")
    p.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR")
    p.add_argument("--report", type=Path, default=Path("report"), help="where the report is written")
    p.add_argument("--device", default="auto", help="device for scoring the runs")
    p.set_defaults(handler=run_compare_command)


def run_experiments_command(args: argparse.Namespace) -> int:
    from trainer.cli.progress import ProgressPrinter
    from trainer.study.experiments import experiments_root, load_experiments, run_experiments, select_experiments
    from trainer.training.control import TrainingControl

    file = args.file or _shipped_experiments_file()
    every = load_experiments(file, data=args.data)
    experiments = select_experiments(every, args.only, source=str(file))
    if args.threads > 0:      # a runtime setting: changing it never invalidates a finished run
        for experiment in experiments:
            experiment.config.train.threads = args.threads
    control = TrainingControl()
    printers: list[ProgressPrinter] = []

    def progress(experiment) -> ProgressPrinter:
        printers.append(ProgressPrinter(quiet=args.quiet))
        return printers[-1]

    args.signals.keeping("finished experiments are kept, a started one keeps its last checkpoint; run the same "
                         "command again to resume")
    args.signals.stop_gracefully(control)
    try:
        outcomes = run_experiments(experiments, args.runs_dir, events=progress, control=control)
    finally:
        for printer in printers:
            printer.close()
    failed = [o for o in outcomes if o.status == "failed"]
    if control.stop_requested:
        print(args.signals.stopped_line() if args.signals.received else "stopped; run the same command again to "
              "resume", file=sys.stderr)
        return args.signals.exit_status
    if not args.no_report:       # on every experiment of the file that has run so far, not only this time's
        run_dirs = [experiments_root(args.runs_dir, e.config.data.source) / e.name for e in every]
        _write_report([path for path in run_dirs if RunFiles(path).config_file.exists()], args.report, args.device)
    for outcome in failed:
        print(f"failed: {outcome.name}: {outcome.message}", file=sys.stderr)
    return 1 if failed else 0


def _shipped_experiments_file() -> Path:
    from trainer.resources import EXPERIMENTS_FILE_NAME, experiments_file
    from trainer.study.experiments import ExperimentFileError

    file = experiments_file()
    if file is None:
        raise ExperimentFileError(f"the original study's list ({EXPERIMENTS_FILE_NAME}) is missing from this "
                                  "installation; reinstall the app, or give an experiments file")
    return file


def run_compare_command(args: argparse.Namespace) -> int:
    from trainer.training.rundir import RunDirError

    missing = [str(path) for path in args.run_dirs if not RunFiles(path).config_file.exists()]
    if missing:
        raise RunDirError(f"not run directories (no config.json): {', '.join(missing)}")
    args.signals.keeping(f"the report folder {printable(args.report)} may be partly rewritten; each file in it is whole")
    _write_report(args.run_dirs, args.report, args.device)
    return 0


def _write_report(run_dirs: list[Path], out_dir: Path, device: str) -> None:
    from trainer.training.device import resolve_device
    from trainer.study.report import write_report

    write_report(run_dirs, out_dir, device=resolve_device(device))
