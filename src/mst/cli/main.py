"""Entry point of the ``mst`` command.

Each face of the package registers its commands from its own module
(``register(app, stats_app)``), so that the command modules stay small and
independent.
"""

from __future__ import annotations

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


def main() -> None:
    """Run the ``mst`` command line."""
    app()
