"""A center's node: answers the coordinator's queries from its own table, after the
disclosure rules, and logs every query and what left in the center's audit trail."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mst.errors import MstError, ValidationError
from mst.federated import aggregates as agg
from mst.federated import secure, secure_sums
from mst.federated.disclosure import DisclosurePolicy
from mst.federated.errors import FederationError
from mst.federated.wire import decode, encode

PROTOCOL_VERSION = 1

Handler = Callable[[pd.DataFrame, dict[str, Any], DisclosurePolicy, str], dict[str, Any]]

HANDLERS: dict[str, Handler] = {
    "outcome_counts": agg.outcome_counts,
    "table1_counts": agg.table1_counts,
    "regression_setup": agg.regression_setup,
    "regression_moments": agg.regression_moments,
    "cox_cells": agg.cox_cells,
    "cox_residuals": agg.cox_residuals,
    "cox_concordance_cells": agg.cox_concordance_cells,
    "cox_concordance_influence": agg.cox_concordance_influence,
    "finegray_counts": agg.finegray_counts,
    "finegray_cells": agg.finegray_cells,
    "finegray_residuals": agg.finegray_residuals,
    "outcome_labels": secure.outcome_labels,
}
#: plain queries a node with ``secure_only`` still answers (they release labels, no count)
LABEL_KINDS = ("outcome_labels", "secure_labels")

#: an audit sink: ``audit(action, details)``; the registry adapter writes one audit row
AuditSink = Callable[[str, dict[str, Any]], None]


def _summary(payload: dict[str, Any]) -> dict[str, Any]:
    """What left the node, field by field (shape of arrays, values of small JSON fields)."""
    out: dict[str, Any] = {}
    for k, v in payload.items():
        if isinstance(v, np.ndarray):
            out[k] = {"array": list(v.shape), "dtype": str(v.dtype)}
        elif isinstance(v, list) and len(v) > 20:
            out[k] = {"list": len(v)}
        else:
            out[k] = v
    return out


def _query_summary(q: dict[str, Any]) -> dict[str, Any]:
    return {
        k: (v if not isinstance(v, list | dict) or len(str(v)) < 400 else "…") for k, v in q.items()
    }


@dataclass
class Node:
    """One center's node.

    Attributes
    ----------
    center : str
        Center identifier (e.g. ``C01``).
    table : DataFrame or callable
        The center's flat analysis table, or a function that builds it (called per query,
        so that a registry node always answers from its current data).
    policy : DisclosurePolicy
        The center's disclosure rules.
    audit : callable, optional
        Audit sink; every query, refusal and answer is recorded.
    """

    center: str
    table: pd.DataFrame | Callable[[], pd.DataFrame]
    policy: DisclosurePolicy = field(default_factory=DisclosurePolicy)
    audit: AuditSink | None = None

    def _table(self) -> pd.DataFrame:
        return self.table() if callable(self.table) else self.table

    def answer(self, query: dict[str, Any]) -> dict[str, Any]:
        """Answer a decoded query with a payload (raises on refusal or bad input)."""
        kind = query.get("kind")
        if kind == "hello":
            return {"protocol": PROTOCOL_VERSION, "policy": self.policy.describe()}
        if kind == "secure_labels":
            return self._secure_labels(query)
        if kind not in HANDLERS:
            raise FederationError(self.center, f"unknown query kind {kind!r}")
        layout = query.get("secure_layout")
        if layout is None:
            if self.policy.secure_only and kind not in LABEL_KINDS:
                raise FederationError(
                    self.center,
                    f"refused the query: this center releases {kind} only through secure "
                    "aggregation (SecAgg+; run with --secure-aggregation)",
                )
            return HANDLERS[str(kind)](self._table(), query, self.policy, self.center)
        if kind not in secure.SECURE_KINDS:
            raise FederationError(self.center, f"no secure aggregation for {kind}")
        rep = HANDLERS[str(kind)](self._table(), query, self.policy, self.center)
        if kind == "outcome_counts":
            dense = secure.dense_outcome(rep, layout, self.center)
        else:
            dense = secure_sums.dense(str(kind), rep, layout, self.center)
        try:
            limbs = secure.encode_fixed(dense)
        except ValidationError as exc:
            raise FederationError(
                self.center, f"refused the query: cannot add {kind} securely ({exc.rule})"
            ) from exc
        # the limbs are masked by SecAgg+ before they leave the node
        return {"secure_vector": limbs.ravel()}

    def _secure_labels(self, query: dict[str, Any]) -> dict[str, Any]:
        """The labels and shapes that fix the layout of a secure query (no count)."""
        of = str(query.get("of"))
        if of not in secure.SECURE_KINDS or of == "outcome_counts":
            raise FederationError(self.center, f"no secure aggregation for {of}")
        rep = HANDLERS[of](self._table(), {**query, "kind": of}, self.policy, self.center)
        return secure_sums.labels_of(of, rep, query, self.policy, self.center)

    def handle(self, request: bytes) -> bytes:
        """Bytes in, bytes out: the node's whole interface to any transport."""
        try:
            query = decode(request, "coordinator")
        except FederationError as exc:
            return encode({"center": self.center, "error": str(exc)})
        kind = str(query.get("kind"))
        try:
            payload = self.answer(query)
        except FederationError as exc:
            reply = {"center": self.center, "error": exc.problem}
            self._log("refused", kind, query, reply, None)
            return encode(reply)
        except MstError as exc:
            reply = {"center": self.center, "error": f"cannot answer {kind}: {exc}"}
            self._log("refused", kind, query, reply, None)
            return encode(reply)
        except Exception as exc:  # never leak a traceback or a repr across the wire
            reply = {
                "center": self.center,
                "error": f"internal error answering {kind} ({type(exc).__name__})",
            }
            self._log("refused", kind, query, reply, None)
            return encode(reply)
        payload = {"center": self.center, "kind": kind, "policy": self.policy.describe(), **payload}
        data = encode(payload)
        self._log("query", kind, query, payload, data)
        return data

    def _log(
        self,
        action: str,
        kind: str,
        query: dict[str, Any],
        reply: dict[str, Any],
        data: bytes | None,
    ) -> None:
        if self.audit is None:
            return
        details = {
            "kind": kind,
            "query": _query_summary(query),
            "released": _summary(reply),
            "bytes": None if data is None else len(data),
            "sha256": None if data is None else hashlib.sha256(data).hexdigest(),
            "policy": self.policy.describe(),
        }
        self.audit(action, details)


