"""The Train tab: set up a run, start it on a worker thread, and watch the model learn.

Modules, one job each:
    updates.py       Qt-free batching of train() events into TrainingUpdate payloads (worker side)
    worker.py        the QObject that runs trainer.training.loop.train() on a QThread
    runner.py        starts, pauses, stops and shuts down that thread
    run_state.py     observable state of the current and past runs (curves, snapshots, progress)
    snapshots.py     compressed store of a run's preview snapshots (long runs thinned)
    smoothing.py     exponential moving average for loss curves
    setup_form.py    the form that builds a RunConfig
    folder_scan.py   image count and thumbnails of a data folder, off the GUI thread
    loss_plot.py     live loss curves (pyqtgraph)
    image_history.py reconstructions and samples with a history slider
    kl_chart.py      KL per latent dimension (posterior collapse)
    run_list.py      show/hide and load runs to compare
    progress_view.py progress bar, status line and error banner
    panel.py         TrainingPanel, the tab itself
"""
