"""Resource limits for the student-code worker, set in the child before it execs."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass

GiB = 1024**3
MiB = 1024**2


@dataclass(frozen=True)
class Limits:
    """What one worker process may use.

    Attributes:
        memory_bytes: address space (CPU) or data segment (CUDA, whose driver maps huge
            virtual ranges) in bytes.
        cpu_seconds: CPU time for the worker's whole life (all its tests); SIGXCPU after it.
        processes: processes and threads of the worker's user (fork bombs stop here).
        file_bytes: largest file it may write (scratch only, anyway).
        open_files: file descriptors.
        output_bytes: stdout + stderr kept for the instructor; the rest is read and dropped.
        load_timeout: wall seconds for running the setup and answer cells.
    """

    memory_bytes: int = 6 * GiB
    cpu_seconds: int = 1800
    processes: int = 64
    file_bytes: int = 64 * MiB
    open_files: int = 256
    output_bytes: int = 64 * 1024
    load_timeout: float = 120.0


def _set(which: int, value: int) -> None:
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


def _user_process_count() -> int:
    """Processes and threads already owned by this real uid (RLIMIT_NPROC counts them too)."""
    uid, count = os.getuid(), 0
    try:
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    if os.stat(entry.path).st_uid == uid:
                        count += len(os.listdir(os.path.join(entry.path, "task")))
                except OSError:
                    continue
    except OSError:
        return 0
    return count


def apply_limits(limits: Limits, *, cuda: bool = False, nproc_base: int = 0) -> None:
    """Set the rlimits of the calling process (called in the child between fork and exec).

    ``nproc_base`` is added to ``limits.processes``: RLIMIT_NPROC counts every process of the
    real user, so a student's laptop session needs its existing processes allowed for.
    """
    os.setsid()
    memory = resource.RLIMIT_DATA if cuda else resource.RLIMIT_AS
    _set(memory, limits.memory_bytes)
    _set(resource.RLIMIT_CPU, limits.cpu_seconds)
    _set(resource.RLIMIT_FSIZE, limits.file_bytes)
    _set(resource.RLIMIT_NOFILE, limits.open_files)
    _set(resource.RLIMIT_CORE, 0)
    if hasattr(resource, "RLIMIT_NPROC"):
        _set(resource.RLIMIT_NPROC, limits.processes + nproc_base)


def nproc_base_for_current_user() -> int:
    """0 for root (the worker drops to a fresh uid), else this user's current process count."""
    return 0 if os.getuid() == 0 else _user_process_count()
