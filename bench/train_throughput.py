"""Training throughput of ``course_lib.train.fit`` against a bare hand-written loop.

For each model (an MLP and a small CNN on 28x28 inputs, defined here) the script trains one
epoch on random in-memory tensors, with the same data, batch size, optimizer and initial
weights, three ways:

* **bare loop**: the baseline, the loop a tutorial writes (shuffle by a permutation, slice,
  forward, loss, ``zero_grad``, ``backward``, ``step``), recording nothing;
* **fit, defaults + TensorBoard**: what a student gets from ``fit(..., log_dir=tmp)``:
  progress bar on (drawn to a null stream here), step history, gradient norms, TensorBoard
  scalars every 10 steps and histograms every epoch;
* **fit, log_dir=None**: the same without TensorBoard.

The variants take turns within each round (so a slow moment of the machine hits all of them
alike), all in this process. The table prints the median samples per second and the median
over rounds of the ratio to the bare loop's time in the same round, the ratio of the best
(fastest) times, which is the least disturbed by other jobs, and the range of the per-round
ratios (a wide range means a busy machine: rerun, or use ``--threads 1``). The target is a
ratio of at least 0.9 on the CPU.

Run it from the repository root::

    python bench/train_throughput.py            # 20k samples, 9 rounds
    python bench/train_throughput.py --quick    # a smoke test
    python bench/train_throughput.py --device cuda
    python bench/train_throughput.py --threads 1   # steadier on a shared, busy machine
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import TensorDataset

from course_lib.train import choose_device, epoch_permutation, fit


def mlp() -> nn.Module:
    """784-256-256-10 with ReLU: matrix products dominate."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 256),
        nn.ReLU(),
        nn.Linear(256, 256),
        nn.ReLU(),
        nn.Linear(256, 10),
    )


def cnn() -> nn.Module:
    """Two 3x3 conv blocks (16 and 32 channels, max-pooling) and a linear classifier."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 10),
    )


def make_optimizer(params) -> torch.optim.Optimizer:
    """The optimizer every variant uses."""
    return torch.optim.SGD(params, lr=0.01, momentum=0.9)


def bare_loop(model: nn.Module, data: TensorDataset, batch_size: int, device: torch.device) -> None:
    """The baseline: one epoch of the plainest correct loop over in-memory tensors."""
    x, y = (t.to(device) for t in data.tensors)
    model.to(device).train()
    optimizer = make_optimizer(model.parameters())
    order = epoch_permutation(len(x), 0, 0).to(device)
    for start in range(0, len(x), batch_size):
        index = order[start : start + batch_size]
        loss = F.cross_entropy(model(x[index]), y[index])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if device.type == "cuda":
        torch.cuda.synchronize()


def fit_variant(log: bool) -> Callable[[nn.Module, TensorDataset, int, torch.device], None]:
    """One epoch of fit with the student defaults, with or without TensorBoard."""

    def run(model: nn.Module, data: TensorDataset, batch_size: int, device: torch.device) -> None:
        with contextlib.ExitStack() as stack:
            log_dir = stack.enter_context(tempfile.TemporaryDirectory()) if log else None
            # The bar is on, as for a student, but drawn to a null stream, not the terminal.
            null = stack.enter_context(open(os.devnull, "w"))
            stack.enter_context(contextlib.redirect_stderr(null))
            fit(
                model,
                data,
                loss_fn=F.cross_entropy,
                optimizer=make_optimizer,
                batch_size=batch_size,
                device=device,
                log_dir=log_dir,
            )
        if device.type == "cuda":
            torch.cuda.synchronize()

    return run


VARIANTS = {
    "bare loop": bare_loop,
    "fit, defaults + TensorBoard": fit_variant(log=True),
    "fit, log_dir=None": fit_variant(log=False),
}


def main() -> None:
    """Parse the arguments, time every variant on both models, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--device", default=None)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument("--quick", action="store_true", help="2k samples, 2 rounds")
    args = parser.parse_args()
    if args.quick:
        args.samples, args.rounds = 2_000, 2
    device = choose_device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(
        f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{args.samples} samples, batch {args.batch_size}, median of {args.rounds} rounds"
    )
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(args.samples, 1, 28, 28, generator=generator)
    y = torch.randint(0, 10, (args.samples,), generator=generator)
    data = TensorDataset(x, y)
    header = f"{'model':<5} {'variant':<30} {'samples/s':>10} {'vs bare':>8} {'best/best':>9}"
    print(f"{header} {'rounds range':>13}")
    names = list(VARIANTS)
    for name, build in (("MLP", mlp), ("CNN", cnn)):
        torch.manual_seed(0)
        initial = build().state_dict()
        times: dict[str, list[float]] = {v: [] for v in names}
        for round_ in range(args.rounds + 1):  # round 0 warms up (allocator, caches)
            # Rotate who goes first, so that no variant always runs right after another.
            for variant in names[round_ % 3 :] + names[: round_ % 3]:
                model = build()
                model.load_state_dict(initial)
                start = time.perf_counter()
                VARIANTS[variant](model, data, args.batch_size, device)
                if round_ > 0:
                    times[variant].append(time.perf_counter() - start)
        for variant, ts in times.items():
            # The ratio is the median of per-round ratios: a round's variants ran within
            # seconds of each other, so a machine that slows down for a while (other jobs)
            # slows both sides of each ratio.
            ratios = [b / t for b, t in zip(times["bare loop"], ts, strict=True)]
            rate = args.samples / statistics.median(ts)
            best = min(times["bare loop"]) / min(ts)
            spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
            print(
                f"{name:<5} {variant:<30} {rate:>10.0f} {statistics.median(ratios):>7.3f}x"
                f" {best:>8.3f}x {spread:>13}"
            )


if __name__ == "__main__":
    main()
