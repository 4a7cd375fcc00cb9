"""The federation on one machine through Flower's own simulation runtime (Ray backend).

One virtual SuperNode per center: Flower's simulation runtime starts the nodes as Ray
actors (separate processes), numbers them with ``partition-id`` 0..n−1, and routes every
message through its in-memory SuperLink, as in a deployment. Virtual node *i* answers for
the *i*-th center (sorted) from that center's rows only, which :func:`run_flower_simulation`
writes to a private temporary directory beforehand (one file per center; a node reads only
its own). The ServerApp is the deployment's coordinator (:func:`flower_federation`), so the
simulation and the deployment exchange the same messages.

Requires ``flwr[simulation]`` (Ray); see docs/federated.md.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from mst.errors import ValidationError
from mst.federated.disclosure import DisclosurePolicy
from mst.federated.errors import FederationError
from mst.federated.federation import Federation
from mst.federated.simulation import Observer, split_table

T = TypeVar("T")


def ray_available() -> bool:
    """Whether Flower's simulation runtime (flwr with Ray) can be imported."""
    import importlib.util

    return (
        importlib.util.find_spec("ray") is not None and importlib.util.find_spec("flwr") is not None
    )


def _client_app(
    data_dir: str, centers: list[str], policies: dict[str, tuple[int, float | None, bool]]
) -> Any:
    """A ClientApp whose virtual node ``partition-id = i`` is center ``centers[i]``."""
    from flwr.app import ConfigRecord, Context, Message, RecordDict
    from flwr.client.mod import secaggplus_mod
    from flwr.clientapp import ClientApp

    from mst.federated.flower_app import FIELD, RECORD, secure_reply

    app = ClientApp()
    nodes: dict[str, Any] = {}  # per actor process: the center's node, built once

    def node(center: str) -> Any:
        from mst.federated.node import Node

        if center not in nodes:
            table = pd.read_pickle(Path(data_dir) / f"{centers.index(center)}.pkl")
            min_cell, months, secure_only = policies[center]
            nodes[center] = Node(center, table, DisclosurePolicy(min_cell, months, secure_only))
        return nodes[center]

    @app.train(mods=[secaggplus_mod])
    def secure_answer(msg: Message, context: Context) -> Message:
        center = centers[int(context.node_config["partition-id"])]
        return secure_reply(msg, node(center).handle, center)

    @app.query()
    def answer(msg: Message, context: Context) -> Message:
        from mst.errors import MstError
        from mst.federated.wire import encode

        center = centers[int(context.node_config["partition-id"])]
        try:
            data = msg.content[RECORD][FIELD]
            if not isinstance(data, bytes):
                raise FederationError("coordinator", "query without bytes")
            reply = node(center).handle(data)
        except MstError as exc:
            reply = encode({"center": center, "error": str(exc)})
        return Message(RecordDict({RECORD: ConfigRecord({FIELD: reply})}), reply_to=msg)

    return app


def run_flower_simulation(
    df: pd.DataFrame,
    split_by: str,
    work: Callable[[Federation], T],
    policies: Mapping[str, DisclosurePolicy] | DisclosurePolicy | None = None,
    observer: Observer | None = None,
    timeout: float = 300.0,
    num_cpus: int | None = None,
    secure: bool = False,
    message_observer: Callable[[Any], None] | None = None,
) -> tuple[T, Federation]:
    """Run ``work(federation)`` in a ServerApp over Flower's simulation runtime.

    Parameters
    ----------
    df : DataFrame
        The pooled table; split by ``split_by`` into one virtual node per center.
    split_by : str
        Center column.
    work : callable
        Runs the analyses with the federation (inside the ServerApp); its value is returned.
    policies : DisclosurePolicy or mapping, optional
        Disclosure rules (one for all, or per center; default: minimum cell 1).
    observer : callable, optional
        Called with (center, bytes) for every reply that reaches the coordinator.
    timeout : float
        Seconds to wait for each node's answer.
    num_cpus : int, optional
        CPUs Ray may use (default: all of this machine's, at most the number of centers).
    secure : bool
        Receive the counts only as totals through Flower's SecAgg+ (:mod:`mst.federated.secure`).
    message_observer : callable, optional
        Called with every Flower message that reaches the coordinator (plain replies and
        every stage of SecAgg+), for tests of what the coordinator receives.

    Returns
    -------
    tuple
        ``work``'s value and the federation (queries, bytes, policies).

    Raises
    ------
    ValidationError
        Flower's simulation runtime (Ray) is not installed.
    FederationError
        A node failed (named), or the runtime stopped without a result.
    """
    if not ray_available():
        raise ValidationError(
            "engine",
            None,
            "Flower's simulation runtime needs Ray: pip install 'flwr[simulation]' "
            "(see docs/federated.md)",
        )
    from flwr.app import Context
    from flwr.serverapp import Grid, ServerApp
    from flwr.simulation import run_simulation

    from mst.federated.flower_app import flower_federation

    parts = split_table(df, split_by)
    centers = sorted(parts)
    pol: dict[str, tuple[int, float | None, bool]] = {}
    for c in centers:
        if isinstance(policies, DisclosurePolicy):
            p = policies
        elif policies is not None and c in policies:
            p = policies[c]
        else:
            p = DisclosurePolicy(min_cell=1)
        pol[c] = (p.min_cell, p.coarsen_months, p.secure_only)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mst-flower-sim-") as tmp:
        os.chmod(tmp, 0o700)
        for i, c in enumerate(centers):
            parts[c].reset_index(drop=True).to_pickle(Path(tmp) / f"{i}.pkl")
        server = ServerApp()

        @server.main()
        def main(grid: Grid, context: Context) -> None:
            if message_observer is not None:
                receive = grid.send_and_receive

                def observed_receive(messages: Any, *, timeout: float | None = None) -> Any:
                    replies = list(receive(messages, timeout=timeout))
                    for m in replies:
                        message_observer(m)
                    return replies

                grid.send_and_receive = observed_receive  # type: ignore[method-assign]
            try:
                fed = flower_federation(grid, centers, timeout, False, timeout, secure)
                if observer is not None:
                    inner = fed.send_many
                    assert inner is not None

                    def observed(req: dict[str, bytes]) -> dict[str, bytes | Exception]:
                        got = inner(req)
                        for c, rep in got.items():
                            if isinstance(rep, bytes):
                                observer(c, rep)
                        return got

                    fed.send_many = observed
                out["fed"] = fed
                out["value"] = work(fed)
            except Exception as exc:  # handed back to the caller below
                out["error"] = exc

        cpus = num_cpus or max(1, min(os.cpu_count() or 1, len(centers)))
        backend = {
            "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
            "init_args": {"num_cpus": cpus, "logging_level": logging.ERROR},
        }
        flwr_log = logging.getLogger("flwr")
        level = flwr_log.level
        flwr_log.setLevel(logging.ERROR)  # not the deprecation notice of run_simulation
        os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
        try:
            run_simulation(server, _client_app(tmp, centers, pol), len(centers), "ray", backend)
        finally:
            flwr_log.setLevel(level)
            _shutdown_ray()
    if "error" in out:
        raise out["error"]
    if "value" not in out:
        raise FederationError("coordinator", "Flower's simulation runtime stopped without a result")
    return out["value"], out["fed"]


def _shutdown_ray() -> None:
    import ray

    if ray.is_initialized():
        ray.shutdown()
