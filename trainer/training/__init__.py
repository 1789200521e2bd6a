"""The one training loop and what it needs: control, events, run directories, checkpoints, devices, torchrun."""
