"""The networks (AE / VAE from a ModelConfig), the named presets, the losses, the training objective
(objective.py: reconstruction + warmed-up KL + total correlation + factor supervision) and weak factor supervision."""
