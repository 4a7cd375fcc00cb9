"""The one timing rule of the benchmarks: every program is run 3 times, the programs
alternating (A B C, A B C, A B C), and the median of its 3 wall-clock times is reported.

Alternating spreads the load of a shared machine over all programs alike; the median
ignores one disturbed run. Programs that run in another process (R) time the fit inside
that process and return the seconds themselves.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

ROUNDS = 3
RULE = "median of 3 runs, programs alternating (A B C, A B C, A B C)"


def alternate(
    programs: dict[str, Callable[[], Any]], rounds: int = ROUNDS
) -> dict[str, tuple[float, Any]]:
    """Run every program ``rounds`` times in alternation; median seconds and last result.

    A program may return ``(seconds, result)`` tagged as ``("self-timed", s, result)`` when
    it timed itself (e.g. inside R); otherwise the wall-clock time of the call is used.
    """
    times: dict[str, list[float]] = {k: [] for k in programs}
    last: dict[str, Any] = {}
    for _ in range(rounds):
        for name, fn in programs.items():
            t0 = time.perf_counter()
            out = fn()
            wall = time.perf_counter() - t0
            if isinstance(out, tuple) and len(out) == 3 and out[0] == "self-timed":
                times[name].append(float(out[1]))
                last[name] = out[2]
            else:
                times[name].append(wall)
                last[name] = out
    return {k: (statistics.median(v), last[k]) for k, v in times.items()}
