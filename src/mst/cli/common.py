"""Helpers shared by the CLI command modules: JSON output and error reporting."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import typer

from mst.errors import MstError
from mst.jsonout import to_json

P = ParamSpec("P")
R = TypeVar("R")


def emit_json(obj: Any) -> None:
    """Print ``obj`` as JSON on standard output."""
    typer.echo(to_json(obj))


def fail(message: str, code: int = 2) -> None:
    """Print ``message`` on standard error and exit with ``code``."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn :class:`mst.errors.MstError` (and file errors) into a clean exit 2."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except (MstError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
            fail(str(exc))
            raise AssertionError("unreachable") from exc

    return wrapper


def stdout_is_terminal() -> bool:
    """True when standard error is a terminal (progress bars are shown only then)."""
    return sys.stderr.isatty()
