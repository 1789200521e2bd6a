"""`vae-train`: the command line (train, eval, predict, experiments, compare, cache)."""
from trainer.cli.commands import COMMANDS, main

__all__ = ["COMMANDS", "main"]
