"""Load test of the web app on loopback: 20 concurrent clients on every page and API route.

Loads the demo cohort (360 patients, seed 2023, as ``mst demo``) into a temporary SQLite
registry, serves the app with uvicorn, logs in as a clinician, and drives it with ``wrk``
(Debian package ``wrk``) — bounded in connections and time, loopback only. Two scenarios:

* **clinicians** — 20 clients, each pausing a uniform 0–2 × ``--think`` ms (mean 1,000 ms;
  fixed seeds, so every run pauses alike) after every response: 20 people using the app;
* **saturation** — the same 20 connections with no pause: the server's capacity on this
  2-core machine (wrk shares the cores), where latency is queueing (≈ 20 / throughput).

Prints, per route and scenario, requests per second, the 50th/95th/99th latency
percentiles and the p95 as a multiple of the static stylesheet's p95 in the same run (the
floor of the server stack; target: at most 3×). Then the **single-request service time**
(one connection, no pause: median latency) of every route — target under 20 ms for the
patient list, the patient page and the API record at 360 patients — at each registry size
given with ``--patients`` (the first size also gets the load test). Sizes above 360 are the
demo cohort replicated under new ids (``C01-0001-r7`` …) and imported, one transaction per
copy, by the repository's own audited import: about a minute per thousand patients on the
shared development machine, so ``--keep DIR`` keeps the built registries for the next run,
and ``--registry URL`` measures an existing registry instead (e.g. one made by ``mst import``
of a simulated 10,000-patient file; the benchmark's login user is added to it).

Before a route is measured at a registry size, one request is sent to a freshly started
server and timed on its own: the **first request**, which builds the route's caches (at
10,000 patients the cohort page reads the whole registry), with a timeout of
``--first-timeout`` seconds (default 900). Its time is reported in its own table; the
measured figures are of the warmed server, as a user's later requests are.

Run: ``python benchmarks/web_load.py [--patients 360 10000] [--registry URL …]
[--seconds 20] [--connections 20] [--think 1000] [--keep DIR] [--first-timeout 900]
[--service-only]`` (``--service-only``: first-request and service times, no load test).
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

THINK = """
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
init = function(args)
  math.randomseed(seed)  -- fixed per thread: the same pauses in every run
end
delay = function()
  return math.random(0, 2 * {think})  -- uniform pause, mean {think} ms: clients not in lockstep
end
"""

LUA = """
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d %d %.1f %.1f %.1f %.1f\\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prepare(db_url: str, n_patients: int = 360) -> None:
    """The demo cohort (360 patients), replicated under new ids up to ``n_patients``."""
    from mst.domain import Cohort
    from mst.registry import open_registry
    from mst.registry.users import UserStore
    from mst.simulate import simulate_cohort

    demo = simulate_cohort(n=360, seed=2023, n_centers=4)
    with open_registry(db_url, user="benchmark") as reg:
        reg.import_cohort(Cohort(centers=demo.centers, records=demo.records[:n_patients]))
        done, copy = min(n_patients, 360), 1
        while done < n_patients:  # one transaction per copy of the demo cohort
            need = min(360, n_patients - done)
            records = tuple(_renamed(r, f"-r{copy}") for r in demo.records[:need])
            reg.import_cohort(Cohort(centers=demo.centers, records=records))
            done, copy = done + need, copy + 1
        UserStore(reg.engine).add_user("loaduser", "load-test-secret-42", "clinician", "C01")


def _registry(directory: Path, n_patients: int) -> tuple[str, float | None]:
    """URL of a registry of ``n_patients`` in ``directory`` (built unless kept from a run
    of the same mst version) and the seconds its import took (``None`` when reused)."""
    from mst import __version__

    path = directory / f"web_load-{n_patients}-mst{__version__}.sqlite"
    url = f"sqlite:///{path}"
    if path.exists():
        return url, None
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    t0 = time.perf_counter()
    _prepare(f"sqlite:///{partial}", n_patients)
    partial.rename(path)
    return url, time.perf_counter() - t0


def _existing(url: str) -> int:
    """Number of patients of an existing registry; adds the benchmark's login user."""
    from mst.registry import open_registry
    from mst.registry.users import UserStore

    with open_registry(url, user="benchmark") as reg:
        n = reg.counts()["patients"]
        if "C01" not in {c.id for c in reg.centers()}:
            raise SystemExit(f"{url}: the benchmark needs center C01 and patient C01-0001")
        reg.get_record("C01-0001")
        store = UserStore(reg.engine)
        if store.get("loaduser") is None:
            store.add_user("loaduser", "load-test-secret-42", "clinician", "C01")
    return n


