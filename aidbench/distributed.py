"""Several processes, one result: `accelerate launch` (one node or several, through accelerate's own
configuration) runs `aidbench train|sample|eval` in N processes that share one run folder.

The main process creates the run and tells the others its id; only it writes the manifest. Sampling
shards clips by process (each clip's seed comes from its id alone), and feature extraction shards the
clips the feature cache lacks, every process then reading all of them from the cache: results are the same
for 1 and N processes. Several nodes need the results folder on a shared file system.
Read from the environment accelerate sets (WORLD_SIZE, RANK), so a single process never imports torch here.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    return rank() == 0


def state(cpu: bool = False):
    """accelerate's PartialState (it joins the process group on first use: gloo on the CPU, NCCL on GPUs)."""
    from accelerate import PartialState

    return PartialState(cpu=cpu)


def barrier() -> None:
    if world_size() > 1:
        state().wait_for_everyone()


def shared(create: Callable[[], Any], results: str | Path, stage: str, cpu: bool = False) -> Any:
    """The main process runs create() → a Run of `stage` under `results`; the others load that run,
    read-only.

    An error in create() reaches every process, so none waits forever for a run that never came.
    """
    if world_size() == 1:
        return create()
    from accelerate.utils import broadcast_object_list

    shared_state = state(cpu)
    message: list[Any] = [None]
    run = error = None
    if shared_state.is_main_process:
        try:
            run = create()
            message = [("ok", run.run_id)]
        except BaseException as err:
            error = err
            message = [("error", f"{type(err).__name__}: {err}")]
    broadcast_object_list(message)
    if error is not None:
        raise error
    kind, value = message[0]
    if kind == "error":
        from aidbench.errors import UserError

        raise UserError(f"the main process could not start the run: {value}")
    if run is None:
        from aidbench import runs

        run = runs.load_run(results, stage, value)
        run.writer = False
    return run
