"""Latent-space operations used by the explorer, `vae-train predict` and evaluation alike."""