def _data_version(reg: Any) -> int:
    """Newest audit row that is not a federated query (changes whenever the data change)."""
    from sqlalchemy import func, select

    from mst.registry.schema import AuditRow

    with reg._tx() as s:
        q = select(func.max(AuditRow.pk)).where(AuditRow.entity != "federated")
        return int(s.scalar(q) or 0)


def registry_node(
    url: str,
    center: str,
    policy: DisclosurePolicy,
    user: str = "federated-node",
    cache_dir: Path | None = None,
) -> Node:
    """A node answering from the registry at ``url`` (only ``center``'s patients).

    Every query is one audit row in that registry (action ``query`` or
    ``refused``, entity ``federated``), written in its own transaction. With
    ``cache_dir`` the center's flat table is kept there between queries (it is rebuilt
    whenever the registry's data change), because the engine may start a fresh process per
    query; the cache never leaves the node.
    """
    from mst.cohort.flat_table import flat_table_from_frames
    from mst.registry import open_registry

    memo: dict[int, pd.DataFrame] = {}

    def table() -> pd.DataFrame:
        with open_registry(url, user=user, center_scope=[center], migrate=False) as reg:
            version = _data_version(reg)
            if version in memo:
                return memo[version]
            if cache_dir is None:
                memo.clear()
                memo[version] = flat_table_from_frames(reg.load_frames(center_id=center))
                return memo[version]
            path = cache_dir / f"flat-{center}-{version}.pkl"
            if path.exists():
                return pd.read_pickle(path)  # written below by this node only
            df = flat_table_from_frames(reg.load_frames(center_id=center))
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        df.to_pickle(tmp)
        tmp.replace(path)
        return df

    def audit(action: str, details: dict[str, Any]) -> None:
        with (
            open_registry(url, user=user, center_scope=[center], migrate=False) as reg,
            reg._tx() as s,  # one transaction per audit row
        ):
            reg._audit(s, action, "federated", details["kind"], None, None, details)

    return Node(center, table, policy, audit)
