"""Start the student-code worker: under bubblewrap where it works, else a plain limited process.

The worker (``python -m course_lib.grading.worker``) sees, read-only, only the Python install,
the virtual environment, ``course_lib`` and the dataset folders; a tmpfs scratch folder is its
only writable place and its working directory. It has no network, its own PID namespace, and
dies with its parent. Resource limits are set before exec (:mod:`.limits`); as root the worker
drops to a fresh unprivileged uid before it reads any student code, so RLIMIT_NPROC holds.
The protocol runs over two dedicated pipes; the worker's stdout and stderr go to a capped buffer.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_lib.grading import protocol
from course_lib.grading.limits import Limits, apply_limits, nproc_base_for_current_user

SCRATCH = "/scratch"


@functools.lru_cache(maxsize=1)
def bwrap_status() -> tuple[bool, str]:
    """Whether bubblewrap can create the namespaces the sandbox needs here, and why not."""
    exe = shutil.which("bwrap")
    if exe is None:
        return False, "bubblewrap (bwrap) is not installed"
    cmd = [exe, "--unshare-net", "--unshare-pid", "--die-with-parent", "--ro-bind", "/", "/"]
    if os.getuid() != 0:
        cmd.insert(1, "--unshare-user")
    try:
        done = subprocess.run([*cmd, "true"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        return False, f"bwrap could not start: {err}"
    if done.returncode != 0:
        why = done.stderr.decode(errors="replace").strip() or f"exit code {done.returncode}"
        return False, f"bwrap cannot create namespaces here ({why})"
    return True, "bubblewrap"


def _data_paths() -> list[Path]:
    """Every folder course_lib.data searches (env folders, the cache, system places)."""
    try:
        from course_lib.data.cache import cache_dir
        from course_lib.data.locate import data_dirs
        from course_lib.data.registry import available, get_spec

        paths = [*data_dirs(), cache_dir()]
        for name in available():
            paths += [Path(d).expanduser() for d in get_spec(name).system_dirs]
    except Exception:  # a broken data registry must not stop grading
        return []
    sk = Path("~/scikit_learn_data").expanduser()
    return [*paths, sk]


def _is_inside(path: Path, other: Path) -> bool:
    try:
        path.relative_to(other)
        return True
    except ValueError:
        return False


@dataclass
class SandboxConfig:
    """How to start workers.

    Attributes:
        sandbox: ``"bwrap"`` (refuse to start without it), ``"auto"`` (bwrap, else a plain
            limited process) or ``"none"`` (a plain limited process).
        limits: resource limits.
        cuda: give the worker the NVIDIA devices (and use RLIMIT_DATA for memory).
        threads: torch/OpenMP threads inside the worker.
        hidden_paths: folders that must never be visible (solutions/, the course directory);
            a data folder containing one of them is not bound.
        start_allowance: seconds added to the load timeout for starting Python and torch.
        extra_env: more environment variables for the worker.
    """

    sandbox: str = "auto"
    limits: Limits = field(default_factory=Limits)
    cuda: bool = False
    threads: int = 1
    hidden_paths: tuple[Path, ...] = ()
    start_allowance: float = 60.0
    extra_env: dict[str, str] = field(default_factory=dict)

    def resolved_mode(self) -> str:
        """``"bwrap"`` or ``"none"``; raises RuntimeError when bwrap is required but missing."""
        if self.sandbox == "none":
            return "none"
        ok, why = bwrap_status()
        if ok:
            return "bwrap"
        if self.sandbox == "bwrap":
            raise RuntimeError(f"the sandbox is required but unavailable: {why}")
        return "none"


def _bind_args(cfg: SandboxConfig, data_paths: list[Path]) -> list[str]:
    import course_lib

    ro: list[Path] = [
        Path(sys.base_prefix).resolve(),
        Path(sys.prefix).resolve(),
        Path(sys.prefix),
        Path(course_lib.__file__).resolve().parent,
    ]
    hidden = [p.resolve() for p in cfg.hidden_paths]
    for p in data_paths:
        p = p.resolve()
        if p.exists() and not any(_is_inside(h, p) for h in hidden):
            ro.append(p)
    ro = list(dict.fromkeys(ro))
    args: list[str] = []
    # bwrap creates missing parents 0700; create them 0755 so the dropped uid can walk them.
    parents: set[str] = set()
    for p in ro:
        for parent in reversed(p.parents):
            if str(parent) != "/" and not str(parent).startswith("/usr"):
                parents.add(str(parent))
    for parent in sorted(parents, key=lambda s: s.count("/")):
        if parent not in ("/lib", "/lib64", "/bin", "/sbin"):
            args += ["--perms", "0755", "--dir", parent]
    for p in ro:
        if not str(p).startswith("/usr/"):
            args += ["--ro-bind-try", str(p), str(p)]
    return args


def bwrap_command(cfg: SandboxConfig, inner: list[str]) -> list[str]:
    """The bwrap command line that runs ``inner`` inside the sandbox."""
    exe = shutil.which("bwrap") or "bwrap"
    cmd = [exe, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    cmd += ["--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    if os.getuid() != 0:
        cmd.append("--unshare-user")
    cmd += ["--ro-bind", "/usr", "/usr"]
    for link in ("lib", "lib64", "bin", "sbin"):
        target = os.readlink(f"/{link}") if os.path.islink(f"/{link}") else None
        if target is not None:
            cmd += ["--symlink", target, f"/{link}"]
        elif os.path.isdir(f"/{link}"):
            cmd += ["--ro-bind", f"/{link}", f"/{link}"]
    cmd += ["--perms", "0755", "--dir", "/etc"]
    for name in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "fonts", "passwd"):
        cmd += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    cmd += ["--proc", "/proc", "--dev", "/dev"]
    cmd += ["--perms", "1777", "--tmpfs", "/tmp", "--perms", "1777", "--tmpfs", SCRATCH]
    cmd += _bind_args(cfg, _data_paths())
    if cfg.cuda:
        for dev in sorted(glob.glob("/dev/nvidia*")):
            cmd += ["--dev-bind-try", dev, dev]
        cmd += ["--ro-bind-try", "/sys", "/sys"]
    else:
        cmd += ["--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu"]
    cmd += ["--chdir", SCRATCH, "--"]
    return cmd + inner


def _worker_env(cfg: SandboxConfig, scratch: str) -> dict[str, str]:
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": scratch,
        "TMPDIR": scratch,
        "LANG": "C.UTF-8",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{scratch}/.matplotlib",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": str(cfg.threads),
        "MKL_NUM_THREADS": str(cfg.threads),
        "COURSE_WORKER_THREADS": str(cfg.threads),
    }
    for key in ("COURSE_DATA_DIR", "CUDA_VISIBLE_DEVICES"):
        if key in os.environ:
            env[key] = os.environ[key]
    try:
        from course_lib.data.cache import cache_dir

        env["COURSE_CACHE_DIR"] = str(cache_dir().resolve())
    except Exception:
        pass
    if not cfg.cuda:
        env["CUDA_VISIBLE_DEVICES"] = ""
    env.update(cfg.extra_env)
    return env


class _OutputSink(threading.Thread):
    """Drains the worker's stdout+stderr, keeping only the first ``cap`` bytes."""

    def __init__(self, fd: int, cap: int) -> None:
        super().__init__(daemon=True)
        self.fd, self.cap = fd, cap
        self.kept = bytearray()
        self.dropped = 0

    def run(self) -> None:
        try:
            while True:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    break
                room = self.cap - len(self.kept)
                self.kept += chunk[: max(room, 0)]
                self.dropped += max(len(chunk) - max(room, 0), 0)
        except OSError:
            pass
        finally:
            os.close(self.fd)

    def text(self) -> str:
        out = self.kept.decode("utf-8", errors="replace")
        return out + (
            f"\n[... {self.dropped} more bytes of output dropped]" if self.dropped else ""
        )


