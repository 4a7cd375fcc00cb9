"""CLI commands of this face (filled in by the issue that owns it)."""

from __future__ import annotations

import typer


def register(app: typer.Typer, stats_app: typer.Typer) -> None:
    """Register this module's commands on the main and ``stats`` apps."""
    del app, stats_app
