"""The ML core of VAE Face Explorer: data, models, the one training loop, evaluation, latent operations, the CLI.

Nothing here imports Qt (tests/test_no_qt.py checks it): a headless server, a notebook or torchrun can use it alone.
Imports are absolute and name the module (`from trainer.training.loop import train`); packages re-export nothing.

Module map
    config.py       RunConfig = ModelConfig + DataConfig + TrainConfig, the dataclasses every checkpoint stores
    settings.py     one path from named settings (CLI flags, the Train tab, experiment files, run.toml) to a RunConfig
    resources/      the shipped checkpoint and experiments file, read through importlib.resources
    package.py      the version (the one source the build reads) and the install command of an optional extra
    user_folders.py the per-OS cache, runs and settings folders
    api.py          the public API for scripts: load_model, decode / encode, export_graphs
    errors.py       UserError (every error a user can cause and fix) and Cancelled (work stopped on request)
    deadline.py     a time limit for work that can be shortened (the final evaluation under a time budget)
    names.py        file and folder names shown safely, whatever bytes the OS allows in them

    data/           face data: image folders (a fast listing and the split), the synthetic faces, image decoding
                    (spread over the cores) and export, label CSVs, the memory-mapped data cache updated file by file,
                    the cache folder and results derived from checkpoints
    models/         the AE / VAE networks, named presets, losses, the training objective, factor supervision,
                    ONNX / TorchScript export of the decoder and encoder
    training/       the loop and what it needs: control (pause / stop), events, time budgets, run directories,
                    checkpoints, devices, torchrun, preview grids, following a run on disk, TensorBoard
    evaluation/     reconstruction and latent metrics, sample quality, face metrics, memorisation, `eval`
    latent/         every latent operation once: encode / decode, statistics and active dimensions, paths,
                    directions, samplers, sliders, grids, the atlas, nearest faces, explorer state files
    study/          experiment lists (the original study's runs) and comparison reports with figures
    cli/            `vae-train` and its commands
"""
