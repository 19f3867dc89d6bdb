"""A training run as the tests drive it: started (or resumed) in its run folder, stopped like Ctrl-C."""

from __future__ import annotations

from aidbench import runs


def train_in_run(cfg, run_id: str, fit, stop_at: int | None = None, resume: bool = False):
    """fit(cfg, run, on_step) inside run `run_id` (resumed with its stored config when `resume`), raising
    KeyboardInterrupt once step `stop_at` is done; returns (run, what fit returned)."""
    if resume:
        run = runs.resume_run(cfg.paths.results, "train", run_id)
        cfg = run.config
    else:
        run = runs.start_run("train", cfg, run_id=run_id, argv=[], device={"kind": "cpu"})

    def on_step(step, loss):
        if step == stop_at:
            raise KeyboardInterrupt

    with runs.running(run):
        result = fit(cfg, run, on_step)
    return run, result
