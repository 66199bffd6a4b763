"""``course run``: run one of the course's experiments at a chosen scale, resumably."""

from __future__ import annotations

import time
from pathlib import Path

import click

# The names are repeated here (not imported) so that ``course --help`` stays cheap: importing
# the experiments imports torch. A test checks that they match the registry.
EXPERIMENT_NAMES = ("losses", "shootout", "schedules", "imbalance")
PRESET_NAMES = ("smoke", "cpu", "gpu")


def parse_seeds(text: str | None) -> list[int] | None:
    """``"0,1,2"`` -> ``[0, 1, 2]``; ``None`` -> ``None`` (the preset's seeds).

    Raises:
        click.BadParameter: if an entry is not a non-negative integer.
    """
    if text is None:
        return None
    try:
        seeds = [int(s) for s in text.split(",") if s.strip()]
    except ValueError as err:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of integers") from err
    if not seeds or min(seeds) < 0:
        raise click.BadParameter(f"{text!r}: give one or more seeds >= 0, e.g. 0,1,2")
    return seeds


@click.command()
@click.argument("experiment", type=click.Choice(EXPERIMENT_NAMES))
@click.option(
    "--preset",
    type=click.Choice(PRESET_NAMES),
    default="cpu",
    show_default=True,
    help="smoke: seconds, for CI; cpu: minutes on a laptop; gpu: the syllabus scale.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder [default: runs/<experiment>-<preset>].",
)
@click.option("--device", default=None, help="cpu, cuda, cuda:1, mps [default: the fastest].")
@click.option("--seeds", default=None, help="Comma-separated seeds replacing the preset's.")
@click.option("--force", is_flag=True, help="Rerun configurations that already finished.")
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=None,
    help="CPU threads for torch [default: the preset's, else torch's]. 1 is often fastest "
    "for these small models, and much faster on a machine busy with other work.",
)
@click.option("--progress/--no-progress", default=True, help="Show a progress bar.")
def run(
    experiment: str,
    preset: str,
    out_dir: Path | None,
    device: str | None,
    seeds: str | None,
    force: bool,
    threads: int | None,
    progress: bool,
) -> None:
    """Run EXPERIMENT's grid: results.csv, one TensorBoard run per configuration, plots.

    Interrupted (Ctrl-C, a crash, a closed laptop), the same command picks up where it
    stopped: finished configurations are not trained again.

    \b
    Experiments:
      losses     MSE / MAE / Huber on California Housing, with and without outliers
      shootout   SGD, momentum, Nesterov, RMSprop, Adam, AdamW x learning rates, Fashion-MNIST
      schedules  constant, step, exponential, cosine, warm-up, one-cycle; Transformer on IMDB
      imbalance  cross-entropy, class weights, focal loss at 5% pneumonia (PneumoniaMNIST)
    """
    from course_lib.experiments import EXPERIMENTS, run_experiment

    out = out_dir if out_dir is not None else Path("runs") / f"{experiment}-{preset}"
    start = time.perf_counter()
    try:
        rows, plots = run_experiment(
            experiment,
            preset,
            out,
            device=device,
            seeds=parse_seeds(seeds),
            threads=threads,
            force=force,
            progress=progress,
        )
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted; run the same command again to continue ({out})", err=True)
        raise SystemExit(130) from None
    except ValueError as err:  # e.g. a device that is not present
        raise click.ClickException(str(err)) from err
    failed = [r for r in rows if r["status"] == "failed"]
    click.echo(f"{len(rows) - len(failed)} runs done, {len(failed)} failed, in {out}/")
    for row in failed:
        click.echo(f"  failed {row['id']}: {row['error']}", err=True)
    click.echo(f"  results: {out / 'results.csv'}")
    click.echo(f"  plots:   {len(plots)} files in {out / 'plots'}")
    click.echo(f"  logs:    tensorboard --logdir {out / 'runs'}")
    click.echo(EXPERIMENTS[experiment].headline(rows))
    click.echo(f"wall time {time.perf_counter() - start:.1f} s")
    if failed:
        raise SystemExit(1)