def _renamed(record: Any, suffix: str) -> Any:
    """The same record under a new patient id (and donor ids) — for a larger registry."""
    pid = record.patient.id + suffix
    donor = {d.id: d.id + suffix for d in record.donors}

    def child(item: Any, **extra: Any) -> Any:
        return item.model_copy(update={"patient_id": pid, **extra})

    return record.model_copy(
        update={
            "patient": record.patient.model_copy(update={"id": pid}),
            "donors": tuple(child(d, id=donor[d.id]) for d in record.donors),
            "courses": tuple(child(c) for c in record.courses),
            "infusions": tuple(child(i, donor_id=donor[i.donor_id]) for i in record.infusions),
            "labs": tuple(
                child(x, donor_id=donor.get(x.donor_id) if x.donor_id else None)
                for x in record.labs
            ),
            "events": tuple(child(e) for e in record.events),
            "responses": tuple(child(r) for r in record.responses),
            "antibodies": tuple(child(a) for a in record.antibodies),
        }
    )


def _login(base: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token, "no CSRF token on the login page"
    data = urllib.parse.urlencode(
        {
            "username": "loaduser",
            "password": "load-test-secret-42",
            "csrf_token": token.group(1),
            "next": "/patients",
        }
    ).encode()
    opener.open(f"{base}/login", data=data).read()
    cookie = next(c for c in jar if c.name == "mst_session")
    return f"mst_session={cookie.value}"


def _wrk(url: str, cookie: str, seconds: int, connections: int, script: Path) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            "-H",
            f"Cookie: {cookie}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    line = next(ln for ln in out.splitlines() if ln.startswith("RESULT"))
    n, errors, rps, p50, p95, p99 = line.split()[1:]
    if int(n) == 0:  # no answer within the run: not a latency of 0
        p50 = p95 = p99 = "nan"
    return {
        "requests": int(n),
        "errors": int(errors),
        "rps": float(rps),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
    }


PAGES = {
    "static stylesheet (floor)": "/static/style.css",
    "patient list (center C01)": "/patients",
    "patient page": "/patients/C01-0001",
    "patient page, donors": "/patients/C01-0001/donors",
    "patient page, plan": "/patients/C01-0001/plan",
    "patient audit log": "/patients/C01-0001/audit",
    "cohort outcomes": "/cohort",
    "API patient list (JSON)": "/api/patients",
    "API patient record (JSON)": "/api/patients/C01-0001",
    "API audit (JSON)": "/api/patients/C01-0001/audit",
}
SERVICE = ("patient list (center C01)", "patient page", "API patient record (JSON)")


class _Server:
    """uvicorn serving a registry on a loopback port, logged in as a clinician."""

    def __init__(self, db_url: str, workers: int) -> None:
        self.workers = workers
        self.port = _free_port()
        env = {
            **os.environ,
            "MST_DATABASE_URL": db_url,
            "MST_SECRET_KEY": "benchmark-secret",
            "MST_INSECURE_COOKIES": "1",
        }
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "mst.web.app:app_from_env",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
                "--log-level",
                "warning",
                "--no-access-log",
                # a worker starved of CPU on a shared machine (or busy building the 10,000-
                # patient cohort) is not hung: give it a minute, not uvicorn's 5 s, to answer
                "--timeout-worker-healthcheck",
                "60",
            ],
            env=env,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 300  # imports and migrations on a busy shared machine
        while True:
            try:
                urllib.request.urlopen(f"{self.base}/login", timeout=5).read()
                break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.2)
        try:
            self.cookie = _login(self.base)
        except Exception:
            self.close()
            raise

    def get(self, path: str, timeout: float) -> float:
        """Seconds one request of ``path`` takes (an error status fails the benchmark)."""
        req = urllib.request.Request(self.base + path, headers={"Cookie": self.cookie})
        t0 = time.perf_counter()
        with urllib.request.urlopen(req, timeout=timeout) as r:
            r.read()
        return time.perf_counter() - t0

    def warm(self, path: str, timeout: float = 900) -> None:
        """Fill every worker's caches for ``path``: rounds of simultaneous requests on new
        connections (the kernel spreads them over the workers), until a round is fast."""

        def get(_: int) -> float:
            return self.get(path, timeout)

        with ThreadPoolExecutor(4 * self.workers) as pool:
            for _ in range(10):
                if max(pool.map(get, range(4 * self.workers))) < 0.5:
                    break

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def _service_times(
    server: _Server, script: Path, seconds: int, first_timeout: float, failed: dict[str, str]
) -> tuple[dict[str, float], dict[str, float]]:
    """Per route: the first request to the fresh server (ms, caches built) and the median
    latency with one connection and no pause once warmed (the single-request service time).

    A route whose first requests fail (a timeout, or a worker that died — uvicorn kills a
    worker that does not answer its health check for 5 s) gets ``nan`` and its error in
    ``failed``; the other routes are still measured.
    """
    first, out = {}, {}
    for label, path in PAGES.items():
        print(f"  {label} …", file=sys.stderr, flush=True)
        try:
            first[label] = 1000 * server.get(path, first_timeout)
            server.warm(path, first_timeout)
        except OSError as exc:
            failed[label] = f"{type(exc).__name__}: {exc}"
            first[label] = out[label] = float("nan")
            continue
        out[label] = _wrk(server.base + path, server.cookie, seconds, 1, script)["p50"]
    return first, out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--patients",
        type=int,
        nargs="+",
        default=[360],
        help="registry sizes (default 360); the load test runs on the first",
    )
    ap.add_argument("--seconds", type=int, default=20, help="per route and scenario")
    ap.add_argument("--connections", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--think", type=int, default=1000, help="pause after each response, ms")
    ap.add_argument("--keep", type=Path, help="keep (and reuse) the built registries here")
    ap.add_argument(
        "--registry",
        nargs="+",
        default=[],
        metavar="URL",
        help="also measure these existing registries (after the --patients sizes)",
    )
    ap.add_argument(
        "--service-only",
        action="store_true",
        help="only the first-request and single-request service times (no load test)",
    )
    ap.add_argument(
        "--first-timeout",
        type=float,
        default=900,
        help="seconds the first (cache-building) request of a route may take (default 900)",
    )
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    if any(n < 1 for n in args.patients):
        print("--patients: sizes must be at least 1", file=sys.stderr)
        return 2
    rows = []
    service: dict[int, dict[str, float]] = {}
    firsts: dict[int, dict[str, float]] = {}
    failures: dict[int, dict[str, str]] = {}
    loaded: dict[int, float | str | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        saturation = Path(tmp) / "saturation.lua"
        saturation.write_text(LUA)
        clinicians = Path(tmp) / "clinicians.lua"
        clinicians.write_text(THINK.replace("{think}", str(args.think)) + LUA)
        store = args.keep or Path(tmp)
        store.mkdir(parents=True, exist_ok=True)
        plan: list[tuple[int, str]] = []
        for n in args.patients:
            db_url, loaded[n] = _registry(store, n)
            plan.append((n, db_url))
        for db_url in args.registry:
            n = _existing(db_url)
            loaded[n] = db_url
            plan.append((n, db_url))
        for i, (n, db_url) in enumerate(plan):
            server = _Server(db_url, args.workers)
            try:
                print(f"{n} patients:", file=sys.stderr, flush=True)
                failures[n] = {}
                firsts[n], service[n] = _service_times(
                    server, saturation, max(5, args.seconds // 2), args.first_timeout, failures[n]
                )
                if i > 0 or args.service_only:
                    continue
                for scenario, script in (("clinicians", clinicians), ("saturation", saturation)):
                    for label, path in PAGES.items():
                        server.warm(path)
                        result = _wrk(
                            server.base + path,
                            server.cookie,
                            args.seconds,
                            args.connections,
                            script,
                        )
                        rows.append((scenario, label, result))
            finally:
                server.close()
    first = plan[0][0]
    if os.path.exists("/proc/loadavg"):
        with open("/proc/loadavg") as f:
            print("load average at the end (1, 5, 15 min): " + " ".join(f.read().split()[:3]))
    print(
        "registries: "
        + "; ".join(
            f"{n} patients "
            + (
                "reused"
                if s is None
                else f"given ({s})"
                if isinstance(s, str)
                else f"imported in {s:.0f} s"
            )
            for n, s in loaded.items()
        )
    )
    misses = []
    if rows:
        print(
            f"load test at {first} patients (clinician of center C01): {args.connections} "
            f"concurrent connections, {args.seconds} s per route and scenario, uvicorn "
            f"workers: {args.workers}, loopback only\n"
        )
        print(
            "| scenario | route | requests | errors | req/s | p50 ms | p95 ms | p99 ms "
            "| p95 / static |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
    for scenario, label, r in rows:
        floor = next(x for sc, lb, x in rows if sc == scenario and lb.startswith("static"))
        ratio = r["p95"] / floor["p95"] if floor["p95"] > 0 else float("nan")
        if not label.startswith("static") and ratio > 3:
            misses.append(f"{scenario}: {label} ({ratio:.1f}×)")
        print(
            f"| {scenario} | {label} | {r['requests']} | {r['errors']} | {r['rps']:.0f} | "
            f"{r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} | {ratio:.1f}× |"
        )
    print(
        "\nSingle-request service time (one connection, median, ms; target < 20 ms for the "
        "routes marked *):\n"
    )
    sizes = sorted(service)
    print("| route | " + " | ".join(f"{n} patients" for n in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    slow = []
    for label in PAGES:
        mark = " *" if label in SERVICE else ""
        print(f"| {label}{mark} | " + " | ".join(f"{service[n][label]:.1f}" for n in sizes) + " |")
        slow += [
            f"{label} at {n}"
            for n in sizes
            if label in SERVICE and not service[n][label] < 20  # nan: not measured
        ]
    print(
        "\nFirst request to a freshly started server (ms; builds the route's caches, one worker):\n"
    )
    print("| route | " + " | ".join(f"{n} patients" for n in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for label in PAGES:
        print(f"| {label} | " + " | ".join(f"{firsts[n][label]:.0f}" for n in sizes) + " |")
    for n in sizes:
        for label, error in failures[n].items():
            print(f"\nFAILED at {n} patients: {label}: {error}")
    if rows:
        print(
            "\np95 at most 3× the static file's: "
            + ("met on every route" if not misses else "MISSED for " + "; ".join(misses))
        )
    print("service time under 20 ms: " + ("met" if not slow else "MISSED for " + "; ".join(slow)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
