"""The Explore tab: open a checkpoint and move through its latent space (sliders, samples, morphs, traversals)."""
