"""The whole federation on one machine: one in-process node per center of a table.

Every query and answer still travels as encoded bytes (:mod:`mst.federated.wire`), so the
simulation exercises the same messages, the same disclosure checks and the same byte counts
as a deployment. ``observer`` sees every message that leaves a node.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd

from mst.errors import ValidationError
from mst.federated.disclosure import DisclosurePolicy
from mst.federated.errors import FederationError
from mst.federated.federation import Federation
from mst.federated.node import AuditSink, Node
from mst.federated.wire import decode

Observer = Callable[[str, bytes], None]


def split_table(df: pd.DataFrame, split_by: str) -> dict[str, pd.DataFrame]:
    """One table per center (value of ``split_by``), rows in their original order."""
    if split_by not in df.columns:
        raise ValidationError(
            "--split-by", split_by, f"column not found (columns: {list(df.columns)})"
        )
    miss = df[split_by].isna().to_numpy()
    if miss.any():
        rows = [int(i) + 1 for i in miss.nonzero()[0][:10]]
        raise ValidationError(f"{split_by} (rows {rows})", None, "every row needs a center")
    return {str(c): part for c, part in df.groupby(df[split_by].astype(str), sort=True)}


def simulated_federation(
    df: pd.DataFrame,
    split_by: str,
    policies: Mapping[str, DisclosurePolicy] | DisclosurePolicy | None = None,
    observer: Observer | None = None,
    audit: Mapping[str, AuditSink] | None = None,
    down: set[str] | frozenset[str] = frozenset(),
    allow_missing: bool = False,
    secure: bool = False,
) -> tuple[Federation, dict[str, Node]]:
    """Nodes for every center of ``df`` and a federation that reaches them in-process.

    Parameters
    ----------
    df : DataFrame
        The pooled table (only used to build the per-center tables).
    split_by : str
        Center column.
    policies : DisclosurePolicy or mapping, optional
        Disclosure rules (one for all, or per center; default: minimum cell count 1, i.e.
        no restriction, so that any table can be compared with its pooled analysis).
    observer : callable, optional
        Called with (center, bytes) for every message leaving a node.
    audit : mapping, optional
        Audit sink per center.
    down : set of str
        Centers that do not answer (for testing failure handling).
    allow_missing : bool
        Leave out centers that do not answer.
    secure : bool
        Receive the counts as totals through the secure-aggregation path, summed here in
        process *without* SecAgg+'s masks (tests of the encoding and layout; the real
        SecAgg+ runs over Flower, :mod:`mst.federated.flower_simulation`).
    """
    parts = split_table(df, split_by)
    nodes: dict[str, Node] = {}
    for c, part in parts.items():
        if isinstance(policies, DisclosurePolicy):
            pol = policies
        elif policies is not None and c in policies:
            pol = policies[c]
        else:
            pol = DisclosurePolicy(min_cell=1)
        nodes[c] = Node(c, part.reset_index(drop=True), pol, (audit or {}).get(c))

    def send(center: str, data: bytes) -> bytes:
        if center in down:
            raise ConnectionError("node unreachable")
        reply = nodes[center].handle(data)
        if observer is not None:
            observer(center, reply)
        return reply

    fed = Federation(send, sorted(nodes), allow_missing=allow_missing)
    if secure:

        def secure_sum(data: bytes, size: int) -> tuple[np.ndarray, int]:
            total = np.zeros(size)
            for c in fed.centers:
                rep = decode(send(c, data), c)
                if "error" in rep:
                    raise FederationError(c, str(rep["error"]))
                vec = np.asarray(rep.get("secure_vector"), dtype=np.float64)
                if vec.shape != (size,):
                    raise FederationError(c, "sent a malformed message (secure vector)")
                total += vec
            return total, len(fed.centers)

        fed.secure_sum = secure_sum
    return fed, nodes
