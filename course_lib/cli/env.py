"""``course info`` and ``course formats``: what this machine offers the course."""

from __future__ import annotations

import platform

import click


@click.command()
def info() -> None:
    """Show the versions and compute devices the course will use on this machine."""
    import torch

    from course_lib import __version__

    click.echo(f"course_lib {__version__}")
    click.echo(f"python     {platform.python_version()} ({platform.machine()})")
    click.echo(f"torch      {torch.__version__} ({torch.get_num_threads()} CPU threads)")
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            click.echo(f"cuda:{i}     {torch.cuda.get_device_name(i)}")
    else:
        click.echo("cuda       not available (chapters and assignments run on the CPU)")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        click.echo("mps        available")


@click.command()
def formats() -> None:
    """Print the floating-point formats table (fp16, bf16, fp32, fp64) from torch.finfo."""
    from course_lib.numerics import float_formats

    header = (
        f"{'format':<9} {'bits':>4} {'eps':>11} {'max':>11} "
        f"{'min normal':>11} {'min subnormal':>13}"
    )
    click.echo(header)
    for f in float_formats():
        click.echo(
            f"{f.name:<9} {f.bits:>4} {f.eps:>11.3e} {f.max:>11.3e} "
            f"{f.smallest_normal:>11.3e} {f.smallest_subnormal:>13.3e}"
        )