class WorkerProcess:
    """One running worker: send a request, wait for its answer, kill it."""

    def __init__(self, cfg: SandboxConfig) -> None:
        self.cfg = cfg
        self.mode = cfg.resolved_mode()
        to_worker_r, self._to_worker = os.pipe()
        self._from_worker, from_worker_w = os.pipe()
        out_r, out_w = os.pipe()
        self._tmp: str | None = None
        inner = [sys.executable, "-I", "-m", "course_lib.grading.worker"]
        inner += ["--in-fd", str(to_worker_r), "--out-fd", str(from_worker_w)]
        if os.getuid() == 0:
            inner += ["--uid", str(random.randint(200_000, 900_000))]
        if self.mode == "bwrap":
            cmd, cwd, scratch = bwrap_command(cfg, inner), None, SCRATCH
        else:
            self._tmp = tempfile.mkdtemp(prefix="course-worker-")
            os.chmod(self._tmp, 0o1777)
            cmd, cwd, scratch = inner, self._tmp, self._tmp
            # -I ignores PYTHONPATH; the plain process finds course_lib through the venv.
        env = _worker_env(cfg, scratch)
        nproc_base = nproc_base_for_current_user()
        limits = cfg.limits
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out_w,
            stderr=out_w,
            pass_fds=(to_worker_r, from_worker_w),
            cwd=cwd,
            env=env,
            preexec_fn=lambda: apply_limits(limits, cuda=cfg.cuda, nproc_base=nproc_base),
        )
        for fd in (to_worker_r, from_worker_w, out_w):
            os.close(fd)
        self.output = _OutputSink(out_r, cfg.limits.output_bytes)
        self.output.start()
        self.killed_for_time = False

    def request(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        """Send one request and wait for its answer.

        Raises:
            protocol.ChannelTimeout: no answer in time (the worker is then killed).
            EOFError: the worker died.
            protocol.ProtocolError: the worker sent garbage (it is then killed).
        """
        try:
            protocol.send(self._to_worker, message)
            return protocol.recv(self._from_worker, timeout=timeout)
        except protocol.ChannelTimeout:
            self.killed_for_time = True
            self.kill()
            raise
        except protocol.ProtocolError:
            self.kill()
            raise
        except (BrokenPipeError, OSError) as err:
            raise EOFError(str(err)) from err

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """Kill the worker's whole process group and wait for it."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)

    def death_reason(self) -> str:
        """Plain words for why the worker is gone."""
        if self.killed_for_time:
            return "ran out of time"
        try:
            code = self.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            return "stopped answering"
        if self.mode == "bwrap" and code > 128:
            code = -(code - 128)  # bwrap reports the child's signal as 128 + n
        if code < 0:
            sig = -code
            if sig == signal.SIGXCPU:
                return "used up its CPU time limit"
            if sig == signal.SIGKILL:
                return "was killed (out of memory or over a limit)"
            if sig == signal.SIGXFSZ:
                return "wrote a file larger than allowed"
            return f"crashed (signal {signal.Signals(sig).name})"
        return f"exited (exit code {code}: sys.exit or os._exit was called, or it crashed)"

    def close(self) -> None:
        """Stop the worker and release its pipes and scratch folder."""
        self.kill()
        for fd in (self._to_worker, self._from_worker):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.output.join(timeout=2)
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
