"""Time per optimizer step, ours against torch, on a ResNet-18-sized parameter list.

For each optimizer (SGD with momentum, Adam, AdamW, RMSprop, Adagrad) the script times one
``step()`` for every implementation:

* torch: ``foreach=False`` (for-loop), ``foreach=True``, and ``fused=True`` where torch has it;
* ours: ``impl="readable"``, ``impl="foreach"`` and ``impl="compiled"``.

The timings are medians over rounds in which the variants take turns (so that a slow moment of
the machine hits all of them alike), all in this one process. The table prints each time as a
ratio against its named baseline: our readable path against torch's for-loop, our fast path
against torch's fastest step (fused where it exists, else foreach). It also prints the bytes
each step must move (every parameter, gradient and state tensor read once, and the updated ones
written once) and the bandwidth that implies, next to a triad bandwidth measured in the same run
(one plain ``torch.add``, not a tuned STREAM: a fused optimizer kernel can beat it, so read the
last column as a rough scale, not a ceiling).

Run it from the repository root::

    python bench/optim_step.py                 # CPU, the default sizes
    python bench/optim_step.py --device cuda   # on a GPU
    python bench/optim_step.py --quick         # a small model, for a smoke test
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from course_lib import optim as ours


def resnet18_shapes(num_classes: int = 1000) -> list[tuple[int, ...]]:
    """Parameter shapes of torchvision's ResNet-18 (11.69 M values for 1000 classes)."""
    shapes: list[tuple[int, ...]] = [(64, 3, 7, 7), (64,), (64,)]
    c_in = 64
    for c_out, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        for block in range(2):
            s = stride if block == 0 else 1
            # conv, batch-norm weight and bias; twice per basic block
            shapes += [(c_out, c_in, 3, 3), (c_out,), (c_out,)]
            shapes += [(c_out, c_out, 3, 3), (c_out,), (c_out,)]
            if block == 0 and (s != 1 or c_in != c_out):
                shapes += [(c_out, c_in, 1, 1), (c_out,), (c_out,)]
            c_in = c_out
    shapes += [(num_classes, 512), (num_classes,)]
    return shapes


@dataclass(frozen=True)
class Spec:
    """One optimizer to benchmark.

    Attributes:
        name: label in the table.
        torch_cls: torch's class.
        our_cls: ours.
        kwargs: hyperparameters given to both.
        has_fused: whether torch offers ``fused=True`` on this device.
        tensors_read: tensors read per parameter per step (param, grad, state).
        tensors_written: tensors written per parameter per step (param, state).
    """

    name: str
    torch_cls: type[torch.optim.Optimizer]
    our_cls: type[torch.optim.Optimizer]
    kwargs: dict
    has_fused: bool
    tensors_read: int
    tensors_written: int


SPECS = [
    Spec("SGD momentum", torch.optim.SGD, ours.SGD, {"lr": 0.01, "momentum": 0.9}, True, 3, 2),
    Spec("Adam", torch.optim.Adam, ours.Adam, {"lr": 1e-3}, True, 4, 3),
    Spec("AdamW", torch.optim.AdamW, ours.AdamW, {"lr": 1e-3}, True, 4, 3),
    Spec("RMSprop", torch.optim.RMSprop, ours.RMSprop, {"lr": 1e-3}, False, 3, 2),
    Spec("Adagrad", torch.optim.Adagrad, ours.Adagrad, {"lr": 1e-2}, True, 3, 2),
]


def _make_optimizer(
    cls: type[torch.optim.Optimizer],
    kwargs: dict,
    shapes: list[tuple[int, ...]],
    device: str,
    grads: list[torch.Tensor],
) -> torch.optim.Optimizer:
    params = []
    for shape, g in zip(shapes, grads, strict=True):
        p = torch.randn(shape, device=device).requires_grad_(True)
        p.grad = g.clone()
        params.append(p)
    return cls(params, **kwargs)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_variants(
    variants: dict[str, Callable[[], object]], device: str, rounds: int, warmup: int
) -> dict[str, float]:
    """Median seconds per call of each variant, the variants taking turns round by round."""
    for fn in variants.values():
        for _ in range(warmup):
            fn()
    _sync(device)
    samples: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            _sync(device)
            t0 = time.perf_counter()
            fn()
            _sync(device)
            samples[name].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in samples.items()}


