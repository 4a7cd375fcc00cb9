"""Load test of the web app on loopback: 20 concurrent clients for 60 s (issue 8).

Loads the demo cohort (360 patients, seed 2023, as ``mst demo``) into a temporary SQLite
registry, serves the app with uvicorn, logs in as a clinician, and drives it with ``wrk``
(Debian package ``wrk``) — bounded in connections and time, loopback only. Two scenarios:

* **clinicians** — 20 clients, each pausing a uniform 0–2 × ``--think`` ms (mean 1,000 ms;
  fixed seeds, so every run pauses alike) after every response: 20 people using the app;
* **saturation** — the same 20 connections with no pause: the server's capacity on this
  2-core machine (wrk shares the cores), where latency is queueing (≈ 20 / throughput).

Prints, per page and scenario, requests per second and the 50th/95th/99th latency
percentiles; the static stylesheet is the floor of the server stack in the same run.

Run: ``python benchmarks/web_load.py [--seconds 60] [--connections 20] [--think 1000]``.
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
from pathlib import Path

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


def _prepare(db_url: str) -> None:
    from mst.registry import open_registry
    from mst.registry.users import UserStore
    from mst.simulate import simulate_cohort

    with open_registry(db_url, user="benchmark") as reg:
        reg.import_cohort(simulate_cohort(n=360, seed=2023, n_centers=4))
        UserStore(reg.engine).add_user("bench", "load-test-secret-42", "clinician", "C01")


def _login(base: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    html = opener.open(f"{base}/login").read().decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token, "no CSRF token on the login page"
    data = urllib.parse.urlencode(
        {
            "username": "bench",
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
            "-t2",
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
    return {
        "requests": int(n),
        "errors": int(errors),
        "rps": float(rps),
        "p50": float(p50),
        "p95": float(p95),
        "p99": float(p99),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--connections", type=int, default=20)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--think", type=int, default=1000, help="pause after each response, ms")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        t0 = time.perf_counter()
        _prepare(db_url)
        load_s = time.perf_counter() - t0
        port = _free_port()
        env = {
            **os.environ,
            "MST_DATABASE_URL": db_url,
            "MST_SECRET_KEY": "benchmark-secret",
            "MST_INSECURE_COOKIES": "1",
        }
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "mst.web.app:app_from_env",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"{base}/login", timeout=1).read()
                    break
                except OSError:
                    time.sleep(0.1)
            cookie = _login(base)
            saturation = Path(tmp) / "saturation.lua"
            saturation.write_text(LUA)
            clinicians = Path(tmp) / "clinicians.lua"
            clinicians.write_text(THINK.replace("{think}", str(args.think)) + LUA)
            pages = {
                "static stylesheet (floor)": "/static/style.css",
                "patient page": "/patients/C01-0001",
                "patient list (center C01)": "/patients",
                "API patient record (JSON)": "/api/patients/C01-0001",
            }
            rows = []
            for scenario, script in (("clinicians", clinicians), ("saturation", saturation)):
                for label, path in pages.items():
                    req = urllib.request.Request(base + path, headers={"Cookie": cookie})
                    urllib.request.urlopen(req).read()
                    result = _wrk(base + path, cookie, args.seconds, args.connections, script)
                    rows.append((scenario, label, result))
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"demo cohort loaded in {load_s:.1f} s; {args.connections} concurrent connections, "
        f"{args.seconds} s per page, uvicorn workers: {args.workers}, loopback only\n"
    )
    print("| scenario | page | requests | errors | req/s | p50 ms | p95 ms | p99 ms |")
    print("|---|---|---|---|---|---|---|---|")
    for scenario, label, r in rows:
        print(
            f"| {scenario} | {label} | {r['requests']} | {r['errors']} | {r['rps']:.0f} | "
            f"{r['p50']:.1f} | {r['p95']:.1f} | {r['p99']:.1f} |"
        )
    patient = next(r for sc, label, r in rows if sc == "clinicians" and label == "patient page")
    verdict = "meets" if patient["p95"] < 100 else "MISSES"
    print(
        f"\n20 clinicians ({args.think} ms think time): patient page p95 = "
        f"{patient['p95']:.1f} ms, {verdict} the < 100 ms target"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
