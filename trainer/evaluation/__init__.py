"""Model quality: reconstruction and latent metrics, sample quality, face-likeness, and `vae-train eval`."""
