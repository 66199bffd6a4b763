"""Wall time of each experiment's preset against its target, with the result that shows its effect.

For each experiment (all four by default) the script runs the whole grid of the chosen preset
(``cpu`` by default: what a student runs on a laptop) from scratch, in this one process, and
prints its wall time next to the preset's target (``Preset.target_seconds``; for ``cpu`` they
were set for a 2-core machine), the ratio of the two, and the experiment's headline: the
numbers that show the exercise's effect (e.g. the clean test MAE of MSE against Huber when the
training targets hold outliers). Data loading counts: a student waits for it too.

Run it from the repository root on a quiet machine (other work skews the times)::

    python bench/presets.py                        # all four cpu presets
    python bench/presets.py --only losses          # one (repeat --only for more)
    python bench/presets.py --preset smoke         # the CI sizes
    python bench/presets.py --out /tmp/bench-runs  # keep the results and plots
    python bench/presets.py --threads 1            # one torch thread (see below)

On a 2-core machine that other processes keep busy, torch's default of two threads can make
these small models many times slower (each parallel region waits for a descheduled thread);
one thread is then both faster and steadier (the ``losses`` presets ask for it). The printout
names the thread count each experiment used.

Each preset's results, runs and plots go to ``<out>/<experiment>`` (a temporary folder that is
deleted at the end unless ``--out`` is given); the runs are forced, so nothing is reused.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from course_lib.experiments import EXPERIMENTS, PRESET_NAMES, get_preset, run_experiment


def bench(
    name: str, preset: str, out: Path, device: str | None, threads: int | None
) -> tuple[float, float | None]:
    """Run one experiment's preset from scratch; return its wall time and target (seconds)."""
    chosen = get_preset(name, preset)
    target = chosen.target_seconds
    start = time.perf_counter()
    rows, _ = run_experiment(
        name, preset, out, device=device, threads=threads, force=True, progress=False
    )
    seconds = time.perf_counter() - start
    failed = [r for r in rows if r["status"] != "done"]
    status = f"{len(rows)} runs" + (f", {len(failed)} FAILED" if failed else "")
    ratio = f"{seconds / target:5.2f}x" if target else "   - "
    verdict = "" if target is None else ("ok" if seconds <= target else "OVER TARGET")
    used = threads or chosen.threads or torch.get_num_threads()
    print(f"{name:<10} {preset:<6} {seconds:8.1f} s  target {target or 0:6.0f} s  {ratio}  "
          f"{verdict:<11} {status}, {used} thread(s)", flush=True)  # fmt: skip
    print(f"           {EXPERIMENTS[name].headline(rows)}", flush=True)
    for row in failed:
        print(f"           failed {row['id']}: {row['error']}", flush=True)
    return seconds, target


def main() -> None:
    """Parse the arguments and time the chosen presets."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", choices=sorted(EXPERIMENTS), default=None)
    parser.add_argument("--preset", choices=PRESET_NAMES, default="cpu")
    parser.add_argument("--out", type=Path, default=None, help="keep results here")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: fastest)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads [preset's]")
    args = parser.parse_args()
    names = args.only or list(EXPERIMENTS)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads by default, "
          f"preset {args.preset}")  # fmt: skip
    print(f"{'experiment':<10} {'preset':<6} {'wall time':>10}  {'target':>13}  ratio")
    with tempfile.TemporaryDirectory(prefix="bench-presets-") as tmp:
        root = args.out if args.out is not None else Path(tmp)
        total = sum(bench(n, args.preset, root / n, args.device, args.threads)[0] for n in names)
    print(f"total {total:.1f} s")


if __name__ == "__main__":
    main()
