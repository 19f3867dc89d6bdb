"""Peak memory of a stretch of work: the GPU allocator's peak, or the process's peak resident set on the CPU.

On Linux the CPU peak (VmHWM) is reset by writing 5 to /proc/self/clear_refs, so one process can measure
several stretches; memory the allocator kept from an earlier stretch still counts, which is why each
system is measured in a process of its own.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import torch

GB = 1024**3
_STATUS, _CLEAR = Path("/proc/self/status"), Path("/proc/self/clear_refs")


def _status_bytes(field: str) -> int | None:
    if not _STATUS.is_file():
        return None
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return None


def reset(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    elif _CLEAR.exists():
        with contextlib.suppress(OSError):  # not allowed here: the peak then covers the whole process
            _CLEAR.write_text("5")


def peak_gb(device: torch.device) -> float | None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) / GB
    peak = _status_bytes("VmHWM")
    return None if peak is None else peak / GB


def current_gb(device: torch.device) -> float | None:
    """What is held now: weights, optimizer state, caches (allocated on the GPU, resident on the CPU)."""
    if device.type == "cuda":
        return torch.cuda.memory_allocated(device) / GB
    now = _status_bytes("VmRSS")
    return None if now is None else now / GB


def kind(device: torch.device) -> str:
    return "cuda max_memory_allocated" if device.type == "cuda" else "cpu peak resident set (VmHWM)"


def capacity_gb(device: torch.device) -> float | None:
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory / GB
    return None


def is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, torch.OutOfMemoryError) or "out of memory" in str(error).lower()
