"""The tamper-evident audit trail: every audit row is hash-chained to the one before.

Each audit row belongs to one chain — its center (``C01``), or ``*`` for rows that belong
to no center (users, logins) — and stores its position in that chain (``chain_seq``,
1, 2, 3 …), the hash of the previous row of the chain (``prev_hash``; 64 zeros for the
first) and its own hash (``row_hash``): SHA-256 of a canonical JSON list of its content
(when, who, action, entity, key, patient, center, position, before, after), ``prev_hash``
and the reason of a correction. The table ``audit_heads`` keeps, per chain, the number of
rows and the last hash, so that removing the newest rows is detected too.

Editing, inserting, deleting or reordering an audit row with plain SQL breaks the chain at
that row; :func:`verify_chain` names the first broken row. Somebody who can write the
database can of course recompute every hash after an edit: the chain makes tampering
evident to anyone holding an earlier copy of the heads (a backup, an export), it does not
make it impossible. See docs/registry.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

GENESIS = "0" * 64
NO_CENTER = "*"


def chain_key(center_id: str | None) -> str:
    """The chain an audit row belongs to: its center, or ``*``."""
    return center_id or NO_CENTER


# One encoder for every row (json.dumps would build one per call): same text as
# json.dumps(payload, ensure_ascii=False, separators=(",", ":")).
_PAYLOAD = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def row_digest(
    at: dt.datetime,
    user: str,
    action: str,
    entity: str,
    entity_key: str,
    patient_id: str | None,
    center_id: str | None,
    chain_seq: int,
    before: str | None,
    after: str | None,
    prev_hash: str,
    reason: str | None = None,
) -> str:
    """SHA-256 (hex) of an audit row's content and the previous row's hash.

    Parameters
    ----------
    at, user, action, entity, entity_key, patient_id, center_id, chain_seq, before, after
        The row's stored values (``before``/``after`` as the stored JSON text).
    prev_hash : str
        Hash of the previous row of the same chain (:data:`GENESIS` for the first).

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    payload = _PAYLOAD.encode(
        [
            at.isoformat(timespec="microseconds"),
            user,
            action,
            entity,
            entity_key,
            patient_id,
            center_id,
            int(chain_seq),
            before,
            after,
            prev_hash,
            reason,
        ]
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass
class ChainReport:
    """Outcome of :func:`verify_chain`.

    Attributes
    ----------
    ok : bool
        True when every chain is intact.
    rows : int
        Audit rows checked.
    chains : dict
        Rows per chain.
    problem : str or None
        The first broken row and what is wrong with it.
    """

    ok: bool = True
    rows: int = 0
    chains: dict[str, int] = field(default_factory=dict)
    problem: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"ok": self.ok, "rows": self.rows, "chains": self.chains, "problem": self.problem}


def verify_rows(rows: Any, heads: dict[str, tuple[int, str]]) -> ChainReport:
    """Check audit rows (ordered by chain, then position) against their hashes and the heads.

    Parameters
    ----------
    rows : iterable
        Objects with the audit columns, ordered by ``(chain, chain_seq)``.
    heads : dict
        Chain → (number of rows, last hash) from ``audit_heads``.

    Returns
    -------
    ChainReport
    """
    report = ChainReport()
    current: str | None = None
    expected_seq = 1
    prev = GENESIS

    def fail(text: str) -> ChainReport:
        report.ok = False
        report.problem = text
        return report

    def close(chain: str) -> ChainReport | None:
        n, last = heads.get(chain, (0, GENESIS))
        if n != expected_seq - 1 or last != prev:
            return fail(
                f"chain {chain}: the head records {n} rows ending in {last[:12]}…, but the "
                f"table holds {expected_seq - 1} rows ending in {prev[:12]}… "
                "(rows were removed from, or added to, the end of the trail)"
            )
        return None

    for r in rows:
        chain = chain_key(r.center_id)
        if chain != current:
            if current is not None and close(current) is not None:
                return report
            current, expected_seq, prev = chain, 1, GENESIS
        where = f"audit row {r.pk} (chain {chain}, position {r.chain_seq})"
        if r.chain_seq != expected_seq:
            return fail(
                f"{where}: expected position {expected_seq} — a row before it was removed "
                "or inserted"
            )
        if r.prev_hash != prev:
            return fail(f"{where}: its link to the previous row does not match")
        digest = row_digest(
            r.at, r.user, r.action, r.entity, r.entity_key, r.patient_id, r.center_id,
            r.chain_seq, r.before, r.after, r.prev_hash, getattr(r, "reason", None),
        )
        if digest != r.row_hash:
            return fail(f"{where}: its content does not match its hash (edited after writing)")
        prev = r.row_hash
        expected_seq += 1
        report.rows += 1
        report.chains[chain] = report.chains.get(chain, 0) + 1
    if current is not None and close(current) is not None:
        return report
    missing = sorted(set(heads) - set(report.chains))
    for chain in missing:
        if heads[chain][0] > 0:
            return fail(f"chain {chain}: the head records {heads[chain][0]} rows, none is left")
    return report
