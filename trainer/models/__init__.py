"""The networks (AE / VAE from a ModelConfig), the named presets, the losses and weak factor supervision."""
