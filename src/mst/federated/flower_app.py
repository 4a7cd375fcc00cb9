"""Flower adapter: a ServerApp at the coordinating center and a ClientApp at every center.

Deployment (docs/federated.md): the coordinator runs ``flower-superlink`` (TLS), each center
runs ``flower-supernode`` with ``--node-config "center='C01' db='URL' min-cell=5"`` (what
``mst federated node`` starts); ``mst federated run`` submits this app with ``flwr run``.
Each query of :mod:`mst.federated.coordinator` becomes one Flower message per center
(message type ``query``) whose content is one ``ConfigRecord`` holding the encoded bytes of
:mod:`mst.federated.wire`; the ClientApp hands them to the center's
:class:`~mst.federated.node.Node`, which answers from its own registry.
"""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp

from mst.errors import MstError
from mst.federated.errors import FederationError
from mst.federated.wire import decode, encode

if TYPE_CHECKING:
    from mst.federated.disclosure import DisclosurePolicy
    from mst.federated.federation import Federation
    from mst.federated.node import Node

RECORD = "mst"
FIELD = "data"
MESSAGE_TYPE = "query"

client_app = ClientApp()
server_app = ServerApp()
_NODES: dict[tuple[Any, ...], Node] = {}


def node_policy(config: dict[str, Any]) -> DisclosurePolicy:
    """The center's disclosure policy from its SuperNode ``--node-config``."""
    from mst.federated.disclosure import DisclosurePolicy

    months = float(config.get("coarsen-months", 0) or 0)
    return DisclosurePolicy(int(config.get("min-cell", 5)), months if months > 0 else None)


def _node(context: Context) -> Node:
    from mst.federated.node import registry_node

    cfg = dict(context.node_config)
    for key in ("center", "db"):
        if key not in cfg:
            raise FederationError("node", f"--node-config lacks {key}")
    key = (cfg["center"], cfg["db"], cfg.get("min-cell"), cfg.get("coarsen-months"))
    if key not in _NODES:
        cache = Path(str(cfg["cache"])) if cfg.get("cache") else None
        _NODES[key] = registry_node(
            str(cfg["db"]), str(cfg["center"]), node_policy(cfg), cache_dir=cache
        )
    return _NODES[key]


@client_app.query()
def answer(msg: Message, context: Context) -> Message:
    """Answer one coordinator query at this center."""
    try:
        data = msg.content[RECORD][FIELD]
        if not isinstance(data, bytes):
            raise FederationError("coordinator", "query without bytes")
        sock = dict(context.node_config).get("socket")
        if sock:  # the center's long-lived node service (mst federated node)
            from mst.federated.local_service import ask_local

            reply = ask_local(str(sock), data)
        else:
            reply = _node(context).handle(data)
    except MstError as exc:
        center = str(dict(context.node_config).get("center", "?"))
        reply = encode({"center": center, "error": str(exc)})
    return Message(RecordDict({RECORD: ConfigRecord({FIELD: reply})}), reply_to=msg)


def _request(grid: Grid, targets: dict[int, bytes], timeout: float) -> dict[int, bytes | Exception]:
    msgs = [
        Message(
            RecordDict({RECORD: ConfigRecord({FIELD: data})}),
            dst_node_id=nid,
            message_type=MESSAGE_TYPE,
        )
        for nid, data in targets.items()
    ]
    out: dict[int, bytes | Exception] = {}
    for rep in grid.send_and_receive(msgs, timeout=timeout):
        nid = rep.metadata.src_node_id
        if rep.has_error():
            out[nid] = FederationError("?", f"node error: {rep.error.reason}")
            continue
        try:
            out[nid] = rep.content[RECORD][FIELD]
        except (KeyError, TypeError) as exc:
            out[nid] = FederationError("?", f"sent a malformed message ({type(exc).__name__})")
    for nid in targets:
        out.setdefault(nid, TimeoutError(f"no answer within {timeout:g} s"))
    return out


def flower_federation(
    grid: Grid, centers: list[str], timeout: float, allow_missing: bool, wait: float
) -> Federation:
    """Discover which SuperNode serves which center, then a federation over the grid."""
    from mst.federated.federation import Federation

    deadline = time.monotonic() + wait
    by_center: dict[str, int] = {}
    policies: dict[str, dict[str, Any]] = {}
    hello = encode({"kind": "hello"})
    asked: set[int] = set()
    while True:
        ids = [n for n in grid.get_node_ids() if n not in asked]
        if ids:
            asked.update(ids)
            for nid, rep in _request(grid, dict.fromkeys(ids, hello), timeout).items():
                if isinstance(rep, Exception):
                    asked.discard(nid)
                    continue
                msg = decode(rep, f"node {nid}")
                if "error" in msg or msg.get("center") not in centers:
                    continue
                by_center[str(msg["center"])] = nid
                policies[str(msg["center"])] = dict(msg.get("policy", {}))
        if set(by_center) >= set(centers) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    missing = [c for c in centers if c not in by_center]
    if missing and not allow_missing:
        raise FederationError(
            missing[0],
            "did not join the federation (SuperNode down, "
            f"or not configured for this center; missing: {', '.join(missing)})",
        )
    if not by_center:
        raise FederationError("coordinator", "no center answered")

    def send_many(requests: dict[str, bytes]) -> dict[str, bytes | Exception]:
        got = _request(grid, {by_center[c]: d for c, d in requests.items()}, timeout)
        return {c: got[by_center[c]] for c in requests}

    def send(center: str, data: bytes) -> bytes:
        rep = send_many({center: data})[center]
        if isinstance(rep, Exception):
            raise rep
        return rep

    fed = Federation(send, sorted(by_center), allow_missing=allow_missing, send_many=send_many)
    fed.missing = missing
    fed.policies = policies
    fed._started = True
    return fed


@server_app.main()
def main(grid: Grid, context: Context) -> None:
    """Run the analyses of the request file; write the results (or the error) as JSON."""
    from mst.cli.common import to_json
    from mst.federated.analyses import Options, run_federated

    request_file = Path(str(context.run_config["request-file"]))
    req = json.loads(request_file.read_text(encoding="utf-8"))
    out_path = Path(req["out"])
    try:
        fed = flower_federation(
            grid,
            list(req["centers"]),
            float(req.get("timeout", 60)),
            bool(req.get("allow_missing", False)),
            float(req.get("wait", 60)),
        )
        results = []
        for item in req["analyses"]:
            opts = Options(
                **{k: (tuple(v) if k == "codes" else v) for k, v in item["options"].items()}
            )
            results.append(run_federated(fed, item["analysis"], opts, split_by=req.get("split_by")))
        out: dict[str, Any] = {
            "results": results,
            "centers": fed.centers,
            "missing_centers": fed.missing,
            "policies": fed.policies,
            "bytes_to_nodes": fed.bytes_to_nodes,
            "bytes_from_nodes": fed.bytes_from_nodes,
            "queries": fed.queries,
            "notes": fed.notes,
        }
    except MstError as exc:
        out = {"error": str(exc)}
    except Exception as exc:  # reported to the coordinator's CLI, never a silent stop
        out = {
            "error": f"internal error ({type(exc).__name__}: {exc})",
            "trace": traceback.format_exc(limit=5),
        }
    tmp = out_path.with_suffix(".part")
    tmp.write_text(to_json(out), encoding="utf-8")
    tmp.replace(out_path)
