"""A node that is down, slow or malformed gives an error naming the center; nothing is
silently computed on a subset of centers."""

from __future__ import annotations

import pandas as pd
import pytest

from mst.federated.analyses import Options, run_federated, run_pooled
from mst.federated.errors import FederationError
from mst.federated.federation import Federation
from mst.federated.simulation import simulated_federation
from mst.federated.wire import decode, encode

from .conftest import as_json, assert_same

KM = Options(time="os_months", event="os_event", group="age_group")


def test_down_node_is_an_error_naming_it(flat: pd.DataFrame) -> None:
    fed, _ = simulated_federation(flat, "center_id", down={"C02"})
    with pytest.raises(FederationError, match=r"^center C02: did not answer"):
        run_federated(fed, "km", KM)


def test_allow_missing_leaves_the_center_out_and_says_so(flat: pd.DataFrame) -> None:
    fed, _ = simulated_federation(flat, "center_id", down={"C02"}, allow_missing=True)
    got = run_federated(fed, "km", KM)
    assert fed.missing == ["C02"] and fed.centers == ["C01", "C03"]
    rest = flat[flat["center_id"] != "C02"]
    assert_same(as_json(got), as_json(run_pooled(rest, "km", KM)))


def test_slow_node_times_out_naming_it(flat: pd.DataFrame) -> None:
    _, nodes = simulated_federation(flat, "center_id")

    def send(center: str, data: bytes) -> bytes:
        if center == "C03":
            raise TimeoutError("no answer within 30 s")
        return nodes[center].handle(data)

    with pytest.raises(FederationError, match=r"center C03: did not answer \(TimeoutError"):
        run_federated(Federation(send, ["C01", "C02", "C03"]), "km", KM)


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda b: b"not a message", "malformed message"),
        (lambda b: b[: len(b) // 2], "malformed message"),
        (lambda b: encode({**decode(b, "x"), "center": "C09"}), "answered as center 'C09'"),
        (
            lambda b: encode({k: v for k, v in decode(b, "x").items() if k != "count"}),
            "no field count",
        ),
        (
            lambda b: encode({**decode(b, "x"), "time": decode(b, "x")["time"][:-1]}),
            "lengths differ",
        ),
    ],
)
def test_malformed_reply_is_an_error_naming_the_center(
    flat: pd.DataFrame, corrupt: object, message: str
) -> None:
    _, nodes = simulated_federation(flat, "center_id")

    def send(center: str, data: bytes) -> bytes:
        reply = nodes[center].handle(data)
        if center == "C02" and decode(data, "coordinator")["kind"] != "hello":
            return corrupt(reply)  # type: ignore[operator]
        return reply

    with pytest.raises(FederationError, match=rf"center C02: .*{message}"):
        run_federated(Federation(send, ["C01", "C02", "C03"]), "km", KM)


def test_bad_query_is_answered_with_an_error_not_a_traceback(flat: pd.DataFrame) -> None:
    fed, nodes = simulated_federation(flat, "center_id")
    reply = decode(nodes["C01"].handle(encode({"kind": "drop_table"})), "C01")
    assert reply == {"center": "C01", "error": "unknown query kind 'drop_table'"}
    reply = decode(nodes["C01"].handle(b"garbage"), "C01")
    assert "malformed" in reply["error"]
    with pytest.raises(
        FederationError, match=r"center C01: cannot answer outcome_counts: .*no_such"
    ):
        run_federated(fed, "km", Options(time="no_such", event="os_event"))
