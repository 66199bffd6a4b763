"""The ``course`` command: one name for readers, students and instructors.

Sub-commands are added by the parts of the course that own them; this module only assembles
the group, so importing it stays cheap (torch is imported inside the commands that need it).
The commands are imported under other names: ``course_lib.cli.run`` must stay the submodule.
"""

from __future__ import annotations

import click

from course_lib import __version__
from course_lib.cli.data import data as data_group
from course_lib.cli.env import formats, info
from course_lib.cli.grading import autograde, check, collect, feedback, grades, release
from course_lib.cli.run import run as run_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="course")
def main() -> None:
    """Optimization for Deep Learning: the course's command-line tool."""


main.add_command(info)
main.add_command(formats)
main.add_command(data_group)
main.add_command(run_command)
for _command in (release, collect, autograde, feedback, grades, check):
    main.add_command(_command)
