"""Latent-space operations, each defined once, used by the explorer, `vae-train predict`, training previews and
evaluation alike. Qt-free; latents are float32 numpy arrays (D,) or (N, D), images uint8 (N, H, W, 3).

Module map:
    codec         images <-> latents: prepare_for_inference, encode_images, decode_latents (chunked, bf16 autocast
                  on CPUs with native bf16; `exact=True` for metrics), reconstruct, to_uint8_hwc
    stats         LatentStats (stored in checkpoints), compute_latent_stats, active_dimensions: the one
                  definition of an active dimension
    factor_information  discretized mutual information, MIG, best factor per dimension (below stats and the
                  evaluation report)
    directions    unit, axis_direction, principal_components, factor_directions, attribute_direction
    paths         lerp, slerp, interpolation_path, interpolate (one point), traversal along a direction
    samplers      prior / fitted Gaussian / mixture samplers, choose_sampler, sample_images, random_*_latent
    sliders       SliderSpec and the slider builders (axes, PCA, factors, custom), factor labels
    grids         image_grid, the one image grid (previews, predict, reports, explorer exports)
    prepared      prepare_latents: the encoded data behind the explorer (LatentData, PreparedLatents),
                  store_latent_stats
    data_codes    DataCodes: a data set's codes under one model, each image encoded once and shared by the
                  explorer's background encoding, the atlas and the nearest-faces index
    explorer_state  ExplorerSnapshot: saved explorer state files
Writing PNG/GIF files lives in trainer.data.images (save_png, save_png_resized, save_gif).
"""
