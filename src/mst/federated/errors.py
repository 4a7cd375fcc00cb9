"""Errors of the federation, always naming the center concerned."""

from __future__ import annotations

from mst.errors import MstError


class FederationError(MstError):
    """A node that is down, slow, refuses a query or answers with malformed data.

    Parameters
    ----------
    center : str
        The center concerned (``"coordinator"`` for a problem at the coordinator).
    problem : str
        What went wrong, in plain words.
    """

    def __init__(self, center: str, problem: str) -> None:
        self.center = center
        self.problem = problem
        super().__init__(f"center {center}: {problem}")
