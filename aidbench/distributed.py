"""Several processes, one result: `accelerate launch` (one node or several, through accelerate's own
configuration) runs `aidbench train|sample|eval` in N processes that share one run folder.

The main process creates the run and tells the others its id (`runs.created_by_main`); only it writes
the manifest. Sampling
shards clips by process (each clip's seed comes from its id alone), and feature extraction shards the
clips the feature cache lacks, every process then reading all of them from the cache: results are the same
for 1 and N processes. Several nodes need the results folder on a shared file system.
Read from the environment accelerate sets (WORLD_SIZE, RANK), so a single process never imports torch here.
"""

from __future__ import annotations

import os


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
