"""Entry point of the ``mst`` command.

Each face of the package registers its commands from its own module
(``register(app, stats_app)``), so that the command modules stay small and
independent.
"""

from __future__ import annotations

import gc

import typer

from mst.cli import (
    donor_cmds,
    federated_cmds,
    monitoring_cmds,
    myeloma_cmds,  # issue 18
    omics_cmds,  # issue 17
    protocol_cmds,
    registry_cmds,
    regression_cmds,
    report_cmds,
    simulate_cmds,
    stats_cmds,
    web_cmds,
)

app = typer.Typer(
    name="mst",
    help="Microtransplantation (MST) platform: protocol, donors, monitoring, registry, statistics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stats_app = typer.Typer(help="Outcome statistics (validated against R).", no_args_is_help=True)
app.add_typer(stats_app, name="stats")

for _module in (
    registry_cmds,
    simulate_cmds,
    protocol_cmds,
    donor_cmds,
    monitoring_cmds,
    stats_cmds,
    regression_cmds,
    report_cmds,
    web_cmds,
    myeloma_cmds,  # issue 18
    federated_cmds,  # issue 19: mst federated simulate | link | node | run | report
    omics_cmds,  # issue 17: mst omics simulate | de | enrich | report
):
    _module.register(app, stats_app)


#: Garbage-collector thresholds of a command-line run (Python's default: 700, 10, 10).
#: A command reads or builds tables of millions of Python objects that live to its end;
#: with the default thresholds the collector walks them again and again (about 1 s of a
#: report from a 10,000-patient file). Cyclic garbage is still collected, in fewer,
#: larger passes; reference counting frees everything else at once, as before.
GC_THRESHOLDS: tuple[int, int, int] = (50_000, 20, 100)


def main() -> None:
    """Run the ``mst`` command line.

    The modules imported so far are moved out of the collector's sight (``gc.freeze``)
    and the thresholds are :data:`GC_THRESHOLDS` while the command runs; both are undone
    when it returns.
    """
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        app()
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()
