"""The center's node process: holds the :class:`~mst.federated.node.Node` (and its table) in
memory and answers over a Unix socket that only the center's own machine can reach.

Flower starts a fresh ClientApp process for every message; that process only forwards the
query bytes to this long-lived service and returns the reply bytes, so a query costs no
re-import of the statistics stack and no re-read of the registry. The socket file is
created with mode 0600 inside a directory of the node's choosing.
"""

from __future__ import annotations

import os
import socket
import socketserver
import struct
import threading
from pathlib import Path

from mst.federated.errors import FederationError
from mst.federated.node import Node

_LEN = struct.Struct("!Q")
MAX_MESSAGE = 1 << 31


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise ConnectionError("connection closed")
        buf.extend(chunk)
    return bytes(buf)


def send_frame(sock: socket.socket, data: bytes) -> None:
    """Write one length-prefixed frame."""
    sock.sendall(_LEN.pack(len(data)) + data)


def recv_frame(sock: socket.socket) -> bytes:
    """Read one length-prefixed frame."""
    (n,) = _LEN.unpack(_recv_exact(sock, _LEN.size))
    if n > MAX_MESSAGE:
        raise ConnectionError("frame too large")
    return _recv_exact(sock, n)


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        node: Node = self.server.node  # type: ignore[attr-defined]
        lock: threading.Lock = self.server.lock  # type: ignore[attr-defined]
        try:
            request = recv_frame(self.request)
        except ConnectionError:
            return
        with lock:  # one query at a time: the audit trail is written in order
            reply = node.handle(request)
        send_frame(self.request, reply)


class NodeService(socketserver.ThreadingUnixStreamServer):
    """Serve ``node`` on the Unix socket ``path``."""

    daemon_threads = True

    def __init__(self, path: Path, node: Node) -> None:
        path = Path(path)
        if path.exists():
            path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        old = os.umask(0o177)
        try:
            super().__init__(str(path), _Handler)
        finally:
            os.umask(old)
        self.node = node
        self.lock = threading.Lock()
        self.path = path


def ask_local(path: str | Path, request: bytes, timeout: float = 600.0) -> bytes:
    """Forward ``request`` to the node service at ``path`` and return its reply."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(str(path))
            send_frame(s, request)
            return recv_frame(s)
    except OSError as exc:
        raise FederationError("node", f"the center's node service is not running ({exc})") from exc
