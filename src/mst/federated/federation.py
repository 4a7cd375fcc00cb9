"""The coordinator's view of the federation: send one query to every center, collect answers.

A transport is a function ``send(center, request_bytes) -> reply_bytes`` (in-process for the
simulation, Flower messages in deployment). :class:`Federation` encodes the query once,
decodes and checks every reply, counts the bytes, and turns every failure into a
:class:`~mst.federated.errors.FederationError` naming the center. A center that does not
answer the first query (``hello``) is an error unless ``allow_missing`` is set; then it is
left out of the whole analysis and named in the result's ``missing_centers``. A center
that fails later in an analysis is always an error (the result would mix two populations).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mst.federated.errors import FederationError
from mst.federated.wire import decode, encode

Send = Callable[[str, bytes], bytes]
#: secure aggregation: ``secure_sum(request, size) -> (sum of the centers' vectors, number of
#: contributing centers)``; the coordinator never sees one center's vector (SecAgg+)
SecureSum = Callable[[bytes, int], "tuple[np.ndarray, int]"]
#: optional: send to several centers at once, ``{center: request} -> {center: reply or error}``
SendMany = Callable[[dict[str, bytes]], dict[str, "bytes | Exception"]]


@dataclass
class Federation:
    """Centers reachable through ``send``.

    Attributes
    ----------
    send : callable
        ``send(center, request) -> reply`` (bytes); raises FederationError on failure.
    centers : list of str
        Centers taking part.
    allow_missing : bool
        Leave out centers that do not answer the first query (named in ``missing``).
    """

    send: Send
    centers: list[str]
    allow_missing: bool = False
    send_many: SendMany | None = None
    missing: list[str] = field(default_factory=list)
    bytes_to_nodes: int = 0
    bytes_from_nodes: int = 0
    queries: int = 0
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: what the coordinator could not compute and why (e.g. a statistic a center refused)
    notes: list[str] = field(default_factory=list)
    #: when set, sums are received only as SecAgg+ totals (:mod:`mst.federated.secure`)
    secure_sum: SecureSum | None = None
    secure_rounds: int = 0
    _started: bool = False
    #: agreed secure layouts, one per query without its per-step fields
    _layouts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def _one(
        self, center: str, data: bytes, got: bytes | Exception | None = None
    ) -> dict[str, Any]:
        try:
            raw = self.send(center, data) if got is None else got
            if isinstance(raw, Exception):
                raise raw
        except FederationError:
            raise
        except Exception as exc:  # transport failure of any kind
            raise FederationError(center, f"did not answer ({type(exc).__name__}: {exc})") from exc
        if not isinstance(raw, bytes | bytearray):
            raise FederationError(center, "sent a malformed message (not bytes)")
        self.bytes_from_nodes += len(raw)
        reply = decode(bytes(raw), center)
        if "error" in reply:
            raise FederationError(center, str(reply["error"]))
        if reply.get("center") != center:
            raise FederationError(center, f"answered as center {reply.get('center')!r}")
        return reply

    def start(self) -> None:
        """Send ``hello`` to every center; drop the silent ones if ``allow_missing``."""
        if self._started:
            return
        data = encode({"kind": "hello"})
        alive: list[str] = []
        for c in self.centers:
            self.bytes_to_nodes += len(data)
            try:
                rep = self._one(c, data)
            except FederationError:
                if not self.allow_missing:
                    raise
                self.missing.append(c)
                continue
            self.policies[c] = dict(rep.get("policy", {}))
            alive.append(c)
        if not alive:
            raise FederationError("coordinator", "no center answered")
        self.centers = alive
        self._started = True

    def ask(self, query: dict[str, Any], expect: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
        """Send ``query`` to every center and return the replies by center.

        Parameters
        ----------
        query : dict
            ``kind`` and its parameters (JSON values).
        expect : sequence of str
            Fields every reply must have (else: malformed, naming the center).
        """
        self.start()
        if self.secure_sum is not None and query.get("kind") not in (
            "outcome_labels",
            "secure_labels",
        ):
            return self._ask_secure(query)
        self.queries += 1
        data = encode(query)
        out: dict[str, dict[str, Any]] = {}
        many = self.send_many({c: data for c in self.centers}) if self.send_many else {}
        for c in self.centers:
            self.bytes_to_nodes += len(data)
            rep = self._one(c, data, many.get(c, KeyError("no reply")) if self.send_many else None)
            for k in expect:
                if k not in rep:
                    raise FederationError(c, f"sent a malformed message (no field {k})")
                v = rep[k]
                if isinstance(v, np.ndarray) and v.dtype.kind == "f" and not np.all(np.isfinite(v)):
                    raise FederationError(c, f"sent a malformed message (non-finite {k})")
            out[c] = rep
        return out

    def _ask_secure(self, query: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """One plain round for the labels and the layout (once per analysis), then the
        SecAgg+ sum; returns one reply, for all centers together, in the plain reply's
        format (the pooled cells, as if one center held every patient)."""
        from mst.federated import secure, secure_sums

        kind = str(query.get("kind"))
        if kind not in secure.SECURE_KINDS:
            raise FederationError("coordinator", f"no secure aggregation for {kind}")
        assert self.secure_sum is not None
        if kind == "outcome_counts":
            labels = self.ask(
                {**query, "kind": "outcome_labels"}, expect=("last_index", "grid_width")
            )
            layout = secure.agree_layout(query, labels)
            size = secure.layout_size(layout)
        else:
            key = secure_sums.layout_key(query)
            if key not in self._layouts:
                labels = self.ask({**query, "kind": "secure_labels", "of": kind})
                self._layouts[key] = secure_sums.agree(kind, labels)
            layout = self._layouts[key]
            size = secure_sums.size(kind, layout)
        data = encode({**query, "secure_layout": layout})
        self.queries += 1
        self.secure_rounds += 1
        self.bytes_to_nodes += len(data) * len(self.centers)
        limbs, contributors = self.secure_sum(data, size * (secure.N_LIMBS + 1))
        if contributors != len(self.centers):
            raise FederationError(
                "coordinator",
                f"secure aggregation summed {contributors} of {len(self.centers)} centers",
            )
        total = secure.decode_fixed(np.asarray(limbs).reshape(secure.N_LIMBS + 1, size))
        if round(float(total[-1])) != len(self.centers):
            raise FederationError("coordinator", "secure aggregation lost a center's vector")
        everyone = "+".join(self.centers)
        if kind == "outcome_counts":
            reply = secure.sparse_outcome(total, layout)
        else:
            reply = secure_sums.sparse(kind, total, layout)
        return {everyone: {"center": everyone, **reply}}
