"""Deployment helpers: TLS material, the Flower app directory, process command lines,
and submitting a run to the SuperLink with ``flwr run``.

The coordinating center runs the SuperLink (it also runs the ServerApp, so results are
written on its disk); every center runs one SuperNode next to its registry.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from mst.errors import ValidationError
from mst.federated.errors import FederationError

APP_MODULE = "mst_federated_app"
PYPROJECT = """[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "mst-federated"
version = "1.0.0"
description = "mst federated survival statistics (ServerApp + ClientApp)"
license = "MIT"
dependencies = []

[tool.flwr.app]
publisher = "mst"

[tool.flwr.app.components]
serverapp = "{module}:server_app"
clientapp = "{module}:client_app"

[tool.flwr.app.config]
request-file = ""
"""


def write_app(directory: Path) -> Path:
    """Write the Flower app directory (pyproject + a module re-exporting the two apps)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pyproject.toml").write_text(PYPROJECT.format(module=APP_MODULE), "utf-8")
    (directory / f"{APP_MODULE}.py").write_text(
        '"""Flower components of mst (see mst.federated.flower_app)."""\n\n'
        "from mst.federated.flower_app import client_app, server_app\n\n"
        '__all__ = ["client_app", "server_app"]\n',
        "utf-8",
    )
    return directory


def make_tls(
    directory: Path, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
) -> dict[str, Path]:
    """A private certificate authority and a server certificate for the SuperLink.

    Returns
    -------
    dict
        Paths ``ca``, ``cert``, ``key`` (PEM). Centers get ``ca`` to verify the SuperLink.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mst federation CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {
        "ca": directory / "ca.pem",
        "cert": directory / "server.pem",
        "key": directory / "server.key",
    }
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def _exe(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ValidationError(name, None, "not found: install the Flower engine (pip install flwr)")
    return path


def superlink_command(
    state_dir: Path, tls: dict[str, Path] | None, host: str, port: int
) -> list[str]:
    """Command line of the coordinator's SuperLink (one port: Fleet, Control and ServerApp
    APIs; TLS with the given certificate unless ``tls`` is None)."""
    cmd = [
        _exe("flower-superlink"),
        "--host",
        host,
        "--port",
        str(port),
        "--database",
        str(state_dir / "superlink.db"),
        "--disable-runtime-dependency-installation",
    ]
    if tls is None:
        return [*cmd, "--insecure"]
    return [
        *cmd,
        "--ssl-ca-certfile",
        str(tls["ca"]),
        "--ssl-certfile",
        str(tls["cert"]),
        "--ssl-keyfile",
        str(tls["key"]),
    ]


def supernode_command(
    link: str,
    center: str,
    db: str,
    ca: Path | None,
    port: int,
    min_cell: int,
    coarsen_months: float | None,
    cache: Path | None = None,
    socket: Path | None = None,
    secure_only: bool = False,
) -> list[str]:
    """Command line of a center's SuperNode (its ClientApp answers from ``db``)."""
    if "'" in db or "'" in center:
        raise ValidationError("--db/--center", None, "must not contain a single quote")
    config = (
        f"center='{center}' db='{db}' min-cell={int(min_cell)} "
        f"coarsen-months={float(coarsen_months or 0)}"
    )
    if cache is not None:
        config += f" cache='{cache}'"
    if socket is not None:
        config += f" socket='{socket}'"
    if secure_only:
        config += " secure-only=true"
    cmd = [
        _exe("flower-supernode"),
        "--superlink",
        link,
        "--node-config",
        config,
        "--port",
        str(port),
    ]
    return [*cmd, "--insecure"] if ca is None else [*cmd, "--root-certificates", str(ca)]


def flwr_home(directory: Path, control: str, ca: Path | None) -> Path:
    """A Flower CLI home whose default connection is this SuperLink's Control API."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = ["[superlink]", 'default = "mst"', "", "[superlink.mst]", f'address = "{control}"']
    lines.append("insecure = true" if ca is None else f'root-certificates = "{ca}"')
    (directory / "config.toml").write_text("\n".join(lines) + "\n", "utf-8")
    return directory


def submit(
    request: dict[str, Any], work: Path, control: str, ca: Path | None, wait: float = 600.0
) -> dict[str, Any]:
    """Submit one run (``flwr run``) and wait for the ServerApp's result file.

    Raises
    ------
    FederationError
        The run could not be submitted, timed out, or the ServerApp reported an error.
    """
    work.mkdir(parents=True, exist_ok=True)
    app = write_app(work / "app")
    out = work / f"result-{time.time_ns()}.json"
    req_file = out.with_suffix(".request.json")
    req_file.write_text(json.dumps({**request, "out": str(out)}), "utf-8")
    env = {**os.environ, "FLWR_HOME": str(flwr_home(work / "flwr-home", control, ca))}
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    cmd = [_exe("flwr"), "run", str(app), "mst", "--run-config", f"request-file='{req_file}'"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise FederationError("coordinator", "the SuperLink refused the run: " + " / ".join(tail))
    deadline = time.monotonic() + wait
    while not out.exists():
        if time.monotonic() > deadline:
            raise FederationError("coordinator", f"no result within {wait:g} s")
        time.sleep(0.2)
    result = json.loads(out.read_text("utf-8"))
    if "error" in result:
        raise FederationError("coordinator", f"the run failed: {result['error']}")
    return result


def python_env() -> dict[str, str]:
    """Environment for engine processes: this interpreter's ``mst`` importable."""
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p)
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def wait_for_port(host: str, port: int, timeout: float = 90.0) -> None:
    """Wait until something listens on ``host:port`` (the SuperLink takes seconds to start)."""
    import socket

    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise FederationError("coordinator", f"nothing listens on {host}:{port}") from None
            time.sleep(0.3)
