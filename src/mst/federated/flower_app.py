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
#: message ``config`` key of the query bytes inside a SecAgg+ round
SECURE_FIELD = "mst-query"
server_app = ServerApp()
_NODES: dict[tuple[Any, ...], Node] = {}


def node_policy(config: dict[str, Any]) -> DisclosurePolicy:
    """The center's disclosure policy from its SuperNode ``--node-config``."""
    from mst.federated.disclosure import DisclosurePolicy

    months = float(config.get("coarsen-months", 0) or 0)
    return DisclosurePolicy(
        int(config.get("min-cell", 5)),
        months if months > 0 else None,
        bool(config.get("secure-only", False)),
    )


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
        reply = _handler(context)(data)
    except MstError as exc:
        center = str(dict(context.node_config).get("center", "?"))
        reply = encode({"center": center, "error": str(exc)})
    return Message(RecordDict({RECORD: ConfigRecord({FIELD: reply})}), reply_to=msg)


def secure_reply(msg: Message, handle: Any, center: str) -> Message:
    """A center's answer inside a SecAgg+ round: its limb vector as the round's "parameters".

    ``secaggplus_mod`` masks the vector before it leaves the node; a refusal travels as a
    zero vector with the reason in the metrics (so the protocol completes and the
    coordinator names the center).
    """
    import numpy as np
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters
    from flwr.compat.common import recorddict_compat as compat

    fitins = compat.recorddict_to_fitins(msg.content, keep_input=True)
    data = fitins.config.get(SECURE_FIELD)
    size = int(fitins.config.get("mst-size", 0))
    error = ""
    vec = np.zeros(size)
    try:
        if not isinstance(data, bytes):
            raise FederationError("coordinator", "secure round without a query")
        rep = decode(handle(data), center)
        if "error" in rep:
            error = str(rep["error"])
        else:
            vec = np.asarray(rep["secure_vector"], dtype=np.float64)
            if vec.shape != (size,):
                error = "internal error: secure vector of the wrong length"
                vec = np.zeros(size)
    except MstError as exc:
        error = str(exc)
    metrics: dict[str, Any] = {"error": error} if error else {}
    fitres = FitRes(Status(Code.OK, ""), ndarrays_to_parameters([vec]), 1, metrics)
    return Message(compat.fitres_to_recorddict(fitres, keep_input=True), reply_to=msg)


def _handler(context: Context) -> Any:
    sock = dict(context.node_config).get("socket")
    if sock:  # the center's long-lived node service (mst federated node)
        from mst.federated.local_service import ask_local

        return lambda data: ask_local(str(sock), data)
    return _node(context).handle


def _secure_mod() -> list[Any]:
    from flwr.client.mod import secaggplus_mod

    return [secaggplus_mod]


@client_app.train(mods=_secure_mod())
def secure_answer(msg: Message, context: Context) -> Message:
    """This center's part of a SecAgg+ sum."""
    return secure_reply(msg, _handler(context), str(dict(context.node_config).get("center", "?")))


def secagg_sum(
    grid: Grid,
    by_center: dict[str, int],
    request: bytes,
    size: int,
    timeout: float,
    round_no: int,
) -> tuple[Any, int]:
    """Sum the centers' vectors for ``request`` with Flower's SecAgg+ workflow.

    Returns the total (the coordinator never holds a single center's vector) and the number
    of centers whose vectors it contains. SecAgg+ is configured so that its quantisation is
    exact on the limbs of :mod:`mst.federated.secure`.
    """
    import numpy as np
    from flwr.app import ArrayRecord
    from flwr.common import FitIns, Parameters, parameters_to_ndarrays
    from flwr.server import LegacyContext, ServerConfig
    from flwr.server.compat.grid_client_proxy import GridClientProxy
    from flwr.server.strategy import Strategy
    from flwr.server.workflow import SecAggPlusWorkflow
    from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, MAIN_PARAMS_RECORD, Key

    from mst.federated import secure

    run_id = grid.run.run_id
    proxies = {nid: GridClientProxy(nid, grid, run_id) for nid in by_center.values()}
    center_of = {nid: c for c, nid in by_center.items()}

    class _Sum(Strategy):
        def __init__(self) -> None:
            self.total: Any = None
            self.results: list[Any] = []
            self.failures: list[Any] = []

        def initialize_parameters(self, client_manager: Any) -> None:
            return None

        def configure_fit(self, server_round: int, parameters: Any, client_manager: Any) -> Any:
            cfg = {SECURE_FIELD: request, "mst-size": size}
            empty = Parameters(tensors=[], tensor_type="numpy.ndarray")
            return [(p, FitIns(empty, dict(cfg))) for p in proxies.values()]

        def aggregate_fit(self, server_round: int, results: Any, failures: Any) -> Any:
            self.results, self.failures = list(results), list(failures)
            if results:
                self.total = parameters_to_ndarrays(results[0][1].parameters)[0]
            return None, {}

        def configure_evaluate(self, *args: Any) -> Any:
            return []

        def aggregate_evaluate(self, *args: Any) -> Any:
            return None, {}

        def evaluate(self, *args: Any) -> None:
            return None

    strategy = _Sum()
    ctx = Context(run_id=run_id, node_id=0, node_config={}, state=RecordDict(), run_config={})
    ctx.state.config_records[MAIN_CONFIGS_RECORD] = ConfigRecord({Key.CURRENT_ROUND: round_no})
    ctx.state.array_records[MAIN_PARAMS_RECORD] = ArrayRecord()
    legacy = LegacyContext(ctx, ServerConfig(num_rounds=1), strategy)
    workflow = SecAggPlusWorkflow(
        num_shares=1.0,
        reconstruction_threshold=0.66,
        max_weight=1.0,
        clipping_range=secure.CLIPPING_RANGE,
        quantization_range=secure.QUANTIZATION_RANGE,
        modulus_range=secure.MODULUS_RANGE,
        timeout=timeout,
    )
    workflow(grid, legacy)
    for proxy, res in strategy.results:
        err = res.metrics.get("error")
        if err:
            raise FederationError(center_of.get(proxy.node_id, "?"), str(err))
    got = {center_of.get(p.node_id, "?") for p, _ in strategy.results}
    missing = sorted(set(by_center) - got)
    if strategy.total is None or missing:
        raise FederationError(
            missing[0] if missing else "coordinator",
            "did not complete the secure aggregation (SecAgg+)"
            + (f"; missing: {', '.join(missing)}" if missing else ""),
        )
    n = len(strategy.results)
    return np.rint(np.asarray(strategy.total, dtype=np.float64) * n), n


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
    grid: Grid,
    centers: list[str],
    timeout: float,
    allow_missing: bool,
    wait: float,
    secure: bool = False,
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
    if secure:
        if len(by_center) < 2:
            raise FederationError("coordinator", "secure aggregation needs at least two centers")

        def secure_sum(data: bytes, size: int) -> tuple[Any, int]:
            live = {c: by_center[c] for c in fed.centers}
            return secagg_sum(grid, live, data, size, timeout, fed.secure_rounds)

        fed.secure_sum = secure_sum
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
            bool(req.get("secure", False)) or any(i.get("secure") for i in req["analyses"]),
        )
        secure_sum = fed.secure_sum
        results = []
        for item in req["analyses"]:
            opts = Options(
                **{k: (tuple(v) if k == "codes" else v) for k, v in item["options"].items()}
            )
            # SecAgg+ for the whole request, or for this analysis only
            secure = bool(req.get("secure", False)) or bool(item.get("secure", False))
            fed.secure_sum = secure_sum if secure else None
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
            "secure_rounds": fed.secure_rounds,
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