def memory_bandwidth(numel: int, device: str, rounds: int) -> float:
    """Bytes per second of a STREAM-style triad ``a = b + s * c`` on float32 buffers.

    Three tensors of ``numel`` values are touched per call (two read, one written); the buffers are
    allocated once, so no page faults are timed.
    """
    b = torch.randn(numel, device=device)
    c = torch.randn(numel, device=device)
    a = torch.empty_like(b)
    triad = {"triad": lambda: torch.add(b, c, alpha=0.5, out=a)}
    seconds = time_variants(triad, device, rounds, warmup=3)["triad"]
    return 3 * numel * b.element_size() / seconds


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, time every variant and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds (median reported)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls per variant first")
    parser.add_argument("--quick", action="store_true", help="a 10-class head, 3 rounds")
    parser.add_argument("--no-compile", action="store_true", help="skip our compiled path")
    parser.add_argument(
        "--only", default="", help="comma-separated optimizer names to run (e.g. Adam,SGD)"
    )
    args = parser.parse_args(argv)
    device = args.device
    if device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda was asked for, but torch.cuda.is_available() is False")
    rounds = 3 if args.quick else args.rounds
    shapes = resnet18_shapes(10 if args.quick else 1000)
    if args.quick:
        shapes = shapes[:12] + shapes[-2:]
    numel = sum(torch.Size(s).numel() for s in shapes)
    gen = torch.Generator().manual_seed(0)
    grads = [torch.randn(s, generator=gen).to(device) for s in shapes]

    bandwidth = memory_bandwidth(numel * 2, device, rounds)
    print(f"device {device}; torch {torch.__version__}; {torch.get_num_threads()} CPU threads")
    print(
        f"{len(shapes)} tensors, {numel / 1e6:.2f} M fp32 values; memory bandwidth "
        f"{bandwidth / 1e9:.1f} GB/s (triad, measured now)"
    )
    print()
    header = (
        f"{'optimizer':<13} {'variant':<16} {'ms/step':>8} {'vs baseline':>18} "
        f"{'GB moved':>8} {'GB/s':>6} {'of triad':>8}"
    )
    print(header)
    print("-" * len(header))
    wanted = {s.strip().lower() for s in args.only.split(",") if s.strip()}
    for spec in SPECS:
        if wanted and spec.name.lower().split()[0] not in wanted:
            continue
        torch_variants = {"torch for-loop": {"foreach": False}, "torch foreach": {"foreach": True}}
        if spec.has_fused and (device == "cpu" or device.startswith("cuda")):
            torch_variants["torch fused"] = {"fused": True}
        our_variants = {"ours readable": "readable", "ours foreach": "foreach"}
        if not args.no_compile:
            our_variants["ours compiled"] = "compiled"
        optimizers: dict[str, torch.optim.Optimizer] = {}
        for label, extra in torch_variants.items():
            optimizers[label] = _make_optimizer(
                spec.torch_cls, {**spec.kwargs, **extra}, shapes, device, grads
            )
        for label, impl in our_variants.items():
            optimizers[label] = _make_optimizer(
                spec.our_cls, {**spec.kwargs, "impl": impl}, shapes, device, grads
            )
        times = time_variants(
            {k: o.step for k, o in optimizers.items()}, device, rounds, args.warmup
        )
        fastest_torch = "torch fused" if "torch fused" in times else "torch foreach"
        baselines = {
            "ours readable": "torch for-loop",
            "ours foreach": fastest_torch,
            "ours compiled": fastest_torch,
        }
        moved = (spec.tensors_read + spec.tensors_written) * numel * 4
        for label, seconds in times.items():
            base = baselines.get(label)
            ratio = f"{seconds / times[base]:.2f}x {base.removeprefix('torch ')}" if base else ""
            gbs = moved / seconds / 1e9
            print(
                f"{spec.name:<13} {label:<16} {seconds * 1e3:>8.2f} {ratio:>18} "
                f"{moved / 1e9:>8.3f} {gbs:>6.1f} {moved / seconds / bandwidth:>7.0%}"
            )
        print()
    print("Targets: ours fast path within 1.2x of torch's fastest (fused) step; ours readable")
    print("within 1.2x of torch's for-loop. 'of triad': implied bandwidth / triad bandwidth.")


if __name__ == "__main__":
    main()
