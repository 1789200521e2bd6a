"""The one training loop and what it needs.

    loop.py          train(): setup, the step loop, events, stop/pause, NaN handling (it writes only checkpoints)
    rundir_sink.py   the run's logs (config.json, train.log, metrics.jsonl/.csv, eval.json, predictions/) from events
    batches.py       what each step sees: epoch order, flips, noise, factor targets, each rank's share
    optimization.py  optimizer, learning-rate schedule, DDP / torch.compile wrapping
    validation.py    validation on the test split; the final full evaluation
    resume.py        a run's stored config; restoring model, optimizer, scheduler and random state
    control.py       pause / resume / stop requests (TrainingControl.pause_point)
    events.py, rundir.py, checkpoint.py, device.py, distributed.py, budget.py, previews.py, throughput.py,
    interruptible.py, cores.py (the usable core count, without importing torch)
"""
